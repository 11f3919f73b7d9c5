"""Concurrency on a real server (PostgreSQL): D25's 20 concurrent copies of one id_token and
20 threads x 10 requests. Only 200 / 429, never a 5xx; every success has its own committed sd
row and a distinct jti."""

import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from django.db import connections

from delegation.models import AuditEvent
from tests.delegation.helpers import body_for, id_token_for
from tests.real_parts import needs_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def on_postgres(monkeypatch):
    """PostgreSQL only; server threads close their connection after each request (CONN_MAX_AGE
    0) so the burst holds at most one session per request in flight on the shared server."""
    needs_postgres(
        "concurrent writers: the SQLite test database is in memory with shared-cache table "
        "locks, so parallel writers fail instead of queueing"
    )
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def _post_many(url, bodies, workers):
    def post(body):
        with requests.Session() as session:
            return session.post(url, json=body, timeout=60, headers={"Connection": "close"})

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(post, bodies))


def _jti(response):
    return jwt.decode(response.json()["id_token"], options={"verify_signature": False})["jti"]


def test_d25_twenty_concurrent_copies_of_one_token(on_postgres, live_server, tenant_a, settings):
    """20 concurrent copies of the same valid id_token: 200 each, one audit row each, all jti
    distinct."""
    settings.PUBLIC_BASE_URL = live_server.url
    tenant = tenant_a["tenant"]
    tenant.delegation_rate_limit = 1000
    tenant.save()
    token = id_token_for(tenant, tenant_a["appA"], tenant_a["user"])
    body = body_for(tenant_a["appA"], token, target=tenant_a["apiC"].client_id)
    url = f"{live_server.url}/t/{tenant.slug}/delegation"
    responses = _post_many(url, [body] * 20, workers=20)
    assert [r.status_code for r in responses] == [200] * 20, [r.text[:200] for r in responses]
    jtis = {_jti(r) for r in responses}
    assert len(jtis) == 20
    assert set(AuditEvent.objects.filter(type="sd").values_list("jti", flat=True)) == jtis


def test_twenty_threads_ten_requests_each(on_postgres, live_server, tenant_a, settings):
    """20 threads x 10 requests against a live server: only 200 and 429, no 5xx; exactly the
    limit succeeds (the counter is atomic); the sd rows equal the successes and every jti is
    distinct."""
    settings.PUBLIC_BASE_URL = live_server.url
    if int(time.time()) % 60 > 40:  # keep the burst inside one rate-limit window
        time.sleep(61 - int(time.time()) % 60)
    tenant = tenant_a["tenant"]
    tenant.delegation_rate_limit = 150  # below 200, so both answers occur
    tenant.save()
    token = id_token_for(tenant, tenant_a["appA"], tenant_a["user"])
    body = body_for(tenant_a["appA"], token, target=tenant_a["apiC"].client_id)
    url = f"{live_server.url}/t/{tenant.slug}/delegation"
    responses = _post_many(url, [body] * 200, workers=20)
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    successes = [r for r in responses if r.status_code == 200]
    assert len(successes) == 150
    jtis = [_jti(r) for r in successes]
    assert len(set(jtis)) == len(jtis)
    rows = AuditEvent.objects.filter(type="sd")
    assert rows.count() == len(successes)
    assert set(rows.values_list("jti", flat=True)) == set(jtis)

"""SECURITY-CASES D29 and the limiter's other promises (headers, failures count, cache down).

The clock stands still at ``START``, 10 seconds into a window (time-machine): no case depends
on when the suite runs (a real minute boundary used to split the eleven requests).
"""

import logging

import pytest
import time_machine

from tests.delegation.helpers import assert_error, body_for, delegate, id_token_for, post_json

WINDOW_START = 1_800_000_000  # a multiple of 60
START = WINDOW_START + 10


@pytest.fixture(autouse=True)
def stopped_clock():
    with time_machine.travel(START, tick=False) as clock:
        yield clock


def test_d29_eleventh_request_in_a_minute_is_429(client, tenant_a, audit):
    """11 requests in a minute for the same user and IP: the 11th gets 429 too_many_requests
    with Retry-After and X-RateLimit-Remaining: 0; the first ten carry the limit headers."""
    for n in range(10):
        response = delegate(client, tenant_a)
        assert response.status_code == 200, response.content
        assert response["X-RateLimit-Limit"] == "10"
        assert response["X-RateLimit-Remaining"] == str(9 - n)
        assert response["X-RateLimit-Reset"] == str(WINDOW_START + 60)
        assert "Retry-After" not in response
    response = delegate(client, tenant_a)
    assert_error(response, 429, "too_many_requests")
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["Retry-After"] == "50"  # the window ends 50 seconds after START
    assert len(audit(type="sd")) == 10
    assert [r.error for r in audit(type="fd")] == ["too_many_requests"]


def test_limit_is_per_ip_and_per_user_and_per_tenant_setting(client, tenant_a):
    """Another client IP has its own budget; the tenant's limit setting is honoured."""
    tenant = tenant_a["tenant"]
    tenant.delegation_rate_limit = 2
    tenant.save()
    assert delegate(client, tenant_a).status_code == 200
    assert delegate(client, tenant_a).status_code == 200
    assert delegate(client, tenant_a).status_code == 429
    token = id_token_for(tenant, tenant_a["appA"], tenant_a["user"])
    body = body_for(tenant_a["appA"], token, target=tenant_a["apiC"].client_id)
    response = post_json(client, tenant, body, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == "1"


def test_failed_attempts_count_too(client, tenant_a):
    """Failed attempts of a known client from one IP count: after the limit of bad tokens
    the answer is 429, not another invalid_grant."""
    for _ in range(10):
        assert_error(delegate(client, tenant_a, token="bad.token.x"), 400, "invalid_grant")
    response = delegate(client, tenant_a, token="bad.token.x")
    assert_error(response, 429, "too_many_requests")
    assert "Retry-After" in response


def test_cache_unavailable_is_503(client, tenant_a, settings, audit, caplog):
    """With the shared cache unreachable (a Redis on a closed port) the endpoint answers 503
    temporarily_unavailable with Retry-After and issues nothing."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    caplog.set_level(logging.INFO, logger="delegation")
    settings.CACHE_BREAKER_COOLOFF_SECONDS = 7  # the breaker's cool-off is the Retry-After
    response = delegate(client, tenant_a)
    assert_error(response, 503, "temporarily_unavailable")
    assert response["Retry-After"] == "7"
    assert not audit()  # a server-side failure leaves no row, only its log line
    assert "error=temporarily_unavailable reason=cache_unavailable" in caplog.text


@pytest.mark.parametrize("proxies", [0, 1])
def test_forwarded_for_is_honoured_only_behind_trusted_proxies(
    client, tenant_a, settings, proxies, audit
):
    """X-Forwarded-For is ignored unless TRUSTED_PROXY_COUNT says proxies append to it."""
    settings.TRUSTED_PROXY_COUNT = proxies
    token = id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"])
    body = body_for(tenant_a["appA"], token, target=tenant_a["apiC"].client_id)
    post_json(client, tenant_a["tenant"], body, HTTP_X_FORWARDED_FOR="203.0.113.9")
    (row,) = audit()
    assert row.client_ip == ("203.0.113.9" if proxies else "127.0.0.1")


@pytest.mark.parametrize(
    "case",
    ["unknown_tenant", "wrong_method", "bad_content_type", "malformed", "unknown_client"],
)
def test_every_answer_carries_the_rate_limit_headers(client, tenant_a, case):
    """SPEC 4: every response has X-RateLimit-Limit/Remaining/Reset, also refusals given
    before the limiter ran (they report a window in which nothing was counted)."""
    url = f"/t/{tenant_a['tenant'].slug}/delegation"
    if case == "unknown_tenant":
        response = client.post(
            "/t/no-such-tenant/delegation", "{}", content_type="application/json"
        )
    elif case == "wrong_method":
        response = client.get(url)
    elif case == "bad_content_type":
        response = client.post(url, "client_id=x", content_type="text/plain")
    elif case == "malformed":
        response = client.post(url, "{", content_type="application/json")
    else:
        response = delegate(client, tenant_a, client_id="no-such-client")
    assert response.status_code in (400, 401, 404, 405, 415)
    assert response["X-RateLimit-Limit"] == "10"
    assert response["X-RateLimit-Remaining"] == "10"
    assert response["X-RateLimit-Reset"] == str(WINDOW_START + 60)
    assert "Retry-After" not in response


# --- the counters themselves (delegation.ratelimit.hit / peek) -------------------------------
def test_peek_reports_the_bucket_it_is_asked_about(tenant_a, tenant_b, stopped_clock):
    """peek reads (never counts) the (tenant, client, user, IP) bucket of this window, clamped
    to the limit; any other bucket, the next window or no client reads as fresh."""
    from delegation import ratelimit

    tenant = tenant_a["tenant"]
    bucket = {"client_id": "client-1", "user_id": "auth0|u1", "ip": "192.0.2.1"}
    for n in range(1, 4):
        state = ratelimit.hit(tenant=tenant, **bucket)
        assert (state.limit, state.count, state.reset) == (10, n, WINDOW_START + 60)
    assert ratelimit.peek(tenant=tenant, **bucket) == ratelimit.RateLimitState(
        limit=10, count=3, reset=WINDOW_START + 60
    )
    assert ratelimit.peek(tenant=tenant, **bucket).remaining == 7
    for other in ({"client_id": "client-2"}, {"user_id": "auth0|u2"}, {"ip": "192.0.2.2"}):
        assert ratelimit.peek(tenant=tenant, **{**bucket, **other}).count == 0, other
    assert ratelimit.peek(tenant=tenant_b["tenant"], **bucket).count == 0
    assert ratelimit.peek(tenant=tenant, **{**bucket, "client_id": ""}).count == 0
    assert ratelimit.peek(tenant=None, client_id="client-1") == ratelimit.RateLimitState(
        limit=ratelimit.DEFAULT_LIMIT, count=0, reset=WINDOW_START + 60
    )
    for _ in range(9):
        ratelimit.hit(tenant=tenant, **bucket)
    assert ratelimit.hit(tenant=tenant, **bucket).count == 13
    assert ratelimit.peek(tenant=tenant, **bucket).count == 10  # clamped to the limit
    stopped_clock.move_to(WINDOW_START + 60)
    assert ratelimit.peek(tenant=tenant, **bucket).count == 0
    assert ratelimit.peek(tenant=tenant, **bucket).reset == WINDOW_START + 120


def test_peek_without_user_or_address_reads_the_clients_anonymous_bucket(tenant_a, stopped_clock):
    """A refusal before the user is known counts in the client's anonymous bucket (no user,
    no address: ``-``); ``peek`` with only the client reads that very bucket."""
    from delegation import ratelimit

    tenant = tenant_a["tenant"]
    for _ in range(2):
        ratelimit.hit(tenant=tenant, client_id="client-1", user_id="", ip="-")
    assert ratelimit.peek(tenant=tenant, client_id="client-1").count == 2
    assert ratelimit.peek(tenant=tenant, client_id="client-1", user_id="auth0|u1").count == 0
    assert ratelimit.peek(tenant=tenant, client_id="client-1", ip="192.0.2.1").count == 0


def test_peek_follows_the_tenants_limit_and_survives_an_unavailable_store(tenant_a, settings):
    from delegation import ratelimit

    tenant = tenant_a["tenant"]
    tenant.delegation_rate_limit = 3
    tenant.save()
    assert ratelimit.peek(tenant=tenant, client_id="c").limit == 3
    ratelimit.hit(tenant=tenant, client_id="c", user_id="", ip="-")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    state = ratelimit.peek(tenant=tenant, client_id="c")
    assert (state.limit, state.count) == (3, 0)  # the count is lost, never the answer


@pytest.mark.django_db
def test_hit_returns_the_versions_it_was_asked_to_read(tenant_a, counter_store):
    """The configuration cache's versions come back from the rate-limit round trip, one per
    key asked for, in order (None for an absent key, and always on the local-memory store)."""
    from delegation import config_cache, ratelimit
    from tenantauth import limiter

    tenant = tenant_a["tenant"]
    bucket = {"client_id": "client-1", "user_id": "auth0|u1", "ip": "192.0.2.1"}
    assert ratelimit.hit(tenant=tenant, **bucket).versions == ()
    keys = (config_cache.version_key(tenant.pk), config_cache.user_version_key(tenant.pk, "u1"))
    if counter_store == "redis":
        limiter.redis_call(lambda client: client.set(keys[0], "v-tenant"))
        state = ratelimit.hit(tenant=tenant, versions=keys, **bucket)
        assert state.versions == ("v-tenant", None)
        assert state.count == 2
    else:
        state = ratelimit.hit(tenant=tenant, versions=("a", "b"), **bucket)
        assert state.versions == (None, None)

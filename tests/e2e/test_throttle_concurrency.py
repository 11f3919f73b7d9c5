"""SECURITY-CASES A12 under concurrency: 20 parallel attempts on every credential path never
let more than the limit through, on a live server (threads) with each counter store, and the
limit is one limit across two worker processes (two gunicorn servers on one Redis)."""

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests
from django.db import connections

from tests.conftest import ADMIN_PASSWORD
from tests.real_parts import needs_postgres
from tests.servers import two_project_servers
from tests.tenantauth.oidc_support import REALM_GRANT, authorize_params

pytestmark = [pytest.mark.e2e]
LIMIT = 10
PARALLEL = 20


def _in_parallel(calls):
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda call: call(), calls))


def _csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def _post(url, *, data, cookies=None):
    def call():
        with requests.Session() as session:
            session.headers["Connection"] = "close"
            return session.post(url, data=data, cookies=cookies, timeout=60, allow_redirects=False)

    return call


def _burst(base: str, setup: dict, path: str) -> list[requests.Response]:
    """PARALLEL wrong attempts (or sign-ups, each of which counts) on one path."""
    tenant = setup["tenant"].slug
    app = setup["appA"]
    if path == "hosted login":
        url = f"{base}/t/{tenant}/authorize?" + urlencode(authorize_params(app, challenge=None))
        with requests.Session() as session:
            token = _csrf(session, url)
            cookies = session.cookies.get_dict()
        data = {"email": setup["user"].email, "password": "wrong!", "csrfmiddlewaretoken": token}
        calls = [_post(url, data=data, cookies=cookies) for _ in range(PARALLEL)]
    elif path == "admin login":
        url = f"{base}/admin/login/"
        with requests.Session() as session:
            token = _csrf(session, url)
            cookies = session.cookies.get_dict()
        data = {
            "username": setup["admin"].username,
            "password": "wrong!",
            "csrfmiddlewaretoken": token,
        }
        calls = [_post(url, data=data, cookies=cookies) for _ in range(PARALLEL)]
    elif path == "dbconnections/signup":
        url = f"{base}/t/{tenant}/dbconnections/signup"
        calls = [
            _post(
                url,
                data={
                    "client_id": app.client_id,
                    "email": f"burst{n}@tenant-a.example",
                    "password": "a long enough passphrase 42",
                    "connection": "Username-Password-Authentication",
                },
            )
            for n in range(PARALLEL)
        ]
    else:
        url = f"{base}/t/{tenant}/oauth/token"
        data = {"client_id": app.client_id, "client_secret": app.client_secret()}
        if path == "oauth/token client secret":
            data.update(grant_type="refresh_token", refresh_token="x", client_secret="wrong" * 9)
        else:
            data.update(
                grant_type=REALM_GRANT if path.endswith("realm") else "password",
                username=setup["user"].email,
                password="wrong!",
                realm="Username-Password-Authentication",
            )
        calls = [_post(url, data=data) for _ in range(PARALLEL)]
    return _in_parallel(calls)


PASSED = {  # what an attempt that got past the throttle answers
    "hosted login": 400,
    "oauth/token password": 400,
    "oauth/token password-realm": 400,
    "admin login": 200,
    "oauth/token client secret": 401,
    "dbconnections/signup": 200,
}


@pytest.fixture
def server(live_server, settings, counter_store, monkeypatch, transactional_db):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.LOGIN_THROTTLE_USER_IP = LIMIT
    settings.CLIENT_AUTH_THROTTLE_CLIENT_IP = LIMIT
    settings.SIGNUP_THROTTLE_IP = LIMIT
    settings.LOGIN_THROTTLE_USER = settings.LOGIN_THROTTLE_IP = 1000
    settings.SIGNUP_THROTTLE_EMAIL = 1000
    # One database session per request in flight, closed after it (as the other e2e tests).
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    return live_server.url


@pytest.mark.parametrize("path", list(PASSED))
def test_a12_twenty_parallel_attempts_never_pass_the_limit(server, tenant_a, path):
    """20 parallel attempts against a limit of 10: exactly 10 reach the check (or the sign-up),
    10 answer 429 with Retry-After, none anything else."""
    needs_postgres(
        "the SQLite test database lives in memory with shared-cache table locks: parallel "
        "requests fail instead of queueing; the two-process test below runs on an SQLite file"
    )
    responses = _burst(server, tenant_a, path)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [PASSED[path]] * LIMIT + [429] * (PARALLEL - LIMIT), statuses
    assert all(int(r.headers["Retry-After"]) > 0 for r in responses if r.status_code == 429)


# --- two worker processes ---------------------------------------------------------------------
@pytest.fixture
def two_workers(tmp_path):
    """Two gunicorn servers (two processes) on one database file and one Redis."""
    limits = {"LOGIN_THROTTLE_USER_IP": str(LIMIT), "SIGNUP_THROTTLE_IP": str(LIMIT)}
    with two_project_servers(tmp_path, limits) as servers:
        yield servers


def test_a12_the_limit_is_shared_by_two_worker_processes(two_workers):
    """20 parallel wrong passwords split over two server processes, then 20 parallel sign-ups:
    exactly the limit passes in total each time, not the limit per process."""
    first, second = two_workers
    setup = first.setup
    data = {
        "grant_type": "password",
        "client_id": setup["appA"],
        "client_secret": setup["appA_secret"],
        "username": setup["email"],
        "password": "wrong!",
    }
    calls = [
        _post(f"{(first, second)[n % 2].base}/t/{setup['slug']}/oauth/token", data=data)
        for n in range(PARALLEL)
    ]
    statuses = sorted(r.status_code for r in _in_parallel(calls))
    assert statuses == [400] * LIMIT + [429] * (PARALLEL - LIMIT), statuses

    signups = [
        _post(
            f"{(first, second)[n % 2].base}/t/{setup['slug']}/dbconnections/signup",
            data={
                "client_id": setup["appA"],
                "email": f"w{n}@e2e.example",
                "password": "a long enough passphrase 42",
                "connection": "Username-Password-Authentication",
            },
        )
        for n in range(PARALLEL)
    ]
    statuses = sorted(r.status_code for r in _in_parallel(signups))
    assert statuses == [200] * LIMIT + [429] * (PARALLEL - LIMIT), statuses
    # And the right password is refused on both processes now (the account-at-address limit).
    for server in (first, second):
        right = requests.post(
            f"{server.base}/t/{setup['slug']}/oauth/token",
            data={**data, "password": setup["password"]},
            timeout=30,
        )
        assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0


def test_admin_login_right_password_still_works_below_the_limit(server, tenant_a):
    """Control for the admin path: the real login goes through the same form."""
    with requests.Session() as session:
        token = _csrf(session, f"{server}/admin/login/")
        response = session.post(
            f"{server}/admin/login/",
            data={
                "username": tenant_a["admin"].username,
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            },
            allow_redirects=False,
            timeout=30,
        )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"

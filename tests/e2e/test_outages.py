"""SECURITY-CASES D32 and the outage half of issue 12: a real server (gunicorn) whose Redis is
stopped or hung, or whose PostgreSQL connections are killed, answers every endpoint within a
second: 503 with Retry-After where the missing store is needed (JSON on the API endpoints, an
HTML page on the hosted login page and the admin), its normal answer where it is not, never a
500; and it recovers by itself.

The stores are the test's own: a ``redis-server`` on its own port (stopped = the process is
gone; hung = SIGSTOP) and, for the database faults, a PostgreSQL cluster of its own.
"""

import os
import re
import time
from urllib.parse import urlencode

import pytest
import requests

from tests.servers import OwnPostgres, OwnRedis, ProjectServer, can_run_postgres, can_run_redis

pytestmark = [pytest.mark.e2e]
BUDGET = 1.0  # seconds: every answer, whatever is down
COOLOFF = 2  # the server's CACHE_BREAKER_COOLOFF_SECONDS
# The probes repeat sign-ups and logins; the throttles are not what is tested here.
GENEROUS_LIMITS = {"SIGNUP_THROTTLE_IP": "100000", "SIGNUP_THROTTLE_EMAIL": "100000"}


class Client:
    """Everything a client, a browser and an admin do against one server, prepared while all
    is well (tokens, cookies, CSRF tokens), then replayable during a fault."""

    def __init__(self, server: ProjectServer):
        self.server = server
        s = self.setup = server.setup
        self.base = f"{server.base}/t/{s['slug']}"
        self.signups = 0
        tokens = self.token().json()
        self.access_token, self.id_token = tokens["access_token"], tokens["id_token"]
        query = {
            "response_type": "code",
            "client_id": s["appA"],
            "redirect_uri": s["callback"],
            "scope": "openid",
            "state": "st",
        }
        self.authorize_url = f"{self.base}/authorize?{urlencode(query)}"
        self.browser = requests.Session()
        self.login_csrf = self._csrf(self.browser, self.authorize_url)
        self.admin = requests.Session()
        token = self._csrf(self.admin, f"{server.base}/admin/login/")
        logged_in = self.admin.post(
            f"{server.base}/admin/login/",
            data={
                "username": s["admin"],
                "password": s["admin_password"],
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert logged_in.status_code == 302, logged_in.text[:300]

    @staticmethod
    def _csrf(session, url) -> str:
        page = session.get(url, timeout=10)
        assert page.status_code == 200, page.text[:300]
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def token(self):
        s = self.setup
        return requests.post(
            f"{self.base}/oauth/token",
            data={
                "grant_type": "password",
                "client_id": s["appA"],
                "client_secret": s["appA_secret"],
                "username": s["email"],
                "password": s["password"],
                "scope": "openid",
            },
            timeout=10,
        )

    def endpoints(self) -> dict:
        """name -> (needs Redis, needs PostgreSQL, HTML page?, call)."""
        s, base, server = self.setup, self.base, self.server.base

        def signup():
            self.signups += 1
            return requests.post(
                f"{base}/dbconnections/signup",
                data={
                    "client_id": s["appA"],
                    "email": f"o{self.signups}-{time.time()}@e.example",
                    "password": "a long enough passphrase 42",
                    "connection": "Username-Password-Authentication",
                },
                timeout=10,
            )

        def client_secret():
            return requests.post(
                f"{base}/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": s["appA"],
                    "client_secret": s["appA_secret"],
                    "refresh_token": "none",
                },
                timeout=10,
            )

        def hosted_login_post():
            return self.browser.post(
                self.authorize_url,
                data={
                    "email": s["email"],
                    "password": s["password"],
                    "csrfmiddlewaretoken": self.login_csrf,
                },
                allow_redirects=False,
                timeout=10,
            )

        def admin_login_post():
            # A fresh browser each time: a successful login rotates the CSRF token. The login
            # page itself needs no store, so it is fetched whatever is down.
            with requests.Session() as browser:
                token = self._csrf(browser, f"{server}/admin/login/")
                return browser.post(
                    f"{server}/admin/login/",
                    data={
                        "username": s["admin"],
                        "password": s["admin_password"],
                        "csrfmiddlewaretoken": token,
                        "next": "/admin/",
                    },
                    allow_redirects=False,
                    timeout=10,
                )

        def delegation():
            return requests.post(
                f"{base}/delegation",
                json={
                    "client_id": s["appA"],
                    "id_token": self.id_token,
                    "target": s["apiC"],
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                },
                timeout=10,
            )

        return {
            "discovery": (
                False,
                True,
                False,
                lambda: requests.get(f"{base}/.well-known/openid-configuration", timeout=10),
            ),
            "jwks": (
                False,
                True,
                False,
                lambda: requests.get(f"{base}/.well-known/jwks.json", timeout=10),
            ),
            "authorize GET": (
                False,
                True,
                True,
                lambda: self.browser.get(self.authorize_url, timeout=10),
            ),
            "authorize POST": (True, True, True, hosted_login_post),
            "oauth/token password": (True, True, False, self.token),
            "oauth/token client secret": (True, True, False, client_secret),
            "dbconnections/signup": (True, True, False, signup),
            "userinfo": (
                False,
                True,
                False,
                lambda: requests.get(
                    f"{base}/userinfo",
                    timeout=10,
                    headers={"Authorization": f"Bearer {self.access_token}"},
                ),
            ),
            "delegation": (True, True, False, delegation),
            # Without a session cookie the login page needs no database at all.
            "admin login GET": (
                False,
                False,
                True,
                lambda: requests.get(f"{server}/admin/login/", timeout=10),
            ),
            "admin login POST": (True, True, True, admin_login_post),
            "admin index": (
                False,
                True,
                True,
                lambda: self.admin.get(f"{server}/admin/", timeout=10),
            ),
        }

    def run_all(self) -> dict:
        results = {}
        for name, (_, _, _, call) in self.endpoints().items():
            started = time.monotonic()
            response = call()
            results[name] = (response, time.monotonic() - started)
        return results


def _assert_unavailable(name, response, *, html: bool):
    assert response.status_code == 503, (name, response.status_code, response.text[:300])
    assert int(response.headers["Retry-After"]) > 0, name
    assert response.headers["Cache-Control"] == "no-store", name
    if html:
        assert response.headers["Content-Type"].startswith("text/html"), name
        assert "Temporarily unavailable" in response.text, name
    else:
        body = response.json()
        assert body.get("error", body.get("code")) == "temporarily_unavailable", (name, body)


# What each endpoint answers when all is well (the client-secret probe presents a refresh
# token that does not exist: past the client check it is invalid_grant).
NORMAL = {"oauth/token client secret": {400}}


def _is_normal(name, response) -> bool:
    return response.status_code in NORMAL.get(name, {200, 302})


def _assert_normal(name, response):
    assert _is_normal(name, response), (name, response.status_code, response.text[:300])


def _check_fault(client: Client, *, down: str) -> dict:
    """Every endpoint within the budget: 503 where the store that is down is needed."""
    results = client.run_all()
    for name, (response, elapsed) in results.items():
        needs_redis, needs_db, html, _ = client.endpoints()[name]
        assert elapsed < BUDGET, (name, round(elapsed, 3))
        needed = needs_redis if down == "redis" else needs_db
        if needed:
            _assert_unavailable(name, response, html=html)
        else:
            _assert_normal(name, response)
    return results


def _recovered(client: Client, *, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        results = client.run_all()
        bad = {n: r.status_code for n, (r, _) in results.items() if not _is_normal(n, r)}
        if not bad or time.monotonic() > deadline:
            assert not bad, bad
            return results
        time.sleep(0.5)


# --- Redis stopped and hung -------------------------------------------------------------------
@pytest.fixture
def redis_fault_server(tmp_path):
    if not can_run_redis():
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI")
        pytest.skip("skipped: needs redis-server")
    redis_server = OwnRedis()
    server = ProjectServer(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'outage.sqlite3'}",
            "REDIS_URL": redis_server.url,
            "CACHE_BREAKER_COOLOFF_SECONDS": str(COOLOFF),
            **GENEROUS_LIMITS,
        },
        tmp_path,
    )
    yield server, redis_server
    server.close()
    redis_server.close()


def test_d32_redis_stopped_every_endpoint_answers_at_once_then_recovers(redis_fault_server):
    """Redis stopped (connection refused): the throttled endpoints answer 503 with
    Retry-After, the others normally, each within a second; once Redis is back (restarted on
    the same port) everything works again without a restart of the server."""
    server, redis_server = redis_fault_server
    client = Client(server)
    _recovered(client)
    redis_server.stop()
    _check_fault(client, down="redis")
    _check_fault(client, down="redis")
    redis_server.start()
    _recovered(client)


def test_d32_redis_hung_costs_one_timeout_then_the_breaker_answers(redis_fault_server):
    """Redis hung (SIGSTOP: connections are accepted, nothing is answered): the first request
    that needs it waits for one socket timeout, every later one is answered at once by the
    circuit breaker (no worker is held for the timeout twice); after SIGCONT the breaker's
    probe finds Redis again and service resumes by itself."""
    server, redis_server = redis_fault_server
    client = Client(server)
    _recovered(client)
    redis_server.hang()
    try:
        results = _check_fault(client, down="redis")
        redis_times = [
            elapsed for name, (_, elapsed) in results.items() if client.endpoints()[name][0]
        ]
        slow = [t for t in redis_times if t > 0.3]
        assert len(slow) <= 1, redis_times  # one timeout per process and cool-off, at most
        again = _check_fault(client, down="redis")
        assert max(again[n][1] for n in again if client.endpoints()[n][0]) < BUDGET
    finally:
        redis_server.resume()
    _recovered(client)


# --- PostgreSQL connections killed -------------------------------------------------------------
@pytest.fixture
def database_fault_server(tmp_path):
    if not can_run_postgres():
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("these cases need root, runuser and PostgreSQL 15 (REQUIRE_POSTGRES)")
        pytest.skip("skipped: needs PostgreSQL 15 binaries, root and runuser")
    if not can_run_redis():
        pytest.skip("skipped: needs redis-server")
    pg = OwnPostgres()
    redis_server = OwnRedis()
    server = None
    try:
        pg.start()
        pg.sql("CREATE DATABASE app")
        server = ProjectServer(
            {"DATABASE_URL": pg.url_for("app"), "REDIS_URL": redis_server.url, **GENEROUS_LIMITS},
            tmp_path,
        )
        yield server, pg
    finally:
        if server is not None:
            server.close()
        redis_server.close()
        pg.destroy()


def _kill_connections(pg: OwnPostgres) -> int:
    return int(
        pg.sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = 'app' AND pid <> pg_backend_pid()"
        )
        or 0
    )


def test_postgres_connections_killed_then_refused_then_back(database_fault_server):
    """The server's PostgreSQL connections are killed (pg_terminate_backend): the next answers
    are normal (persistent connections are health-checked and replaced), never a 500. Killed
    and refused (the database no longer accepts connections): every endpoint that needs it
    answers 503 with Retry-After within a second, the hosted login page and the admin with the
    503 page. Accepted again: everything works, without a restart."""
    server, pg = database_fault_server
    client = Client(server)
    _recovered(client)
    assert _kill_connections(pg) >= 1
    _recovered(client, seconds=5)

    pg.sql("ALTER DATABASE app WITH ALLOW_CONNECTIONS false")
    _kill_connections(pg)
    try:
        _check_fault(client, down="database")
        _check_fault(client, down="database")
    finally:
        pg.sql("ALTER DATABASE app WITH ALLOW_CONNECTIONS true")
    _recovered(client)

"""SECURITY-CASES D30: faults. The database goes away (a PostgreSQL server this test owns is
stopped; an SQLite file is locked), the audit insert fails, the signer fails, the commit fails
after the insert, a stored secret is too short. A failure never returns a token and never
leaves an ``sd`` row; an unavailable database is a 503 with Retry-After and service resumes
by itself."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests
from django.db import OperationalError, connection

from delegation import services as delegation_services
from delegation.models import AuditEvent
from tenantauth import crypto, signing
from tenantauth.models import Application
from tests.delegation.helpers import GRANT_JWT_BEARER, assert_error, delegate
from tests.real_parts import needs_postgres
from tests.servers import OwnPostgres, can_run_postgres, free_port

BASE_DIR = Path(__file__).resolve().parents[2]


def _no_token_and_no_sd_row(response):
    assert b"id_token" not in response.content
    assert not AuditEvent.objects.filter(type="sd").exists()


# --- in-process faults -------------------------------------------------------------------


@pytest.fixture
def refuse_sd_inserts(transactional_db):
    """A database trigger that makes every insert of an sd audit row fail (real DB error).

    Transactional: the endpoint inserts in autocommit, as in production, so the test must not
    wrap it in a transaction of its own; the trigger is dropped afterwards.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION deleg_test_refuse() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'audit insert refused'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER deleg_test_refuse_sd BEFORE INSERT ON delegation_auditevent "
                "FOR EACH ROW WHEN (NEW.type = 'sd') EXECUTE FUNCTION deleg_test_refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER deleg_test_refuse_sd BEFORE INSERT ON delegation_auditevent "
                "WHEN NEW.type = 'sd' BEGIN SELECT RAISE(ABORT, 'audit insert refused'); END"
            )
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER IF EXISTS deleg_test_refuse_sd ON delegation_auditevent")
            cursor.execute("DROP FUNCTION IF EXISTS deleg_test_refuse()")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS deleg_test_refuse_sd")


def test_d30_audit_insert_fails_no_token(client, tenant_a, refuse_sd_inserts, audit):
    """The audit insert fails (a trigger refuses it): 500 server_error, no token and no audit
    row at all."""
    response = delegate(client, tenant_a)
    assert_error(response, 500, "server_error")
    _no_token_and_no_sd_row(response)
    assert audit() == []


def test_d30_audit_insert_database_error_is_503(client, tenant_a, monkeypatch, audit):
    """The audit insert hits an unavailable database: 503 temporarily_unavailable with
    Retry-After, no token and no audit row at all."""

    def unavailable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(delegation_services, "audit_row_insert", unavailable)
    response = delegate(client, tenant_a)
    assert_error(response, 503, "temporarily_unavailable")
    assert int(response["Retry-After"]) > 0
    monkeypatch.undo()
    _no_token_and_no_sd_row(response)
    assert audit() == []


def test_d30_signer_fails_no_token(client, tenant_a, monkeypatch, audit):
    """The signer fails: 500 server_error, no token and no audit row."""

    def broken(**kwargs):
        raise RuntimeError("HSM gone")

    monkeypatch.setattr(signing, "sign_jwt", broken)
    response = delegate(client, tenant_a)
    data = assert_error(response, 500, "server_error")
    assert "HSM" not in data["error_description"]
    _no_token_and_no_sd_row(response)
    assert audit() == []


@pytest.mark.django_db(transaction=True)
def test_d30_commit_fails_after_the_audit_insert(client, tenant_a):
    """The transaction fails at COMMIT, after the audit row was inserted (a deferred
    constraint trigger, PostgreSQL): no token is returned and no sd row survives."""
    needs_postgres("deferred constraint triggers, failing at COMMIT")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION deleg_test_refuse_commit() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'refused at commit'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE CONSTRAINT TRIGGER deleg_test_refuse_commit AFTER INSERT "
            "ON delegation_auditevent DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "WHEN (NEW.type = 'sd') EXECUTE FUNCTION deleg_test_refuse_commit()"
        )
    try:
        response = delegate(client, tenant_a)
        assert_error(response, 500, "server_error")
        _no_token_and_no_sd_row(response)
        assert not AuditEvent.objects.filter(type__in=["sd", "fd"]).exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER IF EXISTS deleg_test_refuse_commit ON delegation_auditevent"
            )
            cursor.execute("DROP FUNCTION IF EXISTS deleg_test_refuse_commit()")


@pytest.mark.parametrize("side", ["target", "source"])
def test_d30_short_stored_secret_is_500_and_nothing_issued(client, tenant_a, side, audit):
    """A stored client secret under 32 bytes (target: signing; source: verifying) is never
    used: 500 server_error and nothing issued."""
    app = tenant_a["apiC"] if side == "target" else tenant_a["appA"]
    from tenantauth import services
    from tests.delegation.helpers import id_token_for

    # Both sides on HS256, so the short secret is the key that would sign or verify.
    services.application_update(application=tenant_a["appA"], jwt_signature_algorithm="HS256")

    token = id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"])
    Application.objects.filter(pk=app.pk).update(
        client_secret_ciphertext=crypto.encrypt("short-secret")
    )
    signing.clear_caches()
    response = delegate(client, tenant_a, token=token)
    assert_error(response, 500, "server_error")
    _no_token_and_no_sd_row(response)
    assert audit() == []


@pytest.mark.parametrize("lookup", ["parties", "tenant_alone"])
def test_d30_tenant_lookup_database_error_is_503(client, tenant_a, monkeypatch, lookup):
    """The very first query failing is 503 temporarily_unavailable too: the joined lookup of
    tenant and applications (success path) or the tenant alone (refusal path)."""
    from delegation import selectors as delegation_selectors
    from tenantauth import selectors

    def unavailable(**kwargs):
        raise OperationalError("could not connect to server")

    if lookup == "parties":
        monkeypatch.setattr(delegation_selectors, "delegation_parties_get", unavailable)
        response = delegate(client, tenant_a)
    else:
        monkeypatch.setattr(selectors, "tenant_get", unavailable)
        response = delegate(client, tenant_a, client_id="unknown-client", target="unknown")
    assert_error(response, 503, "temporarily_unavailable")
    assert response["Retry-After"]


# --- a real server whose database goes away ----------------------------------------------


_free_port = free_port
_can_run_postgres = can_run_postgres


class FaultServer:
    """gunicorn on loopback serving the project with ``tests.delegation.fault_settings``."""

    def __init__(self, database_url: str, workdir: Path):
        self.port = _free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        self.env.update(
            DJANGO_SETTINGS_MODULE="tests.delegation.fault_settings",
            FAULT_DATABASE_URL=database_url,
            PUBLIC_BASE_URL=f"http://127.0.0.1:{self.port}",
        )
        setup = subprocess.run(
            [sys.executable, "-m", "tests.delegation.fault_setup"],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
        )
        self.setup = json.loads(setup.stdout.strip().splitlines()[-1])
        self.log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "tenantauth.wsgi:application",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                "1",
                "--timeout",
                "60",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while True:
            try:
                requests.get(self.url, timeout=2)
                break
            # gunicorn's master accepts before a busy machine's worker has loaded the app.
            except (requests.ConnectionError, requests.Timeout):
                if time.time() > deadline or self.process.poll() is not None:
                    raise RuntimeError("fault server did not start") from None
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/t/{self.setup['slug']}/delegation"

    def delegate(self) -> requests.Response:
        now = int(time.time())
        token = jwt.encode(
            {
                "iss": self.setup["issuer"],
                "aud": self.setup["source"],
                "sub": self.setup["user_id"],
                "iat": now,
                "exp": now + 600,
            },
            self.setup["source_secret"],
            algorithm="HS256",
        )
        body = {
            "client_id": self.setup["source"],
            "grant_type": GRANT_JWT_BEARER,
            "id_token": token,
            "target": self.setup["target"],
        }
        return requests.post(self.url, json=body, timeout=30)

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.log.close()


def _assert_unavailable(response):
    assert response.status_code == 503, response.text[:300]
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"
    assert "id_token" not in response.text


def _eventually_ok(server, seconds=20) -> requests.Response:
    deadline = time.time() + seconds
    while True:
        response = server.delegate()
        if response.status_code == 200 or time.time() > deadline:
            return response
        time.sleep(0.5)


@pytest.mark.e2e
@pytest.mark.skipif(
    not _can_run_postgres() and not os.environ.get("REQUIRE_POSTGRES"),
    reason="needs root, runuser and PostgreSQL 15 (CI sets REQUIRE_POSTGRES: it fails there)",
)
def test_d30_postgres_stopped_then_started(tmp_path):
    """A server whose PostgreSQL is stopped answers 503 temporarily_unavailable with
    Retry-After (the tenant lookup itself fails), and 200 again once PostgreSQL is back, with
    no restart; the database is this test's own cluster, stopped at the end."""
    pg = OwnPostgres()
    server = None
    try:
        pg.start()
        server = FaultServer(pg.url, tmp_path)
        first = server.delegate()
        assert first.status_code == 200, first.text[:300]
        pg.stop()
        _assert_unavailable(server.delegate())
        _assert_unavailable(server.delegate())
        pg.start()
        again = _eventually_ok(server)
        assert again.status_code == 200, again.text[:300]
        assert again.json()["token_type"] == "Bearer"
    finally:
        if server is not None:
            server.close()
        pg.destroy()


@pytest.mark.e2e
def test_d30_sqlite_locked_then_released(tmp_path):
    """A server on an SQLite file that another process holds locked answers 503
    temporarily_unavailable with Retry-After, and 200 once the lock is released."""
    database = tmp_path / "fault.sqlite3"
    server = FaultServer(f"sqlite:///{database}", tmp_path)
    try:
        assert server.delegate().status_code == 200
        lock = sqlite3.connect(database, isolation_level=None, timeout=5)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            _assert_unavailable(server.delegate())
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        again = _eventually_ok(server)
        assert again.status_code == 200, again.text[:300]
        check = sqlite3.connect(database)
        rows = check.execute(
            "SELECT type, error FROM delegation_auditevent WHERE type IN ('sd','fd') ORDER BY id"
        ).fetchall()
        check.close()
        assert rows[0] == ("sd", "") and rows[-1] == ("sd", "")
        assert ("sd", "") not in rows[1:-1]
    finally:
        server.close()


def _chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


def _can_make_immutable(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.write_text("x")
    try:
        _chattr("+i", probe)
    except (OSError, subprocess.CalledProcessError):
        return False
    _chattr("-i", probe)
    return True


@pytest.mark.e2e
def test_d30_sqlite_unwritable_then_writable(tmp_path):
    """A server whose SQLite files cannot be written (immutable, which binds root too) answers
    503 temporarily_unavailable with Retry-After, issues nothing, and 200 once writable."""
    if not _can_make_immutable(tmp_path):
        if os.environ.get("CI"):
            pytest.fail("chattr +i is needed for this case and CI runs as root on ext4")
        pytest.skip("needs root and a file system with the immutable flag (chattr)")
    folder = tmp_path / "db"
    folder.mkdir()
    database = folder / "fault.sqlite3"
    server = FaultServer(f"sqlite:///{database}", tmp_path)
    # The folder too: SQLite creates its -wal and -shm files next to the database.
    locked = [database, folder]
    try:
        assert server.delegate().status_code == 200
        for path in locked:
            _chattr("+i", path)
        try:
            _assert_unavailable(server.delegate())
        finally:
            for path in reversed(locked):
                _chattr("-i", path)
        again = _eventually_ok(server)
        assert again.status_code == 200, again.text[:300]
        check = sqlite3.connect(database)
        rows = check.execute(
            "SELECT type FROM delegation_auditevent WHERE type IN ('sd', 'fd') ORDER BY id"
        ).fetchall()
        check.close()
        assert rows == [("sd",), ("sd",)]  # nothing was recorded for the refused attempt
    finally:
        for path in locked:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        server.close()

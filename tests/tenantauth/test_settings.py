"""Settings: production fails fast without its secrets, passes the deploy check with them,
and SQLite runs in WAL mode."""

import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

BASE_DIR = settings.BASE_DIR
GOOD_SECRET_KEY = "k" * 10 + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_" + "z" * 10


def _production_env(tmp_path, **overrides) -> dict:
    """A clean environment: nothing from this process leaks in (no DATABASE_URL, no keys)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_ENV": "production",
        "SECRET_KEY": GOOD_SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "auth.example.com",
        "PUBLIC_BASE_URL": "https://auth.example.com",
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif((BASE_DIR / ".env").exists(), reason="a local .env would supply secrets")
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECRET_KEY", None),
        ("SECRET_KEY", ""),
        ("SECRET_KEY", "   "),
        ("FIELD_ENCRYPTION_KEYS", None),
        ("FIELD_ENCRYPTION_KEYS", ""),
        ("FIELD_ENCRYPTION_KEYS", "not-a-fernet-key-but-a-secret-value"),
        ("ALLOWED_HOSTS", None),
        ("PUBLIC_BASE_URL", None),
    ],
)
def test_production_without_a_secret_fails_fast(tmp_path, variable, value):
    """``manage.py check`` in production exits non-zero naming the missing or bad variable,
    without echoing the bad value."""
    result = _manage(_production_env(tmp_path, **{variable: value}), "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr
    if value and value.strip():
        assert value not in result.stderr + result.stdout


def test_production_deploy_check_passes(tmp_path):
    """With every variable set, ``check --deploy --fail-level WARNING`` passes."""
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_and_headers(tmp_path):
    """Production cookies are Secure, HttpOnly and SameSite; HSTS and the frame ban are on."""
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n) "
        "for n in ['DEBUG', 'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SECURE', 'CSRF_COOKIE_HTTPONLY', "
        "'CSRF_COOKIE_SAMESITE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'X_FRAME_OPTIONS', 'SECURE_CONTENT_TYPE_NOSNIFF']}))"
    )
    result = _manage(_production_env(tmp_path), "shell", "-c", script)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_HTTPONLY"] and values["CSRF_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True


def test_repository_holds_no_literal_secret():
    """Settings take no secret from the repository: the committed example has none set."""
    example = (BASE_DIR / ".env.example").read_text()
    for line in example.splitlines():
        stripped = line.strip()
        if stripped.startswith(("SECRET_KEY", "FIELD_ENCRYPTION_KEYS")):
            pytest.fail(f"an uncommented secret in .env.example: {stripped.split('=')[0]}")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="WAL is a SQLite journal mode")
def test_sqlite_runs_in_wal_mode(db, tmp_path):
    """A connection opened with the project's SQLite settings is in WAL mode with a busy
    timeout. (The test database itself is in memory, where WAL does not apply, so this opens
    a file database with the same settings.)"""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings_dict = {**connection.settings_dict, "NAME": str(tmp_path / "wal.sqlite3")}
    wrapper = DatabaseWrapper(settings_dict, alias="wal_check")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0].lower() == "wal"
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] >= 5000
    finally:
        wrapper.close()

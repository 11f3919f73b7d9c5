"""The run says which real parts it used (tests/real_parts.py), and CI cannot silently lose
PostgreSQL: each case runs pytest in a child process with a chosen environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.core.cache import caches

from tenantauth import limiter
from tests import real_parts
from tests.cache_backends import redis_caches

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ONLY = (
    "tests/delegation/test_audit_sealing.py::test_update_and_delete_are_refused_by_the_database"
)


def run_pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environment.pop("DATABASE_URL", None)  # SQLite, whatever this run uses
    environment.pop("REQUIRE_POSTGRES", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_postgres_test_on_sqlite_is_skipped_and_says_so():
    result = run_pytest(POSTGRES_ONLY, "-rs", REDIS_URL="")
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "skipped: needs PostgreSQL (" in result.stdout
    assert "1 tests skipped: needs PostgreSQL" in result.stdout


def test_require_postgres_turns_that_skip_into_a_failure():
    result = run_pytest(POSTGRES_ONLY, REDIS_URL="", REQUIRE_POSTGRES="1")
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout  # the skip came from a fixture: a setup error
    assert "REQUIRE_POSTGRES is set, but this test was skipped: needs PostgreSQL" in result.stdout


def test_the_header_and_summary_name_the_rate_limit_backend():
    """Collection alone prints the header; the summary line ends every run."""
    redis = run_pytest(
        "--co", "tests/test_real_parts.py", REDIS_URL="redis://u:pw@127.0.0.1:6390/13"
    )
    assert redis.stdout.count("rate-limit backend: redis (redis://u:***@127.0.0.1:6390/13)") == 2
    assert "pw@" not in redis.stdout
    local = run_pytest("--co", "tests/test_real_parts.py", REDIS_URL="")
    assert local.stdout.count("rate-limit backend: local memory") == 2


def test_each_xdist_worker_counts_in_its_own_redis_database(own_redis, settings, monkeypatch):
    """Worker gw2 of a run on database 13 counts in database 11: what the limiter writes
    lands there and nowhere else, so the workers' per-test flushes cannot meet."""
    server = f"redis://127.0.0.1:{own_redis.running().port}"
    settings.CACHES = redis_caches(f"{server}/13")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    override = real_parts.redis_database_per_worker()
    try:
        assert settings.CACHES["default"]["LOCATION"] == f"{server}/11"
        caches["default"].clear()
        assert limiter.incr("xdist-probe", ttl=60) == 1
        database = {n: redis.Redis.from_url(f"{server}/{n}") for n in (11, 12, 13)}
        assert database[11].keys("*xdist-probe*") != []
        assert database[12].keys("*xdist-probe*") == database[13].keys("*xdist-probe*") == []
        assert "one database per worker" in real_parts.rate_limit_backend()
    finally:
        override.disable()
    assert settings.CACHES["default"]["LOCATION"] == f"{server}/13"


def test_no_database_below_zero_for_a_worker(settings, monkeypatch):
    settings.CACHES = redis_caches("redis://127.0.0.1:6390/1")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    with pytest.raises(pytest.UsageError, match="no database for xdist worker gw2"):
        real_parts.redis_database_per_worker()
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert real_parts.redis_database_per_worker() is None  # not a worker: nothing changes

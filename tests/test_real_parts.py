"""The run says which real parts it used (tests/real_parts.py), and CI cannot silently lose
PostgreSQL: each case runs pytest in a child process with a chosen environment."""

import os
import subprocess
import sys
from pathlib import Path

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

"""Which real parts a test run uses, said out loud (issue 14).

* The rate-limit backend: ``make test`` points ``REDIS_URL`` at the local Redis when one
  answers (a database number of the tests' own), so the limiter's Redis code runs in a
  developer's run too; the pytest header and the summary name the backend that ran.
* PostgreSQL: tests that need it call ``needs_postgres`` (or carry the ``postgres_only``
  marker) and are skipped with a reason starting "skipped: needs PostgreSQL", listed in the
  summary. With ``REQUIRE_POSTGRES`` set (CI's PostgreSQL run) such a skip is a failure.
"""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

POSTGRES_SKIP = "skipped: needs PostgreSQL"


def needs_postgres(why: str) -> None:
    """Skip the running test unless the test database is PostgreSQL; ``why`` says what of
    PostgreSQL it needs (e.g. "row locks under concurrent writers")."""
    if connection.vendor != "postgresql":
        pytest.skip(f"{POSTGRES_SKIP} ({why})")


def postgres_required() -> bool:
    """Whether a "needs PostgreSQL" skip must fail the run (``REQUIRE_POSTGRES`` set)."""
    return os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")


def skip_reason(report) -> str:
    """The reason of a skipped test report ('' when none)."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    return str(reason or "").removeprefix("Skipped: ")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urlunsplit(parts._replace(netloc=netloc))


def rate_limit_backend() -> str:
    """The store the limiter counts in for this run, as one line for people."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("RedisCache"):
        return f"redis ({_without_password(settings.CACHES['default']['LOCATION'])})"
    if "locmem" in backend:
        return "local memory (in process; REDIS_URL not set)"
    return backend

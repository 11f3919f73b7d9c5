"""Which real parts a test run uses, said out loud (issue 14).

* The rate-limit backend: ``make test`` points ``REDIS_URL`` at the local Redis when one
  answers (a database number of the tests' own), so the limiter's Redis code runs in a
  developer's run too; the pytest header and the summary name the backend that ran. Under
  pytest-xdist each worker counts in its own database (``redis_database_per_worker``).
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


def xdist_worker_number() -> int | None:
    """This process's pytest-xdist worker number (``gw0`` -> 0), None outside ``-n`` workers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def redis_database_per_worker():
    """Give each pytest-xdist worker its own Redis database, counting down from the one in
    ``REDIS_URL`` (``/13`` -> worker gw0 on 13, gw1 on 12, ...): every test flushes the
    cache, and two workers on one database would flush each other's counters mid-test.

    Applied with Django's ``override_settings`` for the whole session, so the cache handler
    and the limiter (both listen to ``setting_changed``) start from the new location. No-op
    outside xdist workers or without Redis (returns None); else returns the enabled
    ``override_settings``. Raises ``pytest.UsageError`` when the count would go below
    database 0.
    """
    from django.test.utils import override_settings

    number = xdist_worker_number()
    cache = settings.CACHES["default"]
    if number is None or not cache["BACKEND"].endswith("RedisCache"):
        return None
    parts = urlsplit(cache["LOCATION"])
    base = int(parts.path.lstrip("/") or 0)
    if base - number < 0:
        raise pytest.UsageError(
            f"REDIS_URL database {base} leaves no database for xdist worker gw{number}: "
            "choose a higher database number or fewer workers"
        )
    location = urlunsplit(parts._replace(path=f"/{base - number}"))
    override = override_settings(CACHES={"default": {**cache, "LOCATION": location}})
    override.enable()
    return override


def rate_limit_backend(config=None) -> str:
    """The store the limiter counts in for this run, as one line for people; ``config`` (the
    pytest config) tells whether xdist workers (``-n``) each count in their own database."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("RedisCache"):
        location = _without_password(settings.CACHES["default"]["LOCATION"])
        workers = getattr(getattr(config, "option", None), "numprocesses", None)
        if workers or xdist_worker_number() is not None:
            return f"redis ({location}; with pytest-xdist, one database per worker from there down)"
        return f"redis ({location})"
    if "locmem" in backend:
        return "local memory (in process; REDIS_URL not set)"
    return backend

"""Shared fixtures: two tenants (A and B) with the reference applications, users and admins.

Everything is created through the services, as the product itself does.
"""

import os
import shutil
import tempfile

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from delegation import config_cache
from tenantauth import limiter, services, signing
from tenantauth.models import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_DELEGATION_ID_TOKEN,
    GRANT_DELEGATION_REFRESH_TOKEN,
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    Application,
    Membership,
)
from tests import real_parts
from tests.cache_backends import counter_store, own_redis  # noqa: F401 (fixtures)
from tests.chromium import chromium  # noqa: F401 - one browser per session for all tests

USER_PASSWORD = "correct horse battery staple"
ADMIN_PASSWORD = "Adm1n-7qX!zR4pW9-kV"  # random-looking: no run of it is an English word
# The hashers the service is configured with (Django's default: PBKDF2 first); the suite runs
# on MD5 for speed (``_fast_hashers_and_clean_caches``), tests about hashing work use these.
CONFIGURED_PASSWORD_HASHERS = list(django_settings.PASSWORD_HASHERS)
APP_GRANTS = [
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_DELEGATION_ID_TOKEN,
    GRANT_DELEGATION_REFRESH_TOKEN,
]


if os.environ.get("TEST_DATABASE_TEMPLATE"):

    @pytest.fixture(scope="session")
    def django_db_setup(django_test_environment, django_db_blocker):
        """Mutation runs (tests/mutation.py): every pytest session, one per mutant, starts from
        its own copy of a migrated SQLite file instead of migrating a new database."""
        from django.db import connections

        folder = tempfile.mkdtemp(prefix="tenantauth-mutant-db-")
        copy = os.path.join(folder, "test.sqlite3")
        shutil.copyfile(os.environ["TEST_DATABASE_TEMPLATE"], copy)
        with django_db_blocker.unblock():
            connections["default"].close()
            connections["default"].settings_dict["NAME"] = copy
        yield
        with django_db_blocker.unblock():
            connections["default"].close()
        shutil.rmtree(folder, ignore_errors=True)


def pytest_configure(config):
    real_parts.redis_database_per_worker()  # under pytest-xdist: one Redis database each


def pytest_report_header(config):
    return [f"rate-limit backend: {real_parts.rate_limit_backend(config)}"]


def pytest_terminal_summary(terminalreporter):
    backend = real_parts.rate_limit_backend(terminalreporter.config)
    terminalreporter.write_line(f"rate-limit backend: {backend}")
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if real_parts.POSTGRES_SKIP in real_parts.skip_reason(report)
    ]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} tests {real_parts.POSTGRES_SKIP} (set DATABASE_URL to run them)"
        )


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres_only"):
        real_parts.needs_postgres("marked postgres_only")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``REQUIRE_POSTGRES`` set (CI), a test skipped because it needs PostgreSQL fails."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and real_parts.postgres_required():
        reason = real_parts.skip_reason(report)
        if real_parts.POSTGRES_SKIP in reason:
            report.outcome = "failed"
            report.longrepr = f"REQUIRE_POSTGRES is set, but this test was {reason}"


@pytest.fixture(autouse=True)
def _fast_hashers_and_clean_caches(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()
    signing.clear_caches()
    limiter.reset()  # a breaker opened by one test's dead cache must not answer for the next
    # The per-process configuration cache learns tenant ids by slug; a flushed test database
    # can give the next test's "tenant-a" the same id, so a test would start warm or cold by
    # the order it ran in.
    config_cache.clear()
    yield


def make_tenant_setup(slug: str) -> dict:
    tenant = services.tenant_create(slug=slug, name=f"Tenant {slug.upper()}")
    app_a = services.application_create(
        tenant=tenant,
        name="appA",
        grant_types=APP_GRANTS,
        callback_urls=["http://127.0.0.1:9999/callback"],
    )
    app_b = services.application_create(
        tenant=tenant,
        name="appB",
        grant_types=APP_GRANTS,
        callback_urls=["http://127.0.0.1:9999/callback"],
    )
    # As the demo: appA and appB keep the RS256 default, apiC validates with its own secret.
    api_c = services.application_create(
        tenant=tenant,
        name="apiC",
        app_type=Application.AppType.API,
        allowed_clients=[app_a.client_id, app_b.client_id],
        jwt_signature_algorithm=Application.SigningAlgorithm.HS256,
    )
    user = services.tenant_user_create(
        tenant=tenant,
        email=f"user@{slug}.example",
        password=USER_PASSWORD,
        name="Ada User",
        nickname="ada",
        email_verified=True,
    )
    User = get_user_model()
    admin = User.objects.create_user(f"{slug}-admin", password=ADMIN_PASSWORD, is_staff=True)
    services.membership_create(tenant=tenant, user=admin, role=Membership.Role.ADMIN)
    auditor = User.objects.create_user(f"{slug}-auditor", password=ADMIN_PASSWORD, is_staff=True)
    services.membership_create(tenant=tenant, user=auditor, role=Membership.Role.AUDITOR)
    return {
        "tenant": tenant,
        "appA": app_a,
        "appB": app_b,
        "apiC": api_c,
        "user": user,
        "admin": admin,
        "auditor": auditor,
    }


@pytest.fixture
def tenant_a(db):
    return make_tenant_setup("tenant-a")


@pytest.fixture
def tenant_b(db):
    return make_tenant_setup("tenant-b")


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser("staff", password=ADMIN_PASSWORD)

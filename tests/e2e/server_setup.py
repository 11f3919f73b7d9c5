"""Run by tests.servers.ProjectServer in a subprocess, with the server's environment: migrate
its database and create tenant ``e2e`` (appA and appB with the sign-in and delegation grants,
apiC allowing appA, a user, a tenant admin account), then print what the tests need as JSON.
Run once per database: a second server on the same database reads the first one's output."""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenantauth.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from tenantauth import services  # noqa: E402
from tenantauth.models import (  # noqa: E402
    GRANT_AUTHORIZATION_CODE,
    GRANT_DELEGATION_ID_TOKEN,
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    Application,
    Membership,
)

USER_PASSWORD = "correct horse battery staple"
ADMIN_PASSWORD = "admin-password-123!"
CALLBACK = "http://127.0.0.1:9999/callback"
GRANTS = [
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_DELEGATION_ID_TOKEN,
]

call_command("migrate", verbosity=0, interactive=False)
# Delegation's own rate limit is not what these servers are tested for.
tenant = services.tenant_create(slug="e2e", name="E2E", delegation_rate_limit=100_000)
app_a = services.application_create(
    tenant=tenant, name="appA", grant_types=GRANTS, callback_urls=[CALLBACK]
)
app_b = services.application_create(
    tenant=tenant, name="appB", grant_types=GRANTS, callback_urls=[CALLBACK]
)
api_c = services.application_create(
    tenant=tenant,
    name="apiC",
    app_type=Application.AppType.API,
    allowed_clients=[app_a.client_id],
)
user = services.tenant_user_create(tenant=tenant, email="user@e2e.example", password=USER_PASSWORD)
admin = get_user_model().objects.create_user("e2e-admin", password=ADMIN_PASSWORD, is_staff=True)
services.membership_create(tenant=tenant, user=admin, role=Membership.Role.ADMIN)
print(
    json.dumps(
        {
            "slug": tenant.slug,
            "issuer": tenant.issuer,
            "appA": app_a.client_id,
            "appA_secret": app_a.client_secret(),
            "appB": app_b.client_id,
            "appB_secret": app_b.client_secret(),
            "apiC": api_c.client_id,
            "user_id": user.user_id,
            "email": user.email,
            "password": USER_PASSWORD,
            "admin": admin.username,
            "admin_password": ADMIN_PASSWORD,
            "callback": CALLBACK,
        }
    )
)

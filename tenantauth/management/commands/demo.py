"""Load the reference scenario: tenant ``acme`` with appA, appB, apiC, a user and an admin,
and ``addonsDemo`` (Allowed APPs / APIs = appA, appB) with every add-on enabled on local test
credentials (``addons.demo``).

Idempotent: running it again keeps existing rows (and their secrets and settings) and only fills
in what is missing. New rows: appA and appB sign their id_tokens with RS256 (the tenant key,
verifiable by any OIDC client through the JWKS), apiC with HS256 (its own secret, SPEC 1.6).
Passwords come from DEMO_ADMIN_PASSWORD / DEMO_USER_PASSWORD when set, else they are generated
once and kept in the git-ignored ``.dev-secrets.json`` so every run prints a login that works.
"""

import json
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from addons.demo import addons_demo_ensure
from tenantauth import services
from tenantauth.models import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_DELEGATION_ID_TOKEN,
    GRANT_DELEGATION_REFRESH_TOKEN,
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    Application,
    Membership,
    Tenant,
    TenantUser,
)

DEMO_SLUG = "acme"
DEMO_USER_EMAIL = "demo.user@acme.example"
DEMO_ADMIN_USERNAME = "acme-admin"
CALLBACK = "http://127.0.0.1:8000/callback"
APP_GRANTS = [
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_DELEGATION_ID_TOKEN,
    GRANT_DELEGATION_REFRESH_TOKEN,
]


def _demo_password(variable: str) -> str:
    if os.environ.get(variable):
        return os.environ[variable]
    path = settings.BASE_DIR / ".dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if variable not in stored:
        stored[variable] = secrets.token_urlsafe(12)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored[variable]


class Command(BaseCommand):
    help = (
        "Create (or complete) the demo tenant 'acme' with appA, appB, apiC, addonsDemo (every "
        "add-on), a user, an admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    @transaction.atomic
    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first() or services.tenant_create(
            slug=DEMO_SLUG, name="Acme Corporation"
        )
        apps = {}
        for name in ("appA", "appB"):
            apps[name] = Application.objects.filter(tenant=tenant, name=name).first() or (
                services.application_create(
                    tenant=tenant,
                    name=name,
                    app_type=Application.AppType.REGULAR_WEB,
                    grant_types=APP_GRANTS,
                    callback_urls=[CALLBACK],
                    # id_tokens any OIDC client can verify through the JWKS.
                    jwt_signature_algorithm=Application.SigningAlgorithm.RS256,
                )
            )
        apps["apiC"] = Application.objects.filter(tenant=tenant, name="apiC").first() or (
            services.application_create(
                tenant=tenant,
                name="apiC",
                app_type=Application.AppType.API,
                allowed_clients=[apps["appA"].client_id, apps["appB"].client_id],
                # The reference scenario: apiC validates tokens with its own secret.
                jwt_signature_algorithm=Application.SigningAlgorithm.HS256,
            )
        )

        apps["addonsDemo"], addons = addons_demo_ensure(
            tenant=tenant, allowed_clients=[apps["appA"].client_id, apps["appB"].client_id]
        )

        user_password = _demo_password("DEMO_USER_PASSWORD")
        user = TenantUser.objects.filter(tenant=tenant, email=DEMO_USER_EMAIL).first()
        if user is None:
            user = services.tenant_user_create(
                tenant=tenant,
                email=DEMO_USER_EMAIL,
                password=user_password,
                name="Demo User",
                nickname="demo",
                email_verified=True,
            )
        else:
            services.tenant_user_set_password(user=user, password=user_password)

        User = get_user_model()
        admin_password = _demo_password("DEMO_ADMIN_PASSWORD")
        admin = User.objects.filter(username=DEMO_ADMIN_USERNAME).first() or User(
            username=DEMO_ADMIN_USERNAME
        )
        admin.set_password(admin_password)
        admin.is_active = admin.is_staff = True
        admin.save()
        services.membership_create(tenant=tenant, user=admin, role=Membership.Role.ADMIN)

        data = {
            "tenant": tenant.slug,
            "issuer": tenant.issuer,
            "applications": {
                name: {"client_id": app.client_id, "client_secret": app.client_secret()}
                for name, app in apps.items()
            },
            "addons": addons,
            "user": {"email": user.email, "password": user_password},
            "admin": {"username": admin.username, "password": admin_password},
        }
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(self.style.SUCCESS(f"Demo tenant '{tenant.slug}' ready."))
        self.stdout.write(f"  Issuer:        {tenant.issuer}")
        for name, app in apps.items():
            self.stdout.write(f"  {name:<6} client_id {app.client_id}")
        self.stdout.write(f"  addonsDemo add-ons: {', '.join(addons)} (all enabled)")
        self.stdout.write(f"  Tenant user:   {user.email} / {user_password}")
        self.stdout.write(
            f"  Admin login:   {settings.PUBLIC_BASE_URL}/admin/  {admin.username} / "
            f"{admin_password}"
        )
        self.stdout.write(
            "  Client secrets, add-on settings and secrets: python manage.py demo --json"
        )

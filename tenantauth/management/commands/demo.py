"""Load the reference scenario: tenant ``acme`` with appA, appB, apiC, a user, an admin and an
auditor, and ``addonsDemo`` (Allowed APPs / APIs = appA, appB) with every add-on enabled on
local test credentials (``addons.demo``).

Idempotent: running it again keeps existing rows (and their secrets and settings) and only fills
in what is missing. New rows: appA and appB sign their id_tokens with RS256 (the tenant key,
verifiable by any OIDC client through the JWKS), apiC with HS256 (its own secret, SPEC 1.6).
Passwords come from DEMO_ADMIN_PASSWORD / DEMO_AUDITOR_PASSWORD / DEMO_USER_PASSWORD when set,
else they are generated once and kept in the git-ignored ``.dev-secrets.json`` so every run
prints a login that works. A password is written only when the account is new or its stored
hash no longer matches: re-running the command (``make run`` does, every time) never signs the
admin out of an open session.
"""

import json
import os
import secrets
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
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
DEMO_AUDITOR_USERNAME = "acme-auditor"
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


def _shell_command(*args: str) -> str:
    """This command line as it can be pasted into a shell in the current directory (e.g.
    ``.venv/bin/python manage.py demo --json``)."""

    def short(path) -> str:
        relative = os.path.relpath(path)
        return relative if not relative.startswith("..") else str(path)

    python = short(sys.executable) if sys.executable else "python"
    if os.sep not in python:
        python = f".{os.sep}{python}" if Path(python).exists() else python
    return shlex.join([python, short(Path(settings.BASE_DIR) / "manage.py"), *args])


def _platform_account(username: str, password: str, *, tenant, role):
    """The demo's platform account, a member of ``tenant`` with ``role``; its password is set
    only when the account is new or the stored hash does not match (so sessions survive)."""
    User = get_user_model()
    account = User.objects.filter(username=username).first()
    if account is None:
        account = User(username=username, is_active=True, is_staff=True)
        account.set_password(password)
        account.save()
    else:
        changed = []
        if not account.check_password(password):
            account.set_password(password)
            changed.append("password")
        if not (account.is_active and account.is_staff):
            account.is_active = account.is_staff = True
            changed += ["is_active", "is_staff"]
        if changed:
            account.save(update_fields=changed)
    services.membership_create(tenant=tenant, user=account, role=role)
    return account


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
        elif not check_password(user_password, user.password):
            services.tenant_user_set_password(user=user, password=user_password)

        admin_password = _demo_password("DEMO_ADMIN_PASSWORD")
        admin = _platform_account(
            DEMO_ADMIN_USERNAME, admin_password, tenant=tenant, role=Membership.Role.ADMIN
        )
        auditor_password = _demo_password("DEMO_AUDITOR_PASSWORD")
        auditor = _platform_account(
            DEMO_AUDITOR_USERNAME, auditor_password, tenant=tenant, role=Membership.Role.AUDITOR
        )

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
            "auditor": {"username": auditor.username, "password": auditor_password},
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
            f"  Auditor login: {settings.PUBLIC_BASE_URL}/admin/  {auditor.username} / "
            f"{auditor_password}"
        )
        self.stdout.write(
            f"  Client secrets, add-on settings and secrets: {_shell_command('demo', '--json')}"
        )
        self.stdout.write(
            "  AWS, Salesforce and SAP add-ons call local stand-ins (moto STS, token endpoints "
            f"on 127.0.0.1:5010-5012); start them with: {_shell_command('addons_devserver')}"
        )

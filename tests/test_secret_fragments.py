"""No fragment of a secret anywhere it does not belong (issue 14, SECURITY-CASES A06).

Every secret, key and password the service holds (client secrets and their ciphertexts, the
tenants' private signing keys, add-on secrets, user and admin passwords and their hashes, the
Fernet keys, Django's SECRET_KEY) is cut into every run of ``RUN`` consecutive characters, and
none of those runs may appear in any admin page any role can open, any API answer, any
captured log line or any audit export. The one page allowed to show a client secret (the
audited reveal, and the rotation that chooses a new one) is left out, and checked to show it.

Looking for runs rather than whole values catches the partial leak: a page showing the first
12 characters of a client secret "as a hint" instead of its fingerprint.
"""

import json
import logging
import secrets

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tenantauth import roles
from tenantauth.models import Application, SigningKey, TenantUser
from tests.addons.conftest import ADDONS
from tests.addons.conftest import configure as configure  # noqa: F401 - fixtures
from tests.addons.conftest import keys as keys  # noqa: F401
from tests.addons.conftest import rsa_pem as rsa_pem  # noqa: F401
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from tests.delegation.helpers import delegate
from tests.tenantauth.oidc_support import password_grant, post_token

RUN = 8  # characters
# Random, as real ones are: a readable value shares runs with page text ("password").
SIGNUP_PASSWORD = "Pw-" + secrets.token_urlsafe(18)
CHOSEN_SECRET = secrets.token_urlsafe(40)


def runs(value: str, length: int = RUN) -> set[str]:
    """Every run of ``length`` consecutive characters of ``value``."""
    return {value[i : i + length] for i in range(len(value) - length + 1)}


def secrets_held() -> dict[str, str]:
    """``{label: value}`` of every secret, key and password the service holds now."""
    held = {
        "user password": USER_PASSWORD,
        "admin password": ADMIN_PASSWORD,
        "signed-up password": SIGNUP_PASSWORD,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    for n, key in enumerate(settings.FIELD_ENCRYPTION_KEYS):
        held[f"Fernet key {n}"] = key if isinstance(key, str) else key.decode()
    for app in Application.objects.all():
        name = f"{app.tenant.slug}/{app.name}"
        held[f"client secret of {name}"] = app.client_secret()
        held[f"client secret ciphertext of {name}"] = app.client_secret_ciphertext
    for key in SigningKey.objects.all():
        body = "".join(key.private_key_pem().splitlines()[1:-1])  # the base64, no armour
        held[f"private key {key.kid}"] = body
        held[f"private key ciphertext {key.kid}"] = key.private_key_ciphertext
    for config in AddonConfiguration.objects.all():
        where = f"{config.tenant.slug}/{config.application.name} {config.addon}"
        held[f"{where} secrets ciphertext"] = config.secrets_ciphertext
        for name, value in config.secret_values().items():
            if "PRIVATE KEY" in value:
                value = "".join(value.splitlines()[1:-1])
            held[f"{where} {name}"] = value
    for user in TenantUser.objects.all():
        held[f"password hash of {user.email}"] = user.password
    for account in get_user_model().objects.all():
        held[f"password hash of {account.username}"] = account.password
    return {label: value for label, value in held.items() if value}


def leaks(haystacks: dict[str, str], held: dict[str, str]) -> list[str]:
    """``"<secret> in <where>: <run>"`` for every run of a held secret found somewhere."""
    found = []
    for where, text in haystacks.items():
        present = runs(text)
        for label, value in held.items():
            shared = runs(value) & present
            if shared:
                found.append(f"{label} in {where}: {sorted(shared)[0]!r}")
    return found


def _text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    return headers + "\n" + body.decode(errors="replace")


def _admin_urls(setup) -> list[str]:
    """Every admin page with a GET: each registered model's list, add, change, delete and
    history pages, and the custom pages (try it, certificate, find, export, chart, add-on
    configuration, password, key import)."""
    tenant, api_c, user = setup["tenant"], setup["apiC"], setup["user"]
    rows = {
        "tenantauth.tenant": tenant.pk,
        "tenantauth.application": api_c.pk,
        "tenantauth.tenantuser": user.pk,
        "tenantauth.signingkey": SigningKey.objects.filter(tenant=tenant).first().pk,
        "tenantauth.membership": setup["admin"].memberships.first().pk,
        "tenantauth.connection": tenant.connections.first().pk,
        "delegation.auditevent": AuditEvent.objects.filter(tenant=tenant).first().pk,
        "addons.addonconfiguration": AddonConfiguration.objects.filter(tenant=tenant).first().pk,
        "auth.user": setup["admin"].pk,
        "auth.group": None,
    }
    urls = ["/admin/"]
    for model in admin.site._registry:
        label = model._meta.label_lower
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls += [base, f"{base}add/"]
        if rows.get(label):
            urls += [f"{base}{rows[label]}/{page}/" for page in ("change", "delete", "history")]
    app = f"/admin/tenantauth/application/{api_c.pk}"
    audit = "/admin/delegation/auditevent"
    urls += [
        f"{app}/try-it/",
        f"{app}/try-it/users/?q=user",
        f"{app}/certificate.pem",
        f"{audit}/find/",
        f"{audit}/export/?format=csv",
        f"{audit}/export/?format=jsonl",
        f"{audit}/chart/",
        f"{audit}/chart.json",
        f"/admin/tenantauth/tenantuser/{user.pk}/password/",
        f"/admin/tenantauth/tenant/{tenant.pk}/import-key/",
        *(f"/admin/addons/addonconfiguration/configure/{api_c.pk}/{a}/" for a in ADDONS),
    ]
    return urls


@pytest.mark.parametrize("who", [roles.ADMIN, roles.AUDITOR, roles.STAFF])
def test_no_run_of_any_secret_anywhere(
    client,
    tenant_a,
    tenant_b,
    staff_user,
    configure,  # noqa: F811
    caplog,
    who,
):
    caplog.set_level(logging.DEBUG)
    haystacks: dict[str, str] = {}
    for addon in ADDONS:
        configure(tenant_a, addon, enabled=addon == "wams")

    # The API: sign in, sign up, userinfo, discovery, JWKS, delegation (app and add-on), and
    # refusals that name a client whose secret was wrong.
    tenant = tenant_a["tenant"]
    base = f"/t/{tenant.slug}"
    signed_in = password_grant(client, tenant_a)
    haystacks["oauth/token"] = _text(signed_in)
    access_token = signed_in.json()["access_token"]
    answers = {
        "oauth/token wrong secret": password_grant(client, tenant_a, client_secret="x" * 40),
        "oauth/token wrong password": password_grant(client, tenant_a, password="wrong" * 4),
        "signup": client.post(
            f"{base}/dbconnections/signup",
            json.dumps(
                {
                    "client_id": tenant_a["appA"].client_id,
                    "email": "new@tenant-a.example",
                    "password": SIGNUP_PASSWORD,
                    "connection": "Username-Password-Authentication",
                }
            ),
            content_type="application/json",
        ),
        "userinfo": client.get(f"{base}/userinfo", HTTP_AUTHORIZATION=f"Bearer {access_token}"),
        "discovery": client.get(f"{base}/.well-known/openid-configuration"),
        "jwks": client.get(f"{base}/.well-known/jwks.json"),
        "delegation app": delegate(client, tenant_a),
        "delegation wams": delegate(client, tenant_a, api_type="wams"),
        "delegation refused": delegate(client, tenant_a, source=tenant_a["appB"], target="x"),
        "client credentials refused": post_token(
            client,
            tenant,
            {"grant_type": "client_credentials", "client_id": tenant_a["apiC"].client_id},
        ),
    }
    assert answers["signup"].status_code == 200, answers["signup"].content
    assert answers["delegation wams"].status_code == 200, answers["delegation wams"].content
    haystacks.update({name: _text(response) for name, response in answers.items()})

    # Admin work that writes history and audit rows: a rotation to a chosen secret (the one
    # answer allowed to show it) and an audited reveal.
    tenant_admin = Client()
    tenant_admin.force_login(tenant_a["admin"])
    app_url = f"/admin/tenantauth/application/{tenant_a['apiC'].pk}"
    rotated = tenant_admin.post(f"{app_url}/secret/rotate/", {"new_secret": CHOSEN_SECRET})
    assert CHOSEN_SECRET in rotated.content.decode()
    revealed = tenant_admin.post(f"{app_url}/secret/reveal/")
    assert CHOSEN_SECRET in revealed.content.decode()

    reader = Client()
    reader.force_login(staff_user if who == roles.STAFF else tenant_a[who])
    if who == roles.STAFF:
        reader.post("/admin/switch-tenant/", {"tenant": tenant.pk})
    for url in _admin_urls(tenant_a):
        response = reader.get(url)
        assert response.status_code < 500, url
        haystacks[f"{who} GET {url}"] = _text(response)
    tried = reader.post(
        f"{app_url}/try-it/",
        {"source": tenant_a["appA"].pk, "user": tenant_a["user"].email, "scope": "openid"},
    )
    haystacks[f"{who} POST try-it"] = _text(tried)
    haystacks["log"] = caplog.text

    held = secrets_held()
    assert held["client secret of tenant-a/apiC"] == CHOSEN_SECRET
    assert "tenant-a/apiC wams master_key" in held
    assert len(held) > 20
    assert leaks(haystacks, held) == []


def test_runs_find_a_partial_secret():
    """The search itself: a 12-character prefix and an 8-character middle are found, 7
    characters are not."""
    secret = "s3cr3t-Value-0f-Th1rty-Tw0-Chars!"
    held = {"s": secret}
    assert leaks({"page": f"hint: {secret[:12]}…"}, held) == ["s in page: '3cr3t-Va'"]
    assert leaks({"page": f"x{secret[10:18]}x"}, held)
    assert leaks({"page": secret[3:10]}, held) == []

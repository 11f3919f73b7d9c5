"""The "try it" panel decides with the endpoint's own code: over a table of cases, the panel
and a real ``POST /delegation`` reach the same outcome (allowed, or the same error code), and
for an allowed case the previewed header and claims are those of the token the endpoint
issues. A preview is recorded as ``delegation_preview``, never ``sd``, and is never a token."""

import re

import jwt
import pytest
from django.test import Client
from django.urls import reverse

from delegation.models import AuditEvent
from tenantauth import services
from tenantauth.models import GRANT_DELEGATION_ID_TOKEN, TenantUser
from tests.delegation.helpers import DROP, delegate
from tests.delegation.test_policy import _setup_case

SCOPE = "openid email name"
# A known add-on api_type whose minter the tests unregister (every one has a minter today).
UNREGISTERED = "sap_api"
# A compact JWS: three base64url segments, the first a JSON object ("eyJ").
COMPACT_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def try_it_url(app) -> str:
    return reverse("admin:tenantauth_application_tryit", args=[app.pk])


def _setup(setup, case):
    """(source, target, api_type) for one case; the target always exists here (the panel
    lives on the target's page)."""
    api_type = ""
    if case in (
        "source_no_grant",
        "source_inactive",
        "user_blocked",
        "bogus_api_type",
        "unregistered_api_type",
        "auth0_alias",
    ):
        source, target = setup["appA"], setup["apiC"]
        if case == "source_no_grant":
            grants = [g for g in source.grant_types if g != GRANT_DELEGATION_ID_TOKEN]
            services.application_update(application=source, grant_types=grants)
        elif case == "source_inactive":
            services.application_update(application=source, is_active=False)
        elif case == "user_blocked":
            services.tenant_user_set_blocked(user=setup["user"], blocked=True)
        elif case == "bogus_api_type":
            api_type = "bogus"
        elif case == "unregistered_api_type":
            api_type = UNREGISTERED
        elif case == "auth0_alias":
            api_type = "auth0"
        return source, target, api_type
    source, target = _setup_case(setup, case)
    return source, target, api_type


CASES = [
    "listed",
    "self",
    "not_listed",
    "source_lists_target",
    "empty_none",
    "empty_all",
    "inactive",
    "target_conformant",
    "source_conformant",
    "source_no_grant",
    "source_inactive",
    "user_blocked",
    "bogus_api_type",
    "unregistered_api_type",
    "auth0_alias",
]


@pytest.mark.parametrize("case", CASES)
def test_try_it_and_delegation_agree(client, tenant_a, case, monkeypatch):
    """For each case: the panel says allowed exactly when /delegation issues a token; when
    refused, the panel names the error code /delegation answers; when allowed, the previewed
    header and claims equal the issued token's (but for iat, exp and jti, which are fresh
    each time)."""
    if case == "unregistered_api_type":
        from delegation import minters

        monkeypatch.delitem(minters.MINTERS, UNREGISTERED)
    source, target, api_type = _setup(tenant_a, case)
    for app in (source, target):
        app.refresh_from_db()
    admin = Client()
    admin.force_login(tenant_a["admin"])
    panel = admin.post(
        try_it_url(target),
        {"source": source.pk, "user": tenant_a["user"].email, "scope": SCOPE, "api_type": api_type},
    )
    assert panel.status_code == 200
    result = panel.context["result"]

    response = delegate(
        client, tenant_a, source=source, target=target, scope=SCOPE, api_type=api_type or DROP
    )
    if response.status_code == 200:
        assert result is not None and result.allowed, result
        token = response.json()["id_token"]
        issued = jwt.decode(token, options={"verify_signature": False})
        assert jwt.get_unverified_header(token) == result.preview.header
        # Fresh per token; auth_time is the caller's sign-in, which a preview stands in for.
        fresh = ("iat", "exp", "jti", "auth_time")
        assert "auth_time" in issued and "auth_time" in result.preview.claims
        assert {k: v for k, v in issued.items() if k not in fresh} == {
            k: v for k, v in result.preview.claims.items() if k not in fresh
        }
        assert issued["exp"] - issued["iat"] == result.preview.expires_in
        assert 'id="try-it-explanation">allowed: ' in panel.content.decode()
    else:
        error = response.json()["error"]
        if result is None:  # the form refused the request itself (an unknown api_type)
            assert error == "invalid_request"
            assert "api_type" in panel.context["form"].errors
        else:
            assert not result.allowed
            assert result.endpoint_error == error
            assert 'id="try-it-explanation">refused: ' in panel.content.decode()


def test_preview_is_recorded_as_a_preview_and_is_no_token(tenant_a):
    """One delegation_preview row (actor, parties, rule, outcome), no sd row, no signature and
    no compact JWT anywhere in the page."""
    admin = Client()
    admin.force_login(tenant_a["admin"])
    api_c = tenant_a["apiC"]
    page = admin.post(
        try_it_url(api_c),
        {"source": tenant_a["appA"].pk, "user": tenant_a["user"].user_id, "scope": "openid"},
    )
    content = page.content.decode()
    assert 'id="preview-claims"' in content
    assert not COMPACT_JWT.search(content)
    assert "no-store" in page["Cache-Control"]
    (event,) = AuditEvent.objects.filter(tenant=tenant_a["tenant"], type="delegation_preview")
    assert (event.actor, event.source_client_id, event.target_client_id) == (
        tenant_a["admin"],
        tenant_a["appA"].client_id,
        api_c.client_id,
    )
    assert (event.reason, event.details["allowed"], event.jti, event.token_fingerprint) == (
        "in_allowlist",
        True,
        "",
        "",
    )
    assert not AuditEvent.objects.filter(type="sd").exists()


def test_scope_the_endpoint_refuses_is_an_error_next_to_the_field(tenant_a):
    """A scope value /delegation does not offer (invalid_scope: not an attribute name) is a
    field error; no preview."""
    admin = Client()
    admin.force_login(tenant_a["admin"])
    page = admin.post(
        try_it_url(tenant_a["apiC"]),
        {"source": tenant_a["appA"].pk, "user": tenant_a["user"].email, "scope": "openid read:all"},
    )
    assert "invalid_scope" in page.content.decode()
    assert re.search(r'<input[^>]*name="scope"[^>]*aria-invalid="true"', page.content.decode())
    assert not AuditEvent.objects.filter(type="delegation_preview").exists()


# --- tenant isolation ----------------------------------------------------------------------
def test_other_tenants_source_and_user_are_unknown(tenant_a, tenant_b):
    """On A's panel, B's application is "Select a valid choice" and B's user is unknown;
    nothing is previewed or recorded."""
    admin = Client()
    admin.force_login(tenant_a["admin"])
    page = admin.post(
        try_it_url(tenant_a["apiC"]),
        {"source": tenant_b["appA"].pk, "user": tenant_b["user"].email, "scope": "openid"},
    )
    form = page.context["form"]
    assert "Select a valid choice" in str(form.errors["source"])
    assert "No user of this tenant" in str(form.errors["user"])
    content = page.content.decode()  # (the e-mail typed is echoed in its box, nothing more)
    for marker in (tenant_b["appA"].client_id, tenant_b["user"].user_id, "Tenant TENANT-B"):
        assert marker not in content
    assert not AuditEvent.objects.filter(type="delegation_preview").exists()


def test_other_tenants_admin_cannot_use_the_panel(tenant_a, tenant_b):
    """Tenant B's admin posting to A's panel, or asking A's user suggestions, gets 403 and
    nothing of A."""
    b_admin = Client()
    b_admin.force_login(tenant_b["admin"])
    api_c = tenant_a["apiC"]
    page = b_admin.post(
        try_it_url(api_c),
        {"source": tenant_a["appA"].pk, "user": tenant_a["user"].email, "scope": "openid"},
    )
    users = b_admin.get(
        reverse("admin:tenantauth_application_tryitusers", args=[api_c.pk]), {"q": "user"}
    )
    for response in (page, users):
        assert response.status_code == 403
        assert tenant_a["user"].email.encode() not in response.content
    assert not AuditEvent.objects.filter(type="delegation_preview").exists()


def test_user_suggestions_are_this_tenants(tenant_a, tenant_b):
    """The suggestions search A's users by e-mail or user_id prefix and never return B's."""
    admin = Client()
    admin.force_login(tenant_a["admin"])
    url = reverse("admin:tenantauth_application_tryitusers", args=[tenant_a["apiC"].pk])
    TenantUser.objects.filter(pk=tenant_b["user"].pk).update(email="user@tenant-a.example.org")
    found = admin.get(url, {"q": "USER@"}).json()["results"]
    assert found == [
        {"email": tenant_a["user"].email, "user_id": tenant_a["user"].user_id, "name": "Ada User"}
    ]
    assert admin.get(url, {"q": tenant_b["user"].user_id}).json() == {"results": []}
    assert admin.get(url, {"q": ""}).json() == {"results": []}


@pytest.mark.parametrize("method", ["get", "post"])
def test_auditor_and_non_member_cannot_use_the_panel(tenant_a, method):
    """An auditor gets 403; an account without membership the login page."""
    from django.contrib.auth import get_user_model

    url = try_it_url(tenant_a["apiC"])
    data = {"source": tenant_a["appA"].pk, "user": tenant_a["user"].email, "scope": "openid"}
    auditor = Client()
    auditor.force_login(tenant_a["auditor"])
    assert getattr(auditor, method)(url, data).status_code == 403
    outsider = Client()
    outsider.force_login(get_user_model().objects.create_user("nobody", is_staff=True))
    response = getattr(outsider, method)(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not AuditEvent.objects.filter(type="delegation_preview").exists()


def test_try_it_needs_its_csrf_token(tenant_a):
    """The panel's POST without the page's CSRF token is refused; with it, it works."""
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(tenant_a["admin"])
    url = try_it_url(tenant_a["apiC"])
    data = {"source": tenant_a["appA"].pk, "user": tenant_a["user"].email, "scope": "openid"}
    assert csrf_client.post(url, data).status_code == 403
    page = csrf_client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert csrf_client.post(url, {**data, "csrfmiddlewaretoken": token}).status_code == 200
    assert AuditEvent.objects.filter(type="delegation_preview").count() == 1

"""POST dbconnections/signup, GET userinfo, discovery and JWKS."""

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import check_password

from tenantauth import services as core_services
from tenantauth.models import Connection, TenantUser
from tests.tenantauth.oidc_support import password_grant

pytestmark = pytest.mark.django_db
STRONG = "violet-otter-harbour-92"


def _signup(client, setup, **overrides):
    data = {
        "client_id": setup["appA"].client_id,
        "email": "new.person@example.com",
        "password": STRONG,
        "connection": "Username-Password-Authentication",
    }
    data.update(overrides)
    return client.post(
        f"/t/{setup['tenant'].slug}/dbconnections/signup",
        json.dumps({k: v for k, v in data.items() if v is not None}),
        content_type="application/json",
    )


def test_signup_creates_a_user_who_can_sign_in(client, tenant_a):
    """Sign-up stores a hashed password and user_metadata, answers Auth0's shape without the
    password, and the new user can sign in with the password grant."""
    response = _signup(client, tenant_a, email="New.Person@Example.com", user_metadata={"a": "b"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["email"] == "new.person@example.com" and body["email_verified"] is False
    assert body["user_metadata"] == {"a": "b"} and STRONG.encode() not in response.content
    user = TenantUser.objects.get(tenant=tenant_a["tenant"], email="new.person@example.com")
    assert user.user_id == "auth0|" + body["_id"]
    assert user.password != STRONG and check_password(STRONG, user.password)
    login = password_grant(client, tenant_a, username=user.email, password=STRONG)
    assert login.status_code == 200, login.content


def test_duplicate_email_gets_auth0_opaque_answer(client, tenant_a):
    """A taken email answers exactly Auth0's 400 invalid_signup / "Invalid sign up"."""
    response = _signup(client, tenant_a, email=tenant_a["user"].email)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_signup",
        "description": "Invalid sign up",
        "statusCode": 400,
    }
    assert TenantUser.objects.filter(tenant=tenant_a["tenant"]).count() == 1


def test_same_email_in_another_tenant_is_independent(client, tenant_a, tenant_b):
    """Users are per tenant: tenant B's email signs up at tenant A as a new tenant-A user and
    tenant B is left untouched."""
    response = _signup(client, tenant_a, email=tenant_b["user"].email)
    assert response.status_code == 200
    assert TenantUser.objects.filter(tenant=tenant_b["tenant"]).count() == 1


@pytest.mark.parametrize(
    "password", ["short1!", "password123", "12345678901", "new.person@example.com"]
)
def test_weak_passwords_refused_with_reasons(client, tenant_a, password):
    """Too short, common, numeric or email-like passwords get invalid_password with the rule
    broken (never the password itself) and create no user."""
    response = _signup(client, tenant_a, password=password)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_password" and body["name"] == "PasswordStrengthError"
    assert body["description"].startswith("Password is too weak")
    assert password not in body["description"]
    assert not TenantUser.objects.filter(email="new.person@example.com").exists()


def test_connection_min_length_applies(client, tenant_a):
    """Connection.password_min_length is enforced above Django's minimum."""
    Connection.objects.filter(tenant=tenant_a["tenant"]).update(password_min_length=30)
    response = _signup(client, tenant_a)
    assert response.status_code == 400
    assert "at least 30 characters" in response.json()["description"]


def test_signup_bad_requests(client, tenant_a, tenant_b):
    """Another tenant's client, an unknown connection, a bad email, non-string metadata and a
    missing field are refused, creating nobody."""
    assert _signup(client, tenant_a, client_id=tenant_b["appA"].client_id).status_code == 401
    assert _signup(client, tenant_a, connection="Other").json()["code"] == "invalid_connection"
    assert _signup(client, tenant_a, email="not-an-email").json()["code"] == "invalid_signup"
    assert _signup(client, tenant_a, user_metadata={"a": 1}).status_code == 400
    assert _signup(client, tenant_a, password=None).json()["code"] == "invalid_request"
    assert TenantUser.objects.count() == 2


def _nested(levels: int) -> dict:
    value: dict = {"leaf": "x"}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


def test_signup_metadata_depth(client, tenant_a):
    """A user_metadata object nested within the body's 8-level limit reaches sign-up's own
    checks (which want string values); one nested deeper is refused as too deep. Nobody is
    created either way."""
    users = TenantUser.objects.count()
    within = _signup(client, tenant_a, user_metadata=_nested(7)).json()
    assert within["code"] == "invalid_request"
    assert within["description"].startswith("user_metadata values must be strings")
    too_deep = _signup(client, tenant_a, user_metadata=_nested(8)).json()
    assert too_deep["code"] == "invalid_request"
    assert too_deep["description"] == "The body is nested too deeply."
    assert TenantUser.objects.count() == users


def _signup_form(client, setup, user_metadata: str):
    data = {
        "client_id": setup["appA"].client_id,
        "email": "form.person@example.com",
        "password": STRONG,
        "connection": "Username-Password-Authentication",
        "user_metadata": user_metadata,
    }
    return client.post(
        f"/t/{setup['tenant'].slug}/dbconnections/signup",
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
    )


def test_signup_form_metadata_is_strict_json(client, tenant_a):
    """user_metadata sent in a form is JSON parsed as strictly as a JSON body: an object is
    stored; NaN, a duplicated key, a non-object or over-deep nesting is 400 invalid_request."""
    users = TenantUser.objects.count()
    for bad in ('{"a": NaN}', '{"a": "1", "a": "2"}', '["a"]', json.dumps(_nested(9))):
        response = _signup_form(client, tenant_a, bad)
        assert response.status_code == 400, bad
        assert response.json() == {
            "code": "invalid_request",
            "description": "Parameter 'user_metadata' must be a JSON object.",
            "statusCode": 400,
        }
    assert TenantUser.objects.count() == users
    ok = _signup_form(client, tenant_a, '{"team": "blue"}')
    assert ok.status_code == 200, ok.content
    assert ok.json()["user_metadata"] == {"team": "blue"}


def test_userinfo_accepts_access_token_only(client, tenant_a, tenant_b):
    """userinfo answers the scope's claims for a valid access token; an id_token, another
    tenant's access token, garbage or no token get 401 invalid_token."""
    body = password_grant(client, tenant_a, scope="openid email").json()
    url = f"/t/{tenant_a['tenant'].slug}/userinfo"
    ok = client.get(url, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert ok.status_code == 200
    assert ok.json() == {
        "sub": tenant_a["user"].user_id,
        "email": tenant_a["user"].email,
        "email_verified": True,
    }
    other = password_grant(client, tenant_b).json()["access_token"]
    for header in (f"Bearer {body['id_token']}", f"Bearer {other}", "Bearer abc.def.ghi", ""):
        response = client.get(url, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response.json()["error"] == "invalid_token"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_refuses_blocked_user(client, tenant_a):
    """Blocking a user makes their outstanding access tokens useless at userinfo."""
    token = password_grant(client, tenant_a).json()["access_token"]
    core_services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    response = client.get(
        f"/t/{tenant_a['tenant'].slug}/userinfo", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 401


def test_discovery_document(client, tenant_a):
    """Discovery names the tenant's exact issuer and endpoints and what they support."""
    tenant = tenant_a["tenant"]
    doc = client.get(f"/t/{tenant.slug}/.well-known/openid-configuration").json()
    assert doc["issuer"] == tenant.issuer
    assert doc["authorization_endpoint"] == tenant.issuer + "authorize"
    assert doc["token_endpoint"] == tenant.issuer + "oauth/token"
    assert doc["userinfo_endpoint"] == tenant.issuer + "userinfo"
    assert doc["jwks_uri"] == tenant.issuer + ".well-known/jwks.json"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["HS256", "RS256"]
    assert "password" in doc["grant_types_supported"]
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
    assert client.get("/t/nope/.well-known/openid-configuration").status_code == 404


def test_jwks_publishes_active_and_valid_retired_keys_only(client, tenant_a, tenant_b):
    """JWKS holds the active key and retired keys still verifying, with kid/use/alg and no
    private parts, and none of tenant B's keys."""
    tenant = tenant_a["tenant"]
    old_kid = tenant.active_signing_key.kid
    core_services.signing_key_rotate(tenant=tenant, overlap=timedelta(hours=1))
    expired_kid = tenant.signing_keys.get(status="active").kid
    core_services.signing_key_rotate(tenant=tenant, overlap=timedelta(seconds=-1))
    keys = client.get(f"/t/{tenant.slug}/.well-known/jwks.json").json()["keys"]
    kids = {k["kid"] for k in keys}
    assert old_kid in kids and expired_kid not in kids and len(kids) == 2
    assert tenant_b["tenant"].active_signing_key.kid not in kids
    for key in keys:
        assert key["use"] == "sig" and key["alg"] == "RS256" and key["kty"] == "RSA"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)

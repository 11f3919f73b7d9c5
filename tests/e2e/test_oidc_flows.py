"""Sign-in flows end to end: a real server on loopback, Authlib as the OAuth client, requests
as the browser, PyJWT verifying id_tokens against the published JWKS or the client secret."""

import html
import re
from datetime import timedelta
from urllib.parse import urljoin

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.db import connections
from django.utils import timezone

from tenantauth import services as core_services
from tenantauth.models import AuthorizationCode, RefreshToken
from tests.conftest import USER_PASSWORD
from tests.tenantauth.oidc_support import CALLBACK, REALM_GRANT, query_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SCOPE = "openid profile email offline_access"


@pytest.fixture
def server(live_server, settings, monkeypatch):
    """The live server, with the issuer and discovery pointing at it.

    Server threads close their database connection after each request (CONN_MAX_AGE 0), so a
    kept-alive HTTP connection cannot hold a PostgreSQL session past the test database.
    """
    settings.PUBLIC_BASE_URL = live_server.url
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback only, no TLS
    return live_server.url


@pytest.fixture(autouse=True)
def _close_http_sessions(monkeypatch):
    """Close every requests/Authlib session a test opens, ending its keep-alive sockets so the
    server threads serving them (and their database connections) end with the test."""
    opened = []
    original = requests.Session.__init__

    def tracking_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(requests.Session, "__init__", tracking_init)
    yield
    for session in opened:
        session.close()


@pytest.fixture
def tenant(server, transactional_db, tenant_a):
    return tenant_a


def discover(server, setup) -> dict:
    response = requests.get(
        f"{server}/t/{setup['tenant'].slug}/.well-known/openid-configuration", timeout=10
    )
    response.raise_for_status()
    meta = response.json()
    assert meta["issuer"] == f"{server}/t/{setup['tenant'].slug}/"
    return meta


def oauth_client(app, *, secret=True, auth_method="client_secret_basic") -> OAuth2Session:
    return OAuth2Session(
        client_id=app.client_id,
        client_secret=app.client_secret() if secret else None,
        scope=SCOPE,
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method if secret else "none",
    )


def browser_login(authorize_url: str, *, email: str, password: str = USER_PASSWORD):
    """Fetch the login page, post its form with the session's CSRF cookie, return the answer
    without following the redirect (the callback host does not exist)."""
    browser = requests.Session()
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:300]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    return browser.post(
        urljoin(authorize_url, action),
        data={"csrfmiddlewaretoken": token, "email": email, "password": password},
        allow_redirects=False,
        timeout=10,
    )


def start_code_flow(meta, client, setup, **extra):
    verifier = generate_token(48)
    nonce = generate_token(16)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    answer = browser_login(url, email=setup["user"].email)
    assert answer.status_code == 302, answer.text[:300]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?") and query_of(location)["state"] == state
    return location, verifier, nonce


def verify_id_token(token: str, meta: dict, app) -> dict:
    if app.jwt_signature_algorithm == "RS256":
        key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token).key
        algorithms = ["RS256"]
    else:
        key, algorithms = app.client_secret(), ["HS256"]
    return jwt.decode(
        token, key, algorithms=algorithms, audience=app.client_id, issuer=meta["issuer"]
    )


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
def test_authorization_code_pkce_flow(server, tenant, alg):
    """Discovery, the hosted login form, code + PKCE S256 exchange (client_secret_basic), an
    id_token verified against JWKS or the secret, userinfo, and a refresh through Authlib."""
    app = tenant["appA"]
    core_services.application_update(application=app, jwt_signature_algorithm=alg)
    meta = discover(server, tenant)
    client = oauth_client(app)
    location, verifier, nonce = start_code_flow(meta, client, tenant)
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer" and token["scope"] == SCOPE
    claims = verify_id_token(token["id_token"], meta, app)
    assert claims["sub"] == tenant["user"].user_id and claims["nonce"] == nonce
    assert claims["email"] == tenant["user"].email and "auth_time" in claims
    info = client.get(meta["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200 and info.json()["sub"] == tenant["user"].user_id
    refreshed = client.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert verify_id_token(refreshed["id_token"], meta, app)["sub"] == claims["sub"]


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
def test_password_realm_flow(server, tenant, alg):
    """The password-realm grant through Authlib (client_secret_post) gives a verifiable
    id_token for both algorithms."""
    app = tenant["appB"]
    core_services.application_update(application=app, jwt_signature_algorithm=alg)
    meta = discover(server, tenant)
    client = oauth_client(app, auth_method="client_secret_post")
    token = client.fetch_token(
        meta["token_endpoint"],
        grant_type=REALM_GRANT,
        username=tenant["user"].email,
        password=USER_PASSWORD,
        realm="Username-Password-Authentication",
    )
    claims = verify_id_token(token["id_token"], meta, app)
    assert claims["sub"] == tenant["user"].user_id and claims["iss"] == meta["issuer"]
    assert token["refresh_token"]


def test_public_spa_code_flow_without_secret(server, tenant):
    """A SPA runs the code flow with PKCE alone (no client secret)."""
    app = tenant["appB"]
    core_services.application_update(application=app, app_type="spa")
    meta = discover(server, tenant)
    client = oauth_client(app, secret=False)
    location, verifier, _ = start_code_flow(meta, client, tenant)
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert verify_id_token(token["id_token"], meta, app)["aud"] == app.client_id


# --- failures: each gets its OAuth error and nothing is issued -----------------------------
def _error_of(call) -> str:
    with pytest.raises(AuthlibOAuthError) as info:
        call()
    return info.value.error


def test_other_tenants_client_refused(server, tenant, tenant_b):
    """Tenant B's client at tenant A: the login page refuses it (no redirect) and the token
    endpoint answers invalid_client."""
    meta = discover(server, tenant)
    client = oauth_client(tenant_b["appA"])
    url, _ = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=generate_token(48)
    )
    page = requests.get(url, timeout=10, allow_redirects=False)
    assert page.status_code == 400 and "Location" not in page.headers
    error = _error_of(
        lambda: client.fetch_token(
            meta["token_endpoint"],
            grant_type="password",
            username=tenant["user"].email,
            password=USER_PASSWORD,
        )
    )
    assert error == "invalid_client"
    assert not RefreshToken.objects.exists() and not AuthorizationCode.objects.exists()


def test_wrong_redirect_uri_refused(server, tenant):
    """An unregistered redirect_uri is shown on the page, never redirected to; a code
    exchanged with another redirect_uri than its own is invalid_grant."""
    meta = discover(server, tenant)
    client = oauth_client(tenant["appA"])
    url, _ = client.create_authorization_url(
        meta["authorization_endpoint"],
        code_verifier=generate_token(48),
        redirect_uri="https://attacker.example/cb",
    )
    page = requests.get(url, timeout=10, allow_redirects=False)
    assert page.status_code == 400 and "attacker.example" not in page.headers.get("Location", "")
    location, verifier, _ = start_code_flow(meta, client, tenant)
    error = _error_of(
        lambda: client.fetch_token(
            meta["token_endpoint"],
            authorization_response=location,
            code_verifier=verifier,
            redirect_uri="http://127.0.0.1:9999/elsewhere",
        )
    )
    assert error == "invalid_grant" and not RefreshToken.objects.exists()


def test_reused_tampered_and_wrong_verifier_codes(server, tenant):
    """A tampered code and a wrong code_verifier are invalid_grant; a code used once is
    invalid_grant the second time and the refresh token it produced is revoked."""
    meta = discover(server, tenant)
    client = oauth_client(tenant["appA"])
    location, verifier, _ = start_code_flow(meta, client, tenant)
    code = query_of(location)["code"]
    tampered = location.replace(code, code[:-3] + ("xyz" if code[-3:] != "xyz" else "abc"))
    assert (
        _error_of(
            lambda: client.fetch_token(
                meta["token_endpoint"], authorization_response=tampered, code_verifier=verifier
            )
        )
        == "invalid_grant"
    )
    assert (
        _error_of(
            lambda: client.fetch_token(
                meta["token_endpoint"],
                authorization_response=location,
                code_verifier=generate_token(48),
            )
        )
        == "invalid_grant"
    )
    assert not RefreshToken.objects.exists()
    first = client.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert (
        _error_of(
            lambda: client.fetch_token(
                meta["token_endpoint"], authorization_response=location, code_verifier=verifier
            )
        )
        == "invalid_grant"
    )
    assert RefreshToken.objects.get().revoked_at is not None
    assert (
        _error_of(
            lambda: client.refresh_token(
                meta["token_endpoint"], refresh_token=first["refresh_token"]
            )
        )
        == "invalid_grant"
    )


def test_wrong_password_and_blocked_user(server, tenant):
    """A wrong password on the form gets no code; a blocked user gets no code from the form
    and invalid_grant "user is blocked" from the password-realm grant."""
    meta = discover(server, tenant)
    client = oauth_client(tenant["appA"])
    url, _ = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=generate_token(48)
    )
    wrong = browser_login(url, email=tenant["user"].email, password="not the password")
    assert wrong.status_code == 400 and "Location" not in wrong.headers
    realm = {
        "grant_type": REALM_GRANT,
        "username": tenant["user"].email,
        "realm": "Username-Password-Authentication",
    }
    with pytest.raises(AuthlibOAuthError) as info:
        client.fetch_token(meta["token_endpoint"], password="not the password", **realm)
    assert info.value.error == "invalid_grant"
    core_services.tenant_user_set_blocked(user=tenant["user"], blocked=True)
    blocked = browser_login(url, email=tenant["user"].email)
    assert blocked.status_code == 400 and "blocked" in blocked.text
    with pytest.raises(AuthlibOAuthError) as info:
        client.fetch_token(meta["token_endpoint"], password=USER_PASSWORD, **realm)
    assert info.value.error == "invalid_grant" and info.value.description == "user is blocked"
    assert not AuthorizationCode.objects.exists() and not RefreshToken.objects.exists()


def test_expired_and_reused_refresh_tokens(server, tenant):
    """An expired refresh token is invalid_grant; reusing a rotated one is invalid_grant and
    revokes its family, so the successor dies too."""
    meta = discover(server, tenant)
    client = oauth_client(tenant["appA"])
    realm = {
        "grant_type": REALM_GRANT,
        "username": tenant["user"].email,
        "password": USER_PASSWORD,
        "realm": "Username-Password-Authentication",
    }
    first = client.fetch_token(meta["token_endpoint"], **realm)
    second = client.refresh_token(meta["token_endpoint"], refresh_token=first["refresh_token"])
    assert (
        _error_of(
            lambda: client.refresh_token(
                meta["token_endpoint"], refresh_token=first["refresh_token"]
            )
        )
        == "invalid_grant"
    )
    assert (
        _error_of(
            lambda: client.refresh_token(
                meta["token_endpoint"], refresh_token=second["refresh_token"]
            )
        )
        == "invalid_grant"
    )
    assert not RefreshToken.objects.filter(revoked_at__isnull=True).exists()

    third = client.fetch_token(meta["token_endpoint"], **realm)
    RefreshToken.objects.filter(revoked_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    count = RefreshToken.objects.count()
    assert (
        _error_of(
            lambda: client.refresh_token(
                meta["token_endpoint"], refresh_token=third["refresh_token"]
            )
        )
        == "invalid_grant"
    )
    assert RefreshToken.objects.count() == count

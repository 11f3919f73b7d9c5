"""GET/POST /t/<slug>/authorize (the hosted login page) and the authorization_code grant."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from tenantauth import services as core_services
from tenantauth.models import Application, AuthorizationCode, RefreshToken
from tests.conftest import USER_PASSWORD
from tests.tenantauth.oidc_support import (
    CALLBACK,
    authorize_params,
    csrf_token_from,
    decode_hs256,
    decode_rs256,
    login_for_code,
    pkce_pair,
    post_token,
    query_of,
)

pytestmark = pytest.mark.django_db


def _url(setup):
    return f"/t/{setup['tenant'].slug}/authorize"


def _exchange(client, setup, code, *, app_name="appA", verifier=None, **overrides):
    app = setup[app_name]
    data = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "code": code,
        "redirect_uri": CALLBACK,
    }
    if verifier:
        data["code_verifier"] = verifier
    data.update(overrides)
    return post_token(client, setup["tenant"], {k: v for k, v in data.items() if v is not None})


def _assert_error(response, status, error):
    assert response.status_code == status, response.content
    assert response.json()["error"] == error
    assert set(response.json()) == {"error", "error_description"}
    assert response["Cache-Control"] == "no-store"


def test_login_page_is_an_accessible_csrf_protected_form(client, tenant_a):
    """The page is a real form: CSRF token, labelled email and password fields, autofocus,
    the local stylesheet, no inline (or any) script, and no-store caching."""
    verifier, challenge = pkce_pair()
    response = client.get(_url(tenant_a), authorize_params(tenant_a["appA"], challenge=challenge))
    assert response.status_code == 200
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert csrf_token_from(html)
    assert re.search(r'<label for="id_email">', html) and 'id="id_email"' in html
    assert re.search(r'<label for="id_password">', html) and 'id="id_password"' in html
    assert "autofocus" in html and 'type="password"' in html
    assert '<link rel="stylesheet" href="/static/oidc/login.css">' in html
    assert "<script" not in html and "onclick" not in html.lower()
    assert "appA" in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_login_page_stylesheet_has_visible_focus(client):
    """The stylesheet gives focused controls a visible outline."""
    from django.contrib.staticfiles import finders

    css = open(finders.find("oidc/login.css")).read()
    assert ":focus-visible" in css and "outline: 3px solid" in css


def test_login_form_requires_csrf(tenant_a):
    """Posting the login form without the CSRF token is refused and issues no code."""
    csrf_client = Client(enforce_csrf_checks=True)
    params = authorize_params(tenant_a["appA"], challenge=pkce_pair()[1])
    response = csrf_client.post(
        f"{_url(tenant_a)}?{urlencode(params)}",
        {"email": tenant_a["user"].email, "password": USER_PASSWORD},
    )
    assert response.status_code == 403
    assert not AuthorizationCode.objects.exists()


def test_code_flow_with_pkce_hs256(client, tenant_a):
    """Login redirects to redirect_uri?code&state; the code (stored hashed) and the verifier
    give an id_token with nonce and auth_time, an access token and a refresh token."""
    core_services.application_update(application=tenant_a["appA"], jwt_signature_algorithm="HS256")
    verifier, challenge = pkce_pair()
    callback = login_for_code(client, tenant_a, challenge=challenge)
    row = AuthorizationCode.objects.get()
    assert row.code_hash != callback["code"] and row.code_challenge == challenge
    assert (row.expires_at - row.created_at) <= timedelta(seconds=61)
    response = _exchange(client, tenant_a, callback["code"], verifier=verifier)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "openid profile email offline_access"
    claims = decode_hs256(body["id_token"], tenant_a["appA"])
    assert claims["nonce"] == callback["nonce"] and claims["iss"] == tenant_a["tenant"].issuer
    assert claims["auth_time"] <= claims["iat"]
    assert body["refresh_token"]
    assert RefreshToken.objects.get().family == row.refresh_token_family


def test_code_flow_rs256_confidential_without_pkce(client, tenant_a):
    """A confidential RS256 app may use the code flow without PKCE (client secret instead)."""
    app = tenant_a["appB"]
    core_services.application_update(application=app, jwt_signature_algorithm="RS256")
    callback = login_for_code(client, tenant_a, "appB", scope="openid email")
    response = _exchange(client, tenant_a, callback["code"], app_name="appB")
    assert response.status_code == 200, response.content
    claims = decode_rs256(response.json()["id_token"], tenant_a["tenant"], app.client_id)
    assert claims["email"] == tenant_a["user"].email and "name" not in claims


def test_reused_code_refused_and_revokes_its_refresh_tokens(client, tenant_a):
    """A second exchange of a code is invalid_grant and revokes the refresh tokens issued from
    the first one."""
    verifier, challenge = pkce_pair()
    code = login_for_code(client, tenant_a, challenge=challenge)["code"]
    first = _exchange(client, tenant_a, code, verifier=verifier)
    assert first.status_code == 200
    second = _exchange(client, tenant_a, code, verifier=verifier)
    _assert_error(second, 400, "invalid_grant")
    assert RefreshToken.objects.filter(revoked_at__isnull=True).count() == 0
    app = tenant_a["appA"]
    refresh = post_token(
        client,
        tenant_a["tenant"],
        {
            "grant_type": "refresh_token",
            "client_id": app.client_id,
            "client_secret": app.client_secret(),
            "refresh_token": first.json()["refresh_token"],
        },
    )
    _assert_error(refresh, 400, "invalid_grant")


def test_tampered_wrong_verifier_wrong_redirect_and_other_client(client, tenant_a):
    """A tampered code, a wrong code_verifier, a missing verifier, a different redirect_uri and
    another client's exchange are each invalid_grant and issue nothing; the untouched code
    still works afterwards."""
    verifier, challenge = pkce_pair()
    code = login_for_code(client, tenant_a, challenge=challenge)["code"]
    tampered = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    _assert_error(_exchange(client, tenant_a, tampered, verifier=verifier), 400, "invalid_grant")
    wrong_verifier = pkce_pair()[0]
    _assert_error(_exchange(client, tenant_a, code, verifier=wrong_verifier), 400, "invalid_grant")
    _assert_error(_exchange(client, tenant_a, code), 400, "invalid_grant")
    _assert_error(
        _exchange(
            client, tenant_a, code, verifier=verifier, redirect_uri="http://127.0.0.1:9999/other"
        ),
        400,
        "invalid_grant",
    )
    _assert_error(
        _exchange(client, tenant_a, code, app_name="appB", verifier=verifier),
        400,
        "invalid_grant",
    )
    assert not RefreshToken.objects.exists()
    assert _exchange(client, tenant_a, code, verifier=verifier).status_code == 200


def test_expired_code_refused(client, tenant_a):
    """A code older than its minute is invalid_grant."""
    verifier, challenge = pkce_pair()
    code = login_for_code(client, tenant_a, challenge=challenge)["code"]
    AuthorizationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    _assert_error(_exchange(client, tenant_a, code, verifier=verifier), 400, "invalid_grant")


def test_other_tenants_code_refused(client, tenant_a, tenant_b):
    """A code minted at tenant B is unknown at tenant A, even for a client of the same name."""
    verifier, challenge = pkce_pair()
    code = login_for_code(client, tenant_b, challenge=challenge)["code"]
    _assert_error(_exchange(client, tenant_a, code, verifier=verifier), 400, "invalid_grant")


def test_public_app_uses_pkce_alone(client, tenant_a):
    """A SPA exchanges its code with the verifier and no secret."""
    app = tenant_a["appB"]
    core_services.application_update(application=app, app_type=Application.AppType.SPA)
    verifier, challenge = pkce_pair()
    code = login_for_code(client, tenant_a, "appB", challenge=challenge)["code"]
    response = _exchange(
        client, tenant_a, code, app_name="appB", verifier=verifier, client_secret=""
    )
    assert response.status_code == 200, response.content


def test_public_app_must_send_pkce(client, tenant_a):
    """A public app's authorization request without code_challenge goes back as
    invalid_request with the state."""
    app = tenant_a["appB"]
    core_services.application_update(application=app, app_type=Application.AppType.NATIVE)
    params = authorize_params(app, challenge=None)
    response = client.get(_url(tenant_a), params)
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert query["error"] == "invalid_request" and query["state"] == params["state"]


def test_plain_pkce_refused(client, tenant_a):
    """code_challenge_method=plain (or a challenge without a method) is refused."""
    app = tenant_a["appA"]
    for method in ("plain", None):
        params = authorize_params(app, challenge=None, code_challenge="a" * 43)
        if method:
            params["code_challenge_method"] = method
        response = client.get(_url(tenant_a), params)
        assert response.status_code == 302
        assert query_of(response["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none"}, "login_required"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
    ],
)
def test_errors_after_client_check_go_back_to_callback(client, tenant_a, change, error):
    """Once client and redirect_uri are genuine, errors are returned to the callback."""
    params = authorize_params(tenant_a["appA"], challenge=pkce_pair()[1], **change)
    response = client.get(_url(tenant_a), params)
    assert response.status_code == 302
    assert response["Location"].startswith(CALLBACK + "?")
    query = query_of(response["Location"])
    assert query["error"] == error and query["state"] == params["state"]


def test_app_without_code_grant_is_unauthorized_client(client, tenant_a):
    """An app lacking the authorization_code grant gets unauthorized_client at its callback."""
    app = tenant_a["appB"]
    core_services.application_update(application=app, grant_types=["password"])
    response = client.get(_url(tenant_a), authorize_params(app, challenge=pkce_pair()[1]))
    assert query_of(response["Location"])["error"] == "unauthorized_client"


def test_unsafe_errors_shown_on_page_never_redirected(client, tenant_a, tenant_b):
    """Unknown client, another tenant's client, an unregistered or missing redirect_uri and a
    duplicated client_id are shown on the page (400), never redirected anywhere."""
    challenge = pkce_pair()[1]
    cases = [
        authorize_params(tenant_a["appA"], challenge=challenge, client_id="nope"),
        authorize_params(tenant_b["appA"], challenge=challenge),
        authorize_params(
            tenant_a["appA"], challenge=challenge, redirect_uri="https://evil.example/cb"
        ),
        authorize_params(tenant_a["appA"], challenge=challenge, redirect_uri=CALLBACK + "/extra"),
        authorize_params(tenant_a["appA"], challenge=challenge, redirect_uri=None),
    ]
    for params in cases:
        response = client.get(_url(tenant_a), params)
        assert response.status_code == 400, params
        assert not response.has_header("Location")
        assert b'role="alert"' in response.content
        assert b"<form" not in response.content
    dup = client.get(
        _url(tenant_a)
        + "?"
        + urlencode(authorize_params(tenant_a["appA"], challenge=challenge))
        + "&client_id=other"
    )
    assert dup.status_code == 400 and not dup.has_header("Location")


def test_wrong_password_on_page_issues_no_code(client, tenant_a):
    """A wrong password re-renders the page with a generic message and issues no code; the
    password is not echoed back."""
    params = authorize_params(tenant_a["appA"], challenge=pkce_pair()[1])
    page = client.get(_url(tenant_a), params)
    response = client.post(
        f"{_url(tenant_a)}?{urlencode(params)}",
        {
            "email": tenant_a["user"].email,
            "password": "Wrong-Password-Typed",
            "csrfmiddlewaretoken": csrf_token_from(page.content.decode()),
        },
    )
    assert response.status_code == 400
    assert b"Wrong email or password." in response.content
    assert b"Wrong-Password-Typed" not in response.content
    assert not AuthorizationCode.objects.exists()


def test_blocked_user_gets_no_code(client, tenant_a):
    """A blocked user with the right password is told the account is blocked; no code."""
    core_services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    params = authorize_params(tenant_a["appA"], challenge=pkce_pair()[1])
    response = client.post(
        f"{_url(tenant_a)}?{urlencode(params)}",
        {"email": tenant_a["user"].email, "password": USER_PASSWORD},
    )
    assert response.status_code == 400 and b"blocked" in response.content
    assert not AuthorizationCode.objects.exists()


def test_login_page_throttled(client, tenant_a):
    """The login form shares the password throttle: 429 with Retry-After after 10 failures."""
    params = authorize_params(tenant_a["appA"], challenge=pkce_pair()[1])
    url = f"{_url(tenant_a)}?{urlencode(params)}"
    for _ in range(10):
        client.post(url, {"email": tenant_a["user"].email, "password": "wrong-password-1"})
    response = client.post(url, {"email": tenant_a["user"].email, "password": USER_PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert not AuthorizationCode.objects.exists()


def test_unknown_tenant_authorize_404(client, db):
    """An unknown tenant's authorize answers 404 not_found."""
    response = client.get("/t/ghost/authorize", {"client_id": "x"})
    assert response.status_code == 404 and response.json()["error"] == "not_found"

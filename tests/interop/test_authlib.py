"""Authlib's Django OIDC client (a generic relying party, nothing Auth0-specific) against the
live server: discovery, authorization code + PKCE through the hosted page in Chromium,
id_token validation with the JWKS (signature, iss, aud, nonce, exp), userinfo, and
RP-initiated logout through the discovered end_session_endpoint."""

from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.django_client import OAuth
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from tests.interop.conftest import sign_in_on_hosted_page
from tests.tenantauth.oidc_support import query_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _request(path: str, session) -> object:
    request = RequestFactory().get(path)
    request.session = session
    return request


def _client(setup, app):
    oauth = OAuth()
    return oauth.register(
        name="tenant",
        client_id=app.client_id,
        client_secret=app.client_secret(),
        server_metadata_url=f"{setup['issuer']}.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid profile email",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )


def test_authlib_code_pkce_id_token_userinfo_and_logout(interop, browser):
    """The RP discovers the tenant, sends the user through the hosted page, exchanges the code
    with its PKCE verifier, validates the RS256 id_token against the JWKS (nonce included),
    reads userinfo, and logs out through end_session_endpoint, which ends the hosted-login
    session."""
    app, user, page = interop["appA"], interop["user"], browser
    callback = f"{interop['static']}/pages/callback.html"
    client = _client(interop, app)
    session = SessionStore()

    redirect = client.authorize_redirect(_request("/login", session), callback)
    authorize_url = redirect["Location"]
    sent = query_of(authorize_url)
    assert sent["code_challenge_method"] == "S256" and sent["nonce"]
    assert authorize_url.startswith(interop["issuer"] + "authorize?")

    page.goto(authorize_url)
    sign_in_on_hosted_page(page, interop)
    page.wait_for_url(f"{callback}?*")
    query = urlsplit(page.url).query

    token = client.authorize_access_token(_request(f"/cb?{query}", session))
    claims = token["userinfo"]  # the validated id_token claims
    assert claims["sub"] == user.user_id and claims["nonce"] == sent["nonce"]
    assert claims["iss"] == interop["issuer"] and claims["aud"] == app.client_id
    assert claims["email"] == user.email and claims["name"] == user.name
    assert token["scope"] == "openid profile email"

    info = client.userinfo(token=token)
    assert info["sub"] == user.user_id and info["email"] == user.email

    logout = client.logout_redirect(
        _request("/logout", session),
        post_logout_redirect_uri=callback,
        id_token_hint=token["id_token"],
        client_id=app.client_id,
    )
    assert logout["Location"].startswith(interop["issuer"] + "oidc/logout?")
    page.goto(logout["Location"])
    page.wait_for_url(f"{callback}?*")
    state = parse_qs(urlsplit(page.url).query)["state"][0]
    assert client.validate_logout_response(_request(f"/done?state={state}", session))

    # The hosted-login session is gone: a silent request now gets login_required.
    silent = client.create_authorization_url(callback, prompt="none")
    page.goto(silent["url"])
    page.wait_for_url(f"{callback}?*")
    assert query_of(page.url)["error"] == "login_required"
    assert not page.problems, page.problems

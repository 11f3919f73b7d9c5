"""The official auth0-python SDK, unchanged, against the live server on loopback: sign-up,
GetToken.login with default arguments (password-realm), refresh, Users.userinfo,
Delegated.get_token with target=None and with apiC, and TokenVerifier (asymmetric and
symmetric) on the id_token and the delegation tokens. The SDK takes a "domain" and builds
``<protocol>://<domain>/...``; ``protocol="http"`` and ``domain = localhost:<port>/t/<slug>``.
"""

import pytest
from auth0.authentication import Database, Delegated, GetToken, Users
from auth0.authentication.exceptions import Auth0Error
from auth0.authentication.token_verifier import (
    AsymmetricSignatureVerifier,
    SymmetricSignatureVerifier,
    TokenVerifier,
)

from tests.conftest import USER_PASSWORD

pytestmark = pytest.mark.e2e
REALM = "Username-Password-Authentication"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
NEW_PASSWORD = "violet-otter-harbour-92"


def _domain(setup) -> str:
    return setup["domain"].removeprefix("http://")


def _verifier(setup, audience, *, secret=None) -> TokenVerifier:
    if secret is None:
        signature = AsymmetricSignatureVerifier(f"{setup['issuer']}.well-known/jwks.json")
    else:
        signature = SymmetricSignatureVerifier(secret)
    return TokenVerifier(
        signature_verifier=signature, issuer=setup["issuer"], audience=audience, leeway=5
    )


def test_signup_then_login_with_default_arguments(interop):
    """Database.signup stores the profile it sends; GetToken.login(user, pw, realm=...) with
    scope and audience left at None (sent as JSON null) signs the new user in; the RS256
    id_token passes TokenVerifier with the JWKS."""
    app = interop["appA"]
    database = Database(_domain(interop), app.client_id, protocol="http")
    created = database.signup(
        email="sdk.person@example.com",
        password=NEW_PASSWORD,
        connection=REALM,
        given_name="Sdk",
        family_name="Person",
        name="Sdk Person",
        nickname="sdk",
        picture="https://example.com/sdk.png",
        user_metadata={"plan": "free"},
    )
    assert created["email"] == "sdk.person@example.com"
    assert created["given_name"] == "Sdk" and created["user_metadata"] == {"plan": "free"}

    get_token = GetToken(
        _domain(interop), app.client_id, client_secret=app.client_secret(), protocol="http"
    )
    tokens = get_token.login("sdk.person@example.com", NEW_PASSWORD, realm=REALM)
    assert tokens["scope"] == "openid" and tokens["token_type"] == "Bearer"
    claims = _verifier(interop, app.client_id).verify(tokens["id_token"])
    assert claims["sub"] == "auth0|" + created["_id"]

    profile = get_token.login(
        "sdk.person@example.com", NEW_PASSWORD, realm=REALM, scope="openid profile email"
    )
    claims = _verifier(interop, app.client_id).verify(profile["id_token"])
    assert (claims["given_name"], claims["family_name"], claims["nickname"]) == (
        "Sdk",
        "Person",
        "sdk",
    )


def test_refresh_and_userinfo(interop):
    """login with offline_access gives a refresh token; GetToken.refresh_token (scope "")
    rotates it; Users.userinfo answers the access token's claims."""
    app, user = interop["appA"], interop["user"]
    get_token = GetToken(
        _domain(interop), app.client_id, client_secret=app.client_secret(), protocol="http"
    )
    first = get_token.login(
        user.email, USER_PASSWORD, realm=REALM, scope="openid profile email offline_access"
    )
    refreshed = get_token.refresh_token(first["refresh_token"])
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert _verifier(interop, app.client_id).verify(refreshed["id_token"])["sub"] == user.user_id
    info = Users(_domain(interop), protocol="http").userinfo(refreshed["access_token"])
    assert info["sub"] == user.user_id and info["email"] == user.email
    assert info["name"] == user.name
    with pytest.raises(Auth0Error) as refused:
        get_token.refresh_token(first["refresh_token"])  # reuse of a rotated token
    assert refused.value.error_code == "invalid_grant"


def test_delegation_with_target_none_and_with_apic(interop):
    """Delegated.get_token(target=None, api_type=None) (both sent as null) gives a token for
    the caller itself, RS256, verified with the JWKS; with target apiC a token signed with
    apiC's secret (HS256), verified with SymmetricSignatureVerifier."""
    app, api_c, user = interop["appA"], interop["apiC"], interop["user"]
    get_token = GetToken(
        _domain(interop), app.client_id, client_secret=app.client_secret(), protocol="http"
    )
    id_token = get_token.login(user.email, USER_PASSWORD, realm=REALM)["id_token"]
    delegated = Delegated(_domain(interop), app.client_id, protocol="http")

    own = delegated.get_token(target=None, api_type=None, grant_type=JWT_BEARER, id_token=id_token)
    claims = _verifier(interop, app.client_id).verify(own["id_token"])
    assert claims["sub"] == user.user_id and claims["aud"] == app.client_id

    for_api = delegated.get_token(
        target=api_c.client_id,
        api_type="app",
        grant_type=JWT_BEARER,
        id_token=id_token,
        scope="openid name email",
    )
    assert for_api["token_type"] == "Bearer" and for_api["expires_in"] == 36000
    verifier = _verifier(interop, api_c.client_id, secret=api_c.client_secret())
    claims = verifier.verify(for_api["id_token"])
    assert claims["aud"] == api_c.client_id and claims["email"] == user.email
    with pytest.raises(Exception):  # noqa: B017 - any verification error: wrong key
        _verifier(interop, api_c.client_id, secret=app.client_secret()).verify(for_api["id_token"])


def test_sdk_reads_refusals(interop):
    """Refusals reach the SDK as Auth0Error with the OAuth error code: a wrong password,
    a target not allowed, a taken email."""
    app, user = interop["appA"], interop["user"]
    get_token = GetToken(
        _domain(interop), app.client_id, client_secret=app.client_secret(), protocol="http"
    )
    with pytest.raises(Auth0Error) as wrong:
        get_token.login(user.email, "not-the-password", realm=REALM)
    assert wrong.value.error_code == "invalid_grant" and wrong.value.status_code == 400
    id_token = get_token.login(user.email, USER_PASSWORD, realm=REALM)["id_token"]
    with pytest.raises(Auth0Error) as target:
        Delegated(_domain(interop), app.client_id, protocol="http").get_token(
            target=interop["appB"].client_id,
            api_type="app",
            grant_type=JWT_BEARER,
            id_token=id_token,
        )
    assert target.value.error_code == "invalid_target"
    with pytest.raises(Auth0Error) as taken:
        Database(_domain(interop), app.client_id, protocol="http").signup(
            email=user.email, password=NEW_PASSWORD, connection=REALM
        )
    assert taken.value.error_code == "invalid_signup"

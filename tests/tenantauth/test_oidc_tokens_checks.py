"""The tokens of the sign-in endpoints (tenantauth/oidc/tokens.py), claim by claim, and the
access-token check of userinfo, check by check (issue 14: its surviving mutants).

userinfo answers every refused token with the same 401 invalid_token; which check refused it
is the reason ``verify_access_token`` raises, pinned here so that each refusal is shown to be
made by the check meant for it (an id_token stopped by its type, not by its audience)."""

import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine

from tenantauth import services as core_services
from tenantauth import signing
from tenantauth.models import Tenant
from tenantauth.oidc import tokens
from tests.tenantauth.oidc_support import (
    CALLBACK,
    decode_id_token,
    decode_rs256,
    login_for_code,
    password_grant,
    post_token,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LEEWAY = 30
MAX_TOKEN_CHARS = 8192


def _userinfo(client, setup, token: str):
    url = f"/t/{setup['tenant'].slug}/userinfo"
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def _assert_invalid_token(response):
    assert response.status_code == 401, response.content
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The access token is missing, invalid or expired.",
    }
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def _access_claims(setup, **changes) -> dict:
    """The claims ``access_token_build`` gives the user of appA; a change of None drops one."""
    tenant, now = setup["tenant"], int(time.time())
    claims = {
        "iss": tenant.issuer,
        "sub": setup["user"].user_id,
        "aud": [tenant.issuer + "userinfo"],
        "azp": setup["appA"].client_id,
        "iat": now,
        "exp": now + 3600,
        "scope": "openid email",
        "jti": "j-" + str(now),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed_with_tenant_key(setup, claims: dict, **header) -> str:
    """A JWT signed with the tenant's own active key (as its id_tokens and delegation tokens
    are), with an access token's header unless ``header`` changes it (None drops a member)."""
    key = setup["tenant"].active_signing_key
    headers = {"kid": key.kid, "typ": tokens.ACCESS_TOKEN_TYPE, **header}
    if headers["kid"] is None:
        del headers["kid"]  # (pyjwt itself drops a None typ)
    return jwt.encode(claims, signing.rsa_private_key(key), algorithm="RS256", headers=headers)


def _valid_token_of_length(setup, length: int) -> str:
    """A valid access token of exactly ``length`` characters: a longer scope pads the payload,
    and one header member of 0-3 characters reaches the lengths base64url skips."""
    shortest = len(_signed_with_tenant_key(setup, _access_claims(setup)))
    estimate = (length - shortest) * 3 // 4
    for filler in ("", "x", "xx", "xxx"):
        header = {"pad": filler} if filler else {}
        for pad in range(max(0, estimate - 12), estimate + 12):
            claims = _access_claims(setup, scope="openid email " + "x" * pad)
            token = _signed_with_tenant_key(setup, claims, **header)
            if len(token) == length:
                return token
    raise AssertionError(f"no token of {length} characters")


# --- what /oauth/token issues -------------------------------------------------------------------
def test_access_token_claims_header_and_default_lifetime(client, tenant_a):
    """The access token is an RS256 at+jwt of the tenant's active key whose only audience is
    userinfo, naming the client (azp), the scope, an hour's lifetime (expires_in says the same,
    no OIDC_ACCESS_TOKEN_LIFETIME_SECONDS being set) and a fresh 128-bit jti per token."""
    tenant, app = tenant_a["tenant"], tenant_a["appA"]
    with time_machine.travel(T0, tick=False):
        first = password_grant(client, tenant_a, scope="openid email")
        second = password_grant(client, tenant_a, scope="openid email")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["expires_in"] == 3600
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": tenant.active_signing_key.kid}
    with time_machine.travel(T0, tick=False):
        claims = decode_rs256(body["access_token"], tenant, tenant.issuer + "userinfo")
        again = decode_rs256(second.json()["access_token"], tenant, tenant.issuer + "userinfo")
    jti = claims.pop("jti")
    assert claims == {
        "iss": tenant.issuer,
        "sub": tenant_a["user"].user_id,
        "aud": [tenant.issuer + "userinfo"],
        "azp": app.client_id,
        "iat": int(T0.timestamp()),
        "exp": int(T0.timestamp()) + 3600,
        "scope": "openid email",
    }
    assert len(base64.urlsafe_b64decode(jti + "==")) == 16 and len(jti) == 22
    assert again["jti"] != jti


def test_access_token_lifetime_follows_the_setting(client, tenant_a, settings):
    """OIDC_ACCESS_TOKEN_LIFETIME_SECONDS sets expires_in and exp - iat, and userinfo stops
    accepting the token at exp + leeway."""
    settings.OIDC_ACCESS_TOKEN_LIFETIME_SECONDS = 600
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    tenant = tenant_a["tenant"]
    with time_machine.travel(T0, tick=False) as clock:
        body = password_grant(client, tenant_a, scope="openid").json()
        assert body["expires_in"] == 600
        claims = decode_rs256(body["access_token"], tenant, tenant.issuer + "userinfo")
        assert claims["exp"] - claims["iat"] == 600
        clock.move_to(T0 + timedelta(seconds=600 + LEEWAY - 1))
        assert _userinfo(client, tenant_a, body["access_token"]).status_code == 200
        clock.move_to(T0 + timedelta(seconds=600 + LEEWAY))
        _assert_invalid_token(_userinfo(client, tenant_a, body["access_token"]))


def test_userinfo_allows_the_leeway_after_exp(client, tenant_a, settings):
    """An access token is accepted up to JWT_LEEWAY_SECONDS after its exp, not after."""
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    with time_machine.travel(T0, tick=False) as clock:
        token = password_grant(client, tenant_a, scope="openid").json()["access_token"]
        clock.move_to(T0 + timedelta(seconds=3600 + LEEWAY - 1))
        ok = _userinfo(client, tenant_a, token)
        assert ok.status_code == 200, ok.content
        assert ok.json() == {"sub": tenant_a["user"].user_id}
        clock.move_to(T0 + timedelta(seconds=3600 + LEEWAY))
        _assert_invalid_token(_userinfo(client, tenant_a, token))


def test_code_flow_id_token_carries_the_nonce_and_the_login_time(client, tenant_a):
    """The id_token of the code flow repeats the authorize request's nonce and gives the
    login's time as auth_time (seconds), not the exchange's."""
    app = tenant_a["appB"]  # confidential RS256: the client secret instead of PKCE
    with time_machine.travel(T0, tick=False) as clock:
        callback = login_for_code(client, tenant_a, app_name="appB")
        clock.move_to(T0 + timedelta(seconds=20))
        response = post_token(
            client,
            tenant_a["tenant"],
            {
                "grant_type": "authorization_code",
                "client_id": app.client_id,
                "client_secret": app.client_secret(),
                "code": callback["code"],
                "redirect_uri": CALLBACK,
            },
        )
        assert response.status_code == 200, response.content
        claims = decode_id_token(response.json()["id_token"], app)
    assert claims["nonce"] == callback["nonce"]
    assert claims["auth_time"] == int(T0.timestamp())
    assert claims["iat"] == int(T0.timestamp()) + 20


def test_password_grant_id_token_has_auth_time_and_no_nonce(client, tenant_a):
    """The password grant signs the user in now: auth_time = iat; no nonce was asked for."""
    with time_machine.travel(T0, tick=False):
        body = password_grant(client, tenant_a, scope="openid").json()
        claims = decode_id_token(body["id_token"], tenant_a["appA"])
    assert claims["auth_time"] == claims["iat"] == int(T0.timestamp())
    assert "nonce" not in claims


def test_id_token_build_without_nonce_or_auth_time_leaves_them_out(tenant_a):
    """``id_token_build`` called without nonce (and auth_time None) issues neither claim."""
    app, now = tenant_a["appA"], int(time.time())
    token = tokens.id_token_build(
        tenant=tenant_a["tenant"],
        application=app,
        user=tenant_a["user"],
        scopes={"openid"},
        now=now,
        auth_time=None,
    )
    claims = decode_id_token(token, app)
    assert claims == {
        "iss": tenant_a["tenant"].issuer,
        "sub": tenant_a["user"].user_id,
        "aud": app.client_id,
        "iat": now,
        "exp": now + app.jwt_lifetime_seconds,
    }


def test_no_active_signing_key_is_503_and_names_the_cause(client, tenant_a, caplog):
    """Without an active key no access token can be signed: /oauth/token answers 503
    temporarily_unavailable with Retry-After and logs the cause; the builder says why."""
    Tenant.objects.filter(pk=tenant_a["tenant"].pk).update(active_signing_key=None)
    core_services.application_update(application=tenant_a["appA"], jwt_signature_algorithm="HS256")
    with caplog.at_level(logging.WARNING, logger="tenantauth.oidc.errors"):
        response = password_grant(client, tenant_a, scope="openid")
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response["Retry-After"]) > 0
    assert "sign-in endpoint unavailable: KeyUnavailableError" in caplog.text
    tenant = Tenant.objects.get(pk=tenant_a["tenant"].pk)
    with pytest.raises(signing.KeyUnavailableError) as raised:
        tokens.access_token_build(
            tenant=tenant,
            application=tenant_a["appA"],
            user=tenant_a["user"],
            scope="openid",
            now=int(time.time()),
        )
    assert raised.value.args == ("tenant has no active signing key",)


# --- the access-token check --------------------------------------------------------------------
def _hs256_id_token(client, setup):
    core_services.application_update(application=setup["appB"], jwt_signature_algorithm="HS256")
    return password_grant(client, setup, app_name="appB", scope="openid").json()["id_token"]


def _with_header(token: str, **changes) -> str:
    """``token`` with header members changed (its signature no longer matches)."""
    header = {**jwt.get_unverified_header(token), **changes}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return encoded + token[token.index(".") :]


REFUSALS = {
    # name: (reason, token made from (client, tenant_a, tenant_b))
    "empty": ("missing", lambda c, a, b: ""),
    "oversized": ("missing", lambda c, a, b: "a" * (MAX_TOKEN_CHARS + 1)),
    "not a JWT": ("malformed", lambda c, a, b: "abc.def.ghi"),
    "RS256 id_token (typ JWT)": (
        "wrong type",
        lambda c, a, b: password_grant(c, a, scope="openid").json()["id_token"],
    ),
    "HS256 id_token": ("wrong type", lambda c, a, b: _hs256_id_token(c, a)),
    "at+jwt typ, HS256": (
        "wrong type",
        lambda c, a, b: jwt.encode(
            _access_claims(a), "s" * 32, algorithm="HS256", headers={"typ": "at+jwt"}
        ),
    ),
    "no kid": (
        "unknown key",
        lambda c, a, b: _signed_with_tenant_key(a, _access_claims(a), kid=None),
    ),
    # PyJWT (2.15) refuses a kid that is not a string when it reads the header.
    "kid not a string": (
        "malformed",
        lambda c, a, b: _with_header(_signed_with_tenant_key(a, _access_claims(a)), kid=7),
    ),
    "unknown kid": (
        "unknown key",
        lambda c, a, b: _signed_with_tenant_key(a, _access_claims(a), kid="not-a-key"),
    ),
    "another tenant's access token": (
        "unknown key",
        lambda c, a, b: password_grant(c, b, scope="openid").json()["access_token"],
    ),
    "expired": (
        "invalid",
        lambda c, a, b: _signed_with_tenant_key(
            a, _access_claims(a, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
        ),
    ),
    "another issuer": (
        "invalid",
        lambda c, a, b: _signed_with_tenant_key(a, _access_claims(a, iss=b["tenant"].issuer)),
    ),
    "audience the client": (
        "invalid",
        lambda c, a, b: _signed_with_tenant_key(a, _access_claims(a, aud=a["appA"].client_id)),
    ),
    "no sub": ("invalid", lambda c, a, b: _signed_with_tenant_key(a, _access_claims(a, sub=None))),
    "bad signature": (
        "invalid",
        lambda c, a, b: password_grant(c, a, scope="openid").json()["access_token"][:-4] + "AAAA",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_verify_access_token_names_the_check_that_refused(client, tenant_a, tenant_b, case):
    """Each refused token is refused by its own check: missing (empty or over 8192
    characters), malformed, wrong type (not RS256 at+jwt), unknown key (no string kid of this
    tenant), invalid (signature, exp, iss, aud, required claims); userinfo answers 401."""
    reason, make = REFUSALS[case]
    token = make(client, tenant_a, tenant_b)
    with pytest.raises(tokens.InvalidAccessToken) as raised:
        tokens.verify_access_token(tenant=tenant_a["tenant"], token=token)
    assert raised.value.args == (reason,)
    if token:  # an empty Bearer value is refused before the check
        _assert_invalid_token(_userinfo(client, tenant_a, token))


def test_userinfo_accepts_a_token_of_8192_characters_not_8193(client, tenant_a):
    """The size limit is 8192 characters: a valid token of that length is answered, one
    character more is refused before it is parsed."""
    at_limit = _valid_token_of_length(tenant_a, MAX_TOKEN_CHARS)
    ok = _userinfo(client, tenant_a, at_limit)
    assert ok.status_code == 200, ok.content
    assert ok.json()["sub"] == tenant_a["user"].user_id
    over = _valid_token_of_length(tenant_a, MAX_TOKEN_CHARS + 1)
    tenant = tenant_a["tenant"]
    assert decode_rs256(over, tenant, tenant.issuer + "userinfo")["sub"]  # valid but for its size
    _assert_invalid_token(_userinfo(client, tenant_a, over))


def test_userinfo_accepts_the_access_token_shape_signed_with_the_tenant_key(client, tenant_a):
    """The control for the refusals below: the same helper's token with every claim right."""
    response = _userinfo(
        client, tenant_a, _signed_with_tenant_key(tenant_a, _access_claims(tenant_a))
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "sub": tenant_a["user"].user_id,
        "email": tenant_a["user"].email,
        "email_verified": True,
    }


@pytest.mark.parametrize(
    "header, changes",
    [
        pytest.param({"typ": "JWT"}, {}, id="typ JWT"),
        pytest.param({"typ": None}, {}, id="no typ"),
        pytest.param({}, {"iss": "https://elsewhere.example/"}, id="another issuer"),
        pytest.param({}, {"exp": None}, id="no exp"),
        pytest.param({}, {"iat": None}, id="no iat"),
        pytest.param({}, {"sub": None}, id="no sub"),
        pytest.param({}, {"iss": None}, id="no iss"),
        pytest.param({}, {"aud": None}, id="no aud"),
    ],
)
def test_userinfo_refuses_what_is_not_a_complete_access_token_of_this_tenant(
    client, tenant_a, header, changes
):
    """A JWT signed with the tenant's key is still refused (401, never 500) unless it is an
    at+jwt from this tenant's issuer carrying exp, iat, sub, iss and aud."""
    token = _signed_with_tenant_key(tenant_a, _access_claims(tenant_a, **changes), **header)
    _assert_invalid_token(_userinfo(client, tenant_a, token))

"""The incoming id_token check, point by point against RFC 7519 section 7.2 and OpenID
Connect Core 1.0 section 3.1.3.7 (delegation/tokens.py), with exact boundaries under a frozen
clock (time-machine). Issue 7 fault 7: a non-integer NumericDate is valid (RFC 7519 section 2).

Each case is one request from the valid base (appA, RS256 by default, to apiC) with one thing
changed; a refusal is always 400 invalid_grant and issues nothing."""

import base64
import hashlib
import hmac
import json

import pytest
import time_machine

from delegation.models import AuditEvent
from tenantauth import services, signing
from tests.delegation.helpers import DROP, assert_error, b64url, delegate, id_token_for
from tests.tenantauth.oidc_support import password_grant

NOW = 1_796_031_400  # 2026-11-30: the frozen "now" of every case
LEEWAY = 30
MAX_AGE = 30 * 24 * 3600


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    settings.MAX_ID_TOKEN_AGE_SECONDS = MAX_AGE
    with time_machine.travel(NOW, tick=False):
        yield


def _token(setup, **claims):
    base = {"iat": NOW - 60, "exp": NOW + 3600}
    return id_token_for(setup["tenant"], setup["appA"], setup["user"], **{**base, **claims})


def _accepted(client, setup, token):
    response = delegate(client, setup, token=token)
    assert response.status_code == 200, response.content
    return response


def _refused(client, setup, token, description="Invalid user token."):
    response = delegate(client, setup, token=token)
    assert assert_error(response, 400, "invalid_grant")["error_description"] == description
    assert not AuditEvent.objects.filter(type="sd").exists()


def _sign_hs256(setup, header: dict, payload: str) -> str:
    """A token whose payload JSON is written by hand (duplicates, NaN), HS256 by appA."""
    services.application_update(application=setup["appA"], jwt_signature_algorithm="HS256")
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload.encode())}"
    secret = setup["appA"].client_secret().encode()
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


# --- NumericDate: RFC 7519 section 2 -----------------------------------------------------
def test_issue_input_fractional_exp_is_accepted(client, tenant_a):
    """Issue 7's exact input: exp 1796035000.5 is a valid NumericDate (RFC 7519 section 2)."""
    _accepted(client, tenant_a, _token(tenant_a, exp=1796035000.5))


@pytest.mark.parametrize("claim", ["iat", "nbf", "auth_time"])
def test_fractional_times_accepted(client, tenant_a, claim):
    """iat, nbf and auth_time may be non-integer too (auth_time, the sign-in, comes before
    the token's iat)."""
    _accepted(client, tenant_a, _token(tenant_a, **{claim: NOW - 100.25}))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "auth_time"])
@pytest.mark.parametrize(
    "value",
    ["1796035000", "1796035000.5", True, False, None, [NOW], {"t": NOW}, 1e30, -1, 0, 5e9],
    ids=repr,
)
def test_non_numeric_or_out_of_bounds_times_refused(client, tenant_a, claim, value):
    """A NumericDate is a JSON number: strings, booleans, null, arrays, objects are refused,
    and so are numbers outside 2000-2100 (PyJWT alone takes "123" and 1e30)."""
    _refused(client, tenant_a, _token(tenant_a, **{claim: value}))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_exp_refused(client, tenant_a, constant):
    """NaN / Infinity (which Python's JSON reader accepts) are no NumericDate."""
    payload = (
        f'{{"iss": "{tenant_a["tenant"].issuer}", "aud": "{tenant_a["appA"].client_id}", '
        f'"sub": "{tenant_a["user"].user_id}", "iat": {NOW}, "exp": {constant}}}'
    )
    _refused(client, tenant_a, _sign_hs256(tenant_a, {"alg": "HS256", "typ": "JWT"}, payload))


# --- exact boundaries with leeway (RFC 7519 4.1.4-4.1.6) ---------------------------------
@pytest.mark.parametrize(
    "exp, ok",
    [
        (NOW - LEEWAY, False),  # now is not before exp + leeway
        (NOW - LEEWAY + 0.5, True),
        (NOW - LEEWAY + 1, True),
        (NOW - LEEWAY - 1, False),
    ],
)
def test_exp_boundary(client, tenant_a, exp, ok):
    """exp <= now - leeway is "jwt expired"; a moment later it is accepted."""
    token = _token(tenant_a, iat=NOW - 3600, exp=exp)
    if ok:
        _accepted(client, tenant_a, token)
    else:
        _refused(client, tenant_a, token, description="jwt expired")


@pytest.mark.parametrize("claim", ["iat", "nbf"])
@pytest.mark.parametrize(
    "offset, ok", [(LEEWAY, True), (LEEWAY + 0.5, False), (LEEWAY + 1, False), (0, True)]
)
def test_iat_and_nbf_boundary(client, tenant_a, claim, offset, ok):
    """iat and nbf up to now + leeway are accepted; a moment later they are in the future."""
    claims = {claim: NOW + offset}
    if claim == "nbf":
        claims["iat"] = NOW
    token = _token(tenant_a, exp=NOW + 3600, **claims)
    if ok:
        _accepted(client, tenant_a, token)
    else:
        _refused(client, tenant_a, token)


@pytest.mark.parametrize("lifetime, ok", [(MAX_AGE, True), (MAX_AGE + 0.5, False)])
def test_lifetime_boundary(client, tenant_a, lifetime, ok):
    """exp - iat may be the maximum age, not more; exp before iat is refused."""
    _refused(client, tenant_a, _token(tenant_a, iat=NOW, exp=NOW - 0.5))  # exp before iat
    token = _token(tenant_a, iat=NOW - 10, exp=NOW - 10 + lifetime)
    if ok:
        _accepted(client, tenant_a, token)
    else:
        _refused(client, tenant_a, token)


def test_required_times(client, tenant_a):
    """exp and iat are required (OIDC Core 2); nbf and auth_time are optional."""
    _refused(client, tenant_a, _token(tenant_a, exp=DROP))
    _refused(client, tenant_a, _token(tenant_a, iat=DROP))
    _accepted(client, tenant_a, _token(tenant_a, nbf=DROP, auth_time=DROP))


# --- header: typ, cty, alg, duplicates (RFC 7519 5.1, 5.2, 7.2; RFC 7515 4) ---------------
@pytest.mark.parametrize(
    "typ, ok",
    [
        ("JWT", True),
        ("jwt", True),
        ("at+jwt", False),
        ("JOSE", False),
        ("application/jwt+x", False),
        (1, False),
    ],
)
def test_typ_header(client, tenant_a, typ, ok):
    """typ, when present, must say JWT (any case): a typed access token is no id_token."""
    token = (
        _token(tenant_a)
        if typ == "JWT"
        else id_token_for(
            tenant_a["tenant"], tenant_a["appA"], tenant_a["user"], headers={"typ": typ}
        )
    )
    if ok:
        _accepted(client, tenant_a, token)
    else:
        _refused(client, tenant_a, token)


def test_our_own_access_token_is_no_id_token(client, tenant_a):
    """The tenant's RS256 access token (typ at+jwt, same key) is refused as an id_token."""
    access_token = password_grant(client, tenant_a).json()["access_token"]
    _refused(client, tenant_a, access_token)


def test_nested_jwt_refused(client, tenant_a):
    """cty (a nested JWT, RFC 7519 5.2) is refused."""
    token = id_token_for(
        tenant_a["tenant"], tenant_a["appA"], tenant_a["user"], headers={"cty": "JWT"}
    )
    _refused(client, tenant_a, token)


def test_duplicate_claim_or_header_names_refused(client, tenant_a):
    """A payload or header with a member twice is refused (RFC 7519 section 4 allows it, and
    last-one-wins would let two parsers read two different tokens)."""
    issuer, aud = tenant_a["tenant"].issuer, tenant_a["appA"].client_id
    user = tenant_a["user"].user_id
    payload = (
        f'{{"iss": "{issuer}", "aud": "{aud}", "sub": "{user}", "iat": {NOW}, '
        f'"exp": {NOW + 60}, "sub": "auth0|someone-else"}}'
    )
    _refused(client, tenant_a, _sign_hs256(tenant_a, {"alg": "HS256"}, payload))
    clean = payload.replace(', "sub": "auth0|someone-else"', "")
    header = '{"alg": "HS256", "alg": "none"}'
    signing_input = (
        f"{base64.urlsafe_b64encode(header.encode()).rstrip(b'=').decode()}."
        f"{b64url(clean.encode())}"
    )
    mac = hmac.new(
        tenant_a["appA"].client_secret().encode(), signing_input.encode(), hashlib.sha256
    ).digest()
    _refused(client, tenant_a, f"{signing_input}.{b64url(mac)}")
    _accepted(client, tenant_a, _sign_hs256(tenant_a, {"alg": "HS256"}, clean))


def test_alg_is_pinned_to_the_source(client, tenant_a):
    """The source's algorithm decides (OIDC 3.1.3.7 point 7): RS256 source, HS256 token with
    its secret is refused; HS256 source, RS256 token with the tenant key is refused."""
    app = tenant_a["appA"]
    hs = id_token_for(
        tenant_a["tenant"], app, tenant_a["user"], algorithm="HS256", key=app.client_secret()
    )
    _refused(client, tenant_a, hs)
    services.application_update(application=app, jwt_signature_algorithm="HS256")
    key = tenant_a["tenant"].active_signing_key
    rs = id_token_for(
        tenant_a["tenant"],
        app,
        tenant_a["user"],
        algorithm="RS256",
        key=signing.rsa_private_key(key),
        headers={"kid": key.kid},
    )
    _refused(client, tenant_a, rs)


# --- aud and azp (OIDC Core 3.1.3.7 points 3-5) ------------------------------------------
@pytest.mark.parametrize(
    "aud, azp, ok",
    [
        ("self", DROP, True),
        (["self"], DROP, True),  # one audience: azp not needed
        (["self", "other"], "self", True),
        (["self", "other"], DROP, False),  # several audiences need azp
        (["self", "other"], "other", False),
        ("self", "other", False),  # azp, when present, is the client
        ("self", "self", True),
        ([], DROP, False),
        (["self", 5], "self", False),
        (5, DROP, False),
        ({"self": 1}, DROP, False),
        ("other", "self", False),
    ],
)
def test_audience_and_azp(client, tenant_a, aud, azp, ok):
    """aud is the client (string or list of strings containing it); several audiences need
    azp; azp, when present, must be the client."""
    names = {"self": tenant_a["appA"].client_id, "other": tenant_a["appB"].client_id}

    def real(value):
        if isinstance(value, list):
            return [names.get(v, v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    token = _token(tenant_a, aud=real(aud), azp=azp if azp is DROP else real(azp))
    if ok:
        _accepted(client, tenant_a, token)
    else:
        _refused(client, tenant_a, token)


# --- sub ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sub", ["", "x" * 129, 5, ["auth0|x"], None])
def test_sub_must_be_a_short_string(client, tenant_a, sub):
    """sub is a non-empty string of at most 128 characters."""
    _refused(client, tenant_a, _token(tenant_a, sub=sub))

"""Every refusal of the user-token check (delegation/tokens.py) names its own reason (issue 14).

A refused delegation answers 400 ``invalid_grant`` with one generic description ("jwt expired"
for expiry), so the client learns nothing; the operator learns what went wrong from the audit
row (``fd``, shown by the audit console) and the log line, both carrying the check's
``reason``. Each case below is one request from the valid base (appA, RS256, to apiC) under a
frozen clock, with one thing changed, and pins the reason the operator sees; together with
the boundaries where two checks meet (the age of ``iat``, the NumericDate bounds, the length
of ``sub``), where only the reason tells which check refused. Then the refresh-token path
(not live, blocked or another tenant's user, the start of its family) and the ``now`` that
``check_times`` and ``check_authentication_age`` are given.
"""

import logging

import jwt
import pytest
import time_machine

from delegation import tokens
from delegation.errors import DelegationError
from delegation.models import AuditEvent
from tenantauth import services, signing
from tenantauth.models import Application, RefreshToken
from tests.delegation.helpers import DROP, assert_error, b64url, delegate, id_token_for
from tests.tenantauth.oidc_support import password_grant, refresh_grant

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z: the frozen "now" of every endpoint case
LEEWAY = 30
MAX_AGE = 30 * 24 * 3600
GENERIC = "Invalid user token."
EXPIRED = "jwt expired"
MIN_DATE = 946_684_800  # 2000-01-01, the earliest NumericDate accepted
MAX_DATE = 4_102_444_800  # 2100-01-01, the latest


@pytest.fixture
def frozen(settings):
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    settings.MAX_ID_TOKEN_AGE_SECONDS = MAX_AGE
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def refused(client, audit, caplog):
    """POST /delegation (``delegate`` arguments); assert a 400 invalid_grant with ``description``,
    no token issued, one fd audit row and one fd log line; return the row's reason."""
    caplog.set_level(logging.INFO, logger="delegation")

    def check(setup, *, description=GENERIC, **request) -> str:
        response = delegate(client, setup, **request)
        assert assert_error(response, 400, "invalid_grant")["error_description"] == description
        (row,) = audit()
        assert (row.type, row.error) == ("fd", "invalid_grant")
        assert not AuditEvent.objects.filter(type="sd").exists()
        lines = [
            r.getMessage()
            for r in caplog.records
            if r.name == "delegation" and r.getMessage().startswith("delegation fd ")
        ]
        assert len(lines) == 1, lines
        assert f" reason={row.reason.replace(' ', '_')} " in lines[0]
        return row.reason

    return check


def _token(setup, **claims):
    base = {"iat": NOW - 60, "exp": NOW + 3600}
    return id_token_for(setup["tenant"], setup["appA"], setup["user"], **{**base, **claims})


def _segment(token: str, index: int, text: str) -> str:
    """``token`` with its header (0) or payload (1) replaced by ``text``, base64url-encoded."""
    parts = token.split(".")
    parts[index] = b64url(text.encode())
    return ".".join(parts)


def _hs256(setup, **headers):
    services.application_update(application=setup["appA"], jwt_signature_algorithm="HS256")
    return _token(setup, headers=headers or None)


def _public_hs256(setup):
    """A SPA left on HS256 before the rule that public clients sign with RS256."""
    app = setup["appA"]
    Application.objects.filter(pk=app.pk).update(app_type="spa", jwt_signature_algorithm="HS256")
    app.refresh_from_db()
    return _token(setup)


def _wrong_signature(setup):
    good = _token(setup)
    other = _token(setup, nickname="someone else")
    return good.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1]


def _hs256_with_the_secret(setup):
    app = setup["appA"]  # RS256: an HS256 token keyed with its secret is refused
    return _token(setup, algorithm="HS256", key=app.client_secret())


def _aud(setup, *names, azp=DROP):
    clients = [setup[name].client_id for name in names]
    return _token(setup, aud=clients[0] if len(clients) == 1 else clients, azp=azp)


# case -> (token builder, reason on the audit row and in the log)
ID_TOKEN_REFUSALS = {
    "not compact": (lambda s: "not-a-token-at-all", "not a compact JWS"),
    "header not JSON": (lambda s: _segment(_token(s), 0, "not json"), "bad header"),
    "header an array": (lambda s: _segment(_token(s), 0, '["RS256"]'), "bad header"),
    "payload not JSON": (lambda s: _segment(_token(s), 1, "{sub:"), "bad payload"),
    "payload a string": (lambda s: _segment(_token(s), 1, '"sub"'), "bad payload"),
    "duplicate claim": (
        lambda s: _segment(_token(s), 1, '{"sub": "a", "sub": "b"}'),
        "duplicate member",
    ),
    "HS256 for an RS256 source": (_hs256_with_the_secret, "algorithm not allowed"),
    "jku header": (
        lambda s: _token(s, headers={"jku": "http://127.0.0.1:1/k"}),
        "key-bearing header",
    ),
    "typ at+jwt": (lambda s: _token(s, headers={"typ": "at+jwt"}), "not an id_token type"),
    "cty": (lambda s: _token(s, headers={"cty": "JWT"}), "nested token"),
    "public HS256": (_public_hs256, "symmetric token of a public client"),
    "kid traversal": (lambda s: _token(s, headers={"kid": "../../etc/passwd"}), "malformed kid"),
    "kid unknown": (lambda s: _token(s, headers={"kid": "UnknownKid"}), "unknown kid"),
    "kid on HS256": (lambda s: _hs256(s, kid="k1"), "unknown kid"),
    "signature of another token": (_wrong_signature, "bad signature"),
    "other issuer": (lambda s: _token(s, iss="https://evil.example/"), "issuer mismatch"),
    "no sub": (lambda s: _token(s, sub=DROP), "invalid token"),
    "no exp": (lambda s: _token(s, exp=DROP), "invalid token"),
    "no iat": (lambda s: _token(s, iat=DROP), "invalid token"),
    "no aud": (lambda s: _token(s, aud=DROP), "invalid token"),
    "sub a number": (lambda s: _token(s, sub=5), "invalid token"),
    "control character": (lambda s: _token(s, nickname="ada\x00"), "control character in a claim"),
    "aud a number": (lambda s: _token(s, aud=5), "audience mismatch"),
    "aud another client": (lambda s: _aud(s, "appB"), "audience mismatch"),
    "two audiences, no azp": (
        lambda s: _aud(s, "appA", "appB"),
        "azp missing with several audiences",
    ),
    "azp another client": (
        lambda s: _aud(s, "appA", azp=s["appB"].client_id),
        "azp mismatch",
    ),
    "exp a string": (lambda s: _token(s, exp=str(NOW + 3600)), "exp not a NumericDate"),
    "iat true": (lambda s: _token(s, iat=True), "iat not a NumericDate"),
    "iat 1e30": (lambda s: _token(s, iat=1e30), "iat out of bounds"),
    # An integer too large for a float: math.isfinite() raised OverflowError (a 500).
    "exp 400 digits": (lambda s: _token(s, exp=10**400), "exp out of bounds"),
    "nbf 400 digits": (lambda s: _token(s, nbf=-(10**400)), "nbf out of bounds"),
    "auth_time 400 digits": (lambda s: _token(s, auth_time=10**400), "auth_time out of bounds"),
    "nbf before 2000": (lambda s: _token(s, nbf=MIN_DATE - 1), "nbf out of bounds"),
    "nbf at 2100": (lambda s: _token(s, nbf=MAX_DATE), "nbf in the future"),
    "nbf after 2100": (lambda s: _token(s, nbf=MAX_DATE + 1), "nbf out of bounds"),
    "exp before iat": (lambda s: _token(s, iat=NOW - 60, exp=NOW - 61), "exp before iat"),
    "iat in the future": (lambda s: _token(s, iat=NOW + LEEWAY + 1), "iat in the future"),
    "sub empty": (lambda s: _token(s, sub=""), "bad sub"),
    "sub 129 characters": (lambda s: _token(s, sub="x" * 129), "bad sub"),
    "sub 128 characters": (lambda s: _token(s, sub="x" * 128), "unknown user"),
    "sub of nobody": (lambda s: _token(s, sub="auth0|nobody"), "unknown user"),
}


@pytest.mark.parametrize("case", list(ID_TOKEN_REFUSALS))
def test_each_id_token_refusal_names_its_check_on_the_audit_row(frozen, tenant_a, refused, case):
    """The client gets the generic invalid_grant; the audit row and the log line name the check."""
    build, reason = ID_TOKEN_REFUSALS[case]
    assert refused(tenant_a, token=build(tenant_a)) == reason


def test_a_blocked_user_is_named_on_the_audit_row(frozen, tenant_a, refused):
    token = _token(tenant_a)
    services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    assert refused(tenant_a, token=token) == "user blocked"


def test_another_tenants_user_is_unknown(frozen, tenant_a, tenant_b, refused):
    token = _token(tenant_a, sub=tenant_b["user"].user_id)
    assert refused(tenant_a, token=token) == "unknown user"


@pytest.mark.parametrize(
    ("age", "reason"),
    [
        (MAX_AGE + LEEWAY - 1, None),
        (MAX_AGE + LEEWAY, "jwt expired"),
        (MAX_AGE + LEEWAY + 1, "token too old"),
    ],
    ids=["before", "at", "after"],
)
def test_iat_older_than_max_age_plus_leeway_is_too_old(
    client, frozen, tenant_a, refused, age, reason
):
    """A token as long-lived as allowed (exp = iat + max age): at age A + L - 1 it is still
    good; at A + L it has expired ("jwt expired" to the client); one second later its iat
    itself is too old (the generic description, "token too old" on the audit row)."""
    token = _token(tenant_a, iat=NOW - age, exp=NOW - age + MAX_AGE)
    if reason is None:
        assert delegate(client, tenant_a, token=token).status_code == 200
    else:
        description = EXPIRED if reason == "jwt expired" else GENERIC
        assert refused(tenant_a, token=token, description=description) == reason


@pytest.mark.parametrize("nbf", [MIN_DATE, NOW + LEEWAY], ids=["2000-01-01", "now+leeway"])
def test_nbf_at_the_earliest_date_is_accepted(client, frozen, tenant_a, nbf):
    """2000-01-01 itself is inside the NumericDate bounds (the check is inclusive)."""
    assert delegate(client, tenant_a, token=_token(tenant_a, nbf=nbf)).status_code == 200


@pytest.mark.parametrize("sub_length", [1, 128])
def test_sub_of_up_to_128_characters_is_a_user_id(client, frozen, tenant_a, sub_length):
    """A user whose user_id has 128 characters delegates; the bound is inclusive."""
    user = tenant_a["user"]
    user.user_id = "u" * sub_length
    user.save(update_fields=["user_id"])
    response = delegate(client, tenant_a, token=_token(tenant_a, sub=user.user_id))
    assert response.status_code == 200, response.content
    assert jwt.decode(response.json()["id_token"], options={"verify_signature": False})["sub"] == (
        "u" * sub_length
    )


def test_rs256_token_without_kid_verifies_with_the_active_key(client, frozen, tenant_a):
    """An RS256 id_token without a kid header is checked with the tenant's active key."""
    claims = jwt.decode(_token(tenant_a), options={"verify_signature": False})
    key = signing.rsa_private_key(tenant_a["tenant"].active_signing_key)
    token = jwt.encode(claims, key, algorithm="RS256")
    assert "kid" not in jwt.get_unverified_header(token)
    assert delegate(client, tenant_a, token=token).status_code == 200


def test_a_public_rs256_client_delegates(client, frozen, tenant_a):
    """Only the public client's *symmetric* token is refused; RS256 is its setting."""
    app = tenant_a["appA"]
    Application.objects.filter(pk=app.pk).update(app_type="spa")
    app.refresh_from_db()
    assert app.is_public and app.jwt_signature_algorithm == "RS256"
    assert delegate(client, tenant_a, token=_token(tenant_a)).status_code == 200


# --- the refresh-token path ----------------------------------------------------------------
@pytest.fixture
def signed_in(client, frozen, tenant_a):
    """A refresh token from a password grant at NOW."""
    response = password_grant(client, tenant_a, scope="openid offline_access")
    assert response.status_code == 200, response.content
    return response.json()["refresh_token"]


def _refresh(token):
    return {"id_token": DROP, "refresh_token": token}


def test_refresh_token_not_live_is_named_on_the_audit_row(client, tenant_a, signed_in, refused):
    assert refused(tenant_a, **_refresh("garbage-refresh-token")) == ("refresh token not live")


def test_rotated_refresh_token_is_not_live(client, tenant_a, signed_in, audit, refused):
    assert refresh_grant(client, tenant_a["tenant"], tenant_a["appA"], signed_in).status_code == 200
    assert refused(tenant_a, **_refresh(signed_in)) == "refresh token not live"


@pytest.mark.parametrize("case", ["blocked", "another tenant's user"])
def test_refresh_token_of_a_blocked_or_foreign_user_is_refused(
    client, tenant_a, tenant_b, signed_in, refused, case
):
    """The refresh token is live, but its user is blocked, or (a row naming another tenant's
    user) not one of this tenant's: refused as "user blocked"."""
    if case == "blocked":
        services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    else:
        RefreshToken.objects.filter(tenant=tenant_a["tenant"]).update(user=tenant_b["user"])
    assert refused(tenant_a, **_refresh(signed_in)) == "user blocked"


def test_refresh_token_carries_the_start_of_its_family(client, settings, tenant_a, audit):
    """A refresh token rotated two hours after the sign-in: the delegation token's auth_time is
    the sign-in (the family's first token), not the rotation; the family ends for delegation
    at max age + leeway after the sign-in, whatever its latest token's age."""
    max_age = 3 * 3600
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    settings.MAX_ID_TOKEN_AGE_SECONDS = max_age
    settings.OIDC_REFRESH_TOKEN_LIFETIME_SECONDS = 10 * max_age
    with time_machine.travel(NOW, tick=False) as clock:
        first = password_grant(client, tenant_a, scope="openid offline_access")
        assert first.status_code == 200, first.content
        clock.move_to(NOW + 2 * 3600)
        rotated = refresh_grant(
            client, tenant_a["tenant"], tenant_a["appA"], first.json()["refresh_token"]
        )
        assert rotated.status_code == 200, rotated.content
        latest = rotated.json()["refresh_token"]
        clock.move_to(NOW + 2 * 3600 + 60)
        response = delegate(client, tenant_a, **_refresh(latest))
        assert response.status_code == 200, response.content
        claims = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
        assert claims["auth_time"] == NOW
        clock.move_to(NOW + max_age + LEEWAY)
        assert delegate(client, tenant_a, **_refresh(latest)).status_code == 200
        clock.move_to(NOW + max_age + LEEWAY + 1)
        response = delegate(client, tenant_a, **_refresh(latest))
        assert_error(response, 400, "invalid_grant")
    assert [(row.type, row.reason) for row in audit()] == [
        ("sd", ""),
        ("sd", ""),
        ("fd", "authentication too old"),
    ]


# --- the module's functions: the `now` they are given, and the required times ------------
@pytest.mark.parametrize("clock", [NOW - 10 * MAX_AGE, NOW + 10 * MAX_AGE], ids=["behind", "ahead"])
def test_check_times_judges_at_the_now_it_is_given(settings, clock):
    """With ``now`` given, the clock plays no part: a token fresh at ``now`` passes and a
    sign-in too old at ``now`` is refused, whether the clock is far behind or far ahead."""
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    settings.MAX_ID_TOKEN_AGE_SECONDS = MAX_AGE
    with time_machine.travel(clock, tick=False):
        assert tokens.check_times({"iat": NOW - 60, "exp": NOW + 60}, now=NOW) == NOW - 60
        old = {"iat": NOW - 60, "exp": NOW + 60, "auth_time": NOW - MAX_AGE - LEEWAY - 1}
        with pytest.raises(DelegationError) as refusal:
            tokens.check_times(old, now=NOW)
        assert refusal.value.reason == "authentication too old"


@pytest.mark.parametrize("clock", [NOW - 10 * MAX_AGE, NOW + 10 * MAX_AGE], ids=["behind", "ahead"])
def test_check_authentication_age_judges_at_the_now_it_is_given(settings, clock):
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    settings.MAX_ID_TOKEN_AGE_SECONDS = MAX_AGE
    with time_machine.travel(clock, tick=False):
        tokens.check_authentication_age(NOW - MAX_AGE - LEEWAY, now=NOW)
        with pytest.raises(DelegationError) as refusal:
            tokens.check_authentication_age(NOW - MAX_AGE - LEEWAY - 1, now=NOW)
        assert (refusal.value.error, refusal.value.reason) == (
            "invalid_grant",
            "authentication too old",
        )


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_a_missing_exp_or_iat_is_named(settings, claim):
    """exp and iat are required: their absence is an invalid_grant naming the claim."""
    claims = {"iat": NOW - 60, "exp": NOW + 60}
    del claims[claim]
    with pytest.raises(DelegationError) as refusal:
        tokens.check_times(claims, now=NOW)
    assert (refusal.value.error, refusal.value.reason) == ("invalid_grant", f"{claim} missing")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=repr)
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "auth_time"])
def test_a_non_finite_time_is_no_numeric_date(claim, value):
    """NaN and +-Infinity (Python's JSON reader accepts them in a payload) are refused as no
    NumericDate at all, before any bounds are compared (a NaN compares false both ways)."""
    claims = {"iat": NOW - 60, "exp": NOW + 60, claim: value}
    with pytest.raises(DelegationError) as refusal:
        tokens.check_times(claims, now=NOW)
    assert (refusal.value.error, refusal.value.reason) == (
        "invalid_grant",
        f"{claim} not a NumericDate",
    )


def test_a_verified_id_token_carries_its_claims_sub_and_authentication_time(frozen, tenant_a):
    """``id_token_verify`` returns the payload it verified (what ``passthrough`` copies), its
    ``sub``, and ``auth_time`` as whole seconds (``iat`` when absent)."""
    token = _token(tenant_a, department="research", roles=["a", "b"], auth_time=NOW - 90.5)
    verified = tokens.id_token_verify(
        tenant=tenant_a["tenant"], source=tenant_a["appA"], token=token
    )
    assert verified.sub == tenant_a["user"].user_id
    assert verified.claims == jwt.decode(token, options={"verify_signature": False})
    assert (verified.claims["department"], verified.claims["roles"]) == ("research", ["a", "b"])
    assert verified.auth_time == NOW - 91

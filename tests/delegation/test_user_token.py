"""SECURITY-CASES D11-D21: the source's grant and the user token (step 3 and 4 of SPEC 4)."""

import base64
import hashlib
import hmac
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delegation.models import AuditEvent
from tenantauth import services, signing
from tenantauth.models import GRANT_DELEGATION_ID_TOKEN, GRANT_DELEGATION_REFRESH_TOKEN
from tests.delegation.helpers import (
    DROP,
    assert_error,
    b64url,
    delegate,
    id_token_for,
    unsigned_token,
)


def _token(setup, **overrides):
    return id_token_for(setup["tenant"], setup["appA"], setup["user"], **overrides)


def _refused(client, setup, token, *, description=None):
    response = delegate(client, setup, token=token)
    data = assert_error(response, 400, "invalid_grant")
    if description:
        assert data["error_description"] == description
    assert not AuditEvent.objects.filter(type="sd").exists()
    return data


def _make_rs256(app):
    services.application_update(application=app, jwt_signature_algorithm="RS256")
    return app


def _make_hs256(app):
    services.application_update(application=app, jwt_signature_algorithm="HS256")
    return app


def test_d11_source_without_delegation_grant_is_403(client, tenant_a):
    """A source without the legacy delegation grant gets 403 unauthorized_client naming it."""
    app = tenant_a["appA"]
    services.application_update(
        application=app, grant_types=[g for g in app.grant_types if g != GRANT_DELEGATION_ID_TOKEN]
    )
    data = assert_error(delegate(client, tenant_a), 403, "unauthorized_client")
    assert (
        data["error_description"] == f"Grant type '{GRANT_DELEGATION_ID_TOKEN}' not allowed "
        "for the client."
    )


def test_d11_disabled_source_is_403(client, tenant_a):
    """A disabled source application gets 403 unauthorized_client (SECURITY-CASES D11)."""
    services.application_update(application=tenant_a["appA"], is_active=False)
    assert_error(delegate(client, tenant_a), 403, "unauthorized_client")


def test_d11_refresh_path_needs_the_refresh_delegation_grant(client, tenant_a):
    """The refresh_token path needs the delegation/refresh_token grant."""
    app = tenant_a["appA"]
    services.application_update(
        application=app,
        grant_types=[g for g in app.grant_types if g != GRANT_DELEGATION_REFRESH_TOKEN],
    )
    response = delegate(client, tenant_a, id_token=DROP, refresh_token="x" * 43)
    assert_error(response, 403, "unauthorized_client")


@pytest.mark.parametrize(
    "shape",
    [
        "two-segments",
        "five-segments",
        "json-serialization",
        "garbage",
        "padding",
        "space-inside",
        "trailing-space",
    ],
)
def test_d12_not_a_compact_jws_is_invalid_grant(client, tenant_a, shape):
    """An id_token that is not a compact JWS (2 or 5 segments, JSON serialization, garbage,
    base64 padding, spaces) gets 400 invalid_grant."""
    good = _token(tenant_a)
    header, payload, signature = good.split(".")
    token = {
        "two-segments": f"{header}.{payload}",
        "five-segments": f"{header}.{payload}.{signature}.{signature}.{signature}",
        "json-serialization": (
            f'{{"payload":"{payload}","signatures":[{{"protected":"{header}",'
            f'"signature":"{signature}"}}]}}'
        ),
        "garbage": "not-a-token-at-all",
        "padding": f"{header}=.{payload}.{signature}",
        "space-inside": f"{header}. {payload}.{signature}",
        "trailing-space": f"{good} ",
    }[shape]
    _refused(client, tenant_a, token)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("source_alg", ["HS256", "RS256"])
def test_d13_alg_none_is_invalid_grant(client, tenant_a, alg, source_alg):
    """alg none / None / NONE with an empty (or any) signature gets 400 invalid_grant."""
    services.application_update(application=tenant_a["appA"], jwt_signature_algorithm=source_alg)
    claims = jwt.decode(_token(tenant_a), options={"verify_signature": False})
    _refused(client, tenant_a, unsigned_token({"alg": alg, "typ": "JWT"}, claims))
    _refused(client, tenant_a, unsigned_token({"alg": alg, "typ": "JWT"}, claims, "c2ln"))


def test_d14_rs256_source_refuses_hs256_keyed_with_public_key(client, tenant_a):
    """Algorithm confusion: S is RS256 and the token is HS256 keyed with the tenant's public
    key PEM -> 400 invalid_grant (the algorithm is the source's, never the token's)."""
    _make_rs256(tenant_a["appA"])
    tenant = tenant_a["tenant"]
    public_pem = signing.rsa_public_key(tenant.active_signing_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(_token(tenant_a), options={"verify_signature": False})
    for header in (
        {"alg": "HS256", "typ": "JWT"},
        {"alg": "HS256", "typ": "JWT", "kid": tenant.active_signing_key.kid},
    ):
        signing_input = unsigned_token(header, claims)[:-1]
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        _refused(client, tenant_a, f"{signing_input}.{b64url(mac)}")


def test_d14_hs256_source_refuses_rs256_and_hs512(client, tenant_a):
    """S is HS256: an RS256 token (tenant key) or an HS512 token (S's secret) is refused."""
    tenant, app = tenant_a["tenant"], _make_hs256(tenant_a["appA"])
    rs256 = jwt.encode(
        jwt.decode(_token(tenant_a), options={"verify_signature": False}),
        signing.rsa_private_key(tenant.active_signing_key),
        algorithm="RS256",
        headers={"kid": tenant.active_signing_key.kid},
    )
    _refused(client, tenant_a, rs256)
    _refused(client, tenant_a, _token(tenant_a, algorithm="HS512", key=app.client_secret()))


def test_d15_wrong_key_or_flipped_byte_is_invalid_grant(client, tenant_a, tenant_b):
    """Signed with another client's secret, with tenant B's key, or one byte flipped: 400."""
    _make_hs256(tenant_a["appA"])
    _refused(client, tenant_a, _token(tenant_a, key=tenant_a["appB"].client_secret()))
    good = _token(tenant_a)
    header, payload, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    _refused(client, tenant_a, f"{header}.{payload}.{flipped}")
    # RS256 source: tenant B's key, with B's kid (unknown here) and with A's kid.
    _make_rs256(tenant_a["appA"])
    b_key = tenant_b["tenant"].active_signing_key
    for kid in (b_key.kid, tenant_a["tenant"].active_signing_key.kid):
        token = _token(
            tenant_a, algorithm="RS256", key=signing.rsa_private_key(b_key), headers={"kid": kid}
        )
        _refused(client, tenant_a, token)


def test_d16_exp_just_outside_then_just_inside_the_leeway(client, tenant_a, settings):
    """exp just outside the leeway is 400 invalid_grant "jwt expired"; just inside is 200."""
    now = int(time.time())
    leeway = settings.JWT_LEEWAY_SECONDS
    outside = _token(tenant_a, iat=now - 3600, exp=now - leeway - 2)
    _refused(client, tenant_a, outside, description="jwt expired")
    inside = _token(tenant_a, iat=now - 3600, exp=now - leeway + 5)
    assert delegate(client, tenant_a, token=inside).status_code == 200


@pytest.mark.parametrize(
    "variant",
    [
        "exp-missing",
        "exp-string",
        "exp-true",
        "exp-1e30",
        "exp-nan-like-string",
        "iat-missing",
        "iat-string",
        "lifetime-above-max",
        "too-old",
        "nbf-future",
        "iat-future",
        "nbf-string",
        "exp-before-iat",
        "sub-missing",
        "sub-number",
    ],
)
def test_d17_bad_time_claims_are_invalid_grant(client, tenant_a, settings, variant):
    """exp missing, a string, true, 1e30; iat missing or a string; a lifetime above the
    maximum; nbf / iat in the future: 400 invalid_grant (PyJWT alone accepts some of them)."""
    now = int(time.time())
    max_age = settings.MAX_ID_TOKEN_AGE_SECONDS
    overrides = {
        "exp-missing": {"exp": DROP},
        "exp-string": {"exp": str(now + 3600)},
        "exp-true": {"exp": True},
        "exp-1e30": {"exp": 1e30},
        "exp-nan-like-string": {"exp": "1796035000.5"},
        "iat-missing": {"iat": DROP},
        "iat-string": {"iat": str(now)},
        "lifetime-above-max": {"iat": now, "exp": now + max_age + 100},
        "too-old": {"iat": now - max_age - 3600, "exp": now + 3600},
        "nbf-future": {"nbf": now + 3600},
        "iat-future": {"iat": now + 3600, "exp": now + 7200},
        "nbf-string": {"nbf": str(now)},
        "exp-before-iat": {"iat": now, "exp": now - 1},
        "sub-missing": {"sub": DROP},
        "sub-number": {"sub": 12345},
    }[variant]
    _refused(client, tenant_a, _token(tenant_a, **overrides))


def test_d18_audience(client, tenant_a):
    """aud of another client, a list without S, or missing: 400; a list with S and azp = S:
    200 (OIDC Core 3.1.3.7: several audiences need azp; see test_user_token_rfc.py)."""
    other, own = tenant_a["appB"].client_id, tenant_a["appA"].client_id
    _refused(client, tenant_a, _token(tenant_a, aud=other))
    _refused(client, tenant_a, _token(tenant_a, aud=[other, "x"]))
    _refused(client, tenant_a, _token(tenant_a, aud=DROP))
    _refused(client, tenant_a, _token(tenant_a, aud=[other, own]))  # no azp
    listed = _token(tenant_a, aud=[other, own], azp=own)
    assert delegate(client, tenant_a, token=listed).status_code == 200


def test_d19_issuer_exact_match(client, tenant_a, tenant_b):
    """iss of tenant B, a foreign issuer, or a trailing-slash variant: 400 invalid_grant."""
    issuer = tenant_a["tenant"].issuer
    for iss in (
        tenant_b["tenant"].issuer,
        "https://evil.example/t/tenant-a/",
        issuer.rstrip("/"),
        issuer + "/",
        issuer.upper(),
    ):
        _refused(client, tenant_a, _token(tenant_a, iss=iss))
    # iss as a list holding the issuer (PyJWT will not encode it: sign by hand, HS256).
    _make_hs256(tenant_a["appA"])
    claims = jwt.decode(_token(tenant_a), options={"verify_signature": False})
    signing_input = unsigned_token({"alg": "HS256", "typ": "JWT"}, dict(claims, iss=[issuer]))
    signing_input = signing_input[:-1]
    secret = tenant_a["appA"].client_secret().encode()
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    _refused(client, tenant_a, f"{signing_input}.{b64url(mac)}")


def test_d20_user_deleted_blocked_or_of_tenant_b(client, tenant_a, tenant_b):
    """sub of a deleted user, a blocked user, or a user of tenant B: 400 invalid_grant."""
    user = tenant_a["user"]
    _refused(client, tenant_a, _token(tenant_a, sub=tenant_b["user"].user_id))
    services.tenant_user_set_blocked(user=user, blocked=True)
    _refused(client, tenant_a, _token(tenant_a))
    token = _token(tenant_a)
    user.delete()
    _refused(client, tenant_a, token)


@pytest.mark.parametrize(
    "kid, error",
    [
        ("../../../../etc/passwd", "invalid_grant"),
        ("' OR '1'='1' --", "invalid_grant"),
        ("abc\x00def", "invalid_grant"),
        ("k" * 200, "invalid_grant"),
        ("k" * 10_240, "invalid_request"),
        ("UnknownKidUnknownKidUnknownKid", "invalid_grant"),
    ],
    ids=["traversal", "sql", "nul", "200-chars", "10KB", "unknown"],
)
@pytest.mark.parametrize("source_alg", ["RS256", "HS256"])
def test_d21_hostile_kid_is_refused_before_any_lookup(
    client, tenant_a, monkeypatch, kid, error, source_alg
):
    """A kid of path traversal, SQL, NUL, 200 chars or unknown gets 400 invalid_grant; no file
    is opened and no SQL carries it (it is checked before the tenant-scoped lookup). A 10 KB
    kid makes the id_token itself exceed the 8 KiB limit: 400 invalid_request (step 2)."""
    services.application_update(application=tenant_a["appA"], jwt_signature_algorithm=source_alg)
    tenant = tenant_a["tenant"]
    key = (
        signing.rsa_private_key(tenant.active_signing_key)
        if source_alg == "RS256"
        else tenant_a["appA"].client_secret()
    )
    token = _token(tenant_a, algorithm=source_alg, key=key, headers={"kid": kid})
    opened = []
    real_open = open
    monkeypatch.setattr(
        "builtins.open", lambda f, *a, **k: opened.append(f) or real_open(f, *a, **k)
    )
    with CaptureQueriesContext(connection) as queries:
        response = delegate(client, tenant_a, token=token)
    assert_error(response, 400, error)
    assert not [f for f in opened if "passwd" in str(f)]
    if kid != "UnknownKidUnknownKidUnknownKid":
        assert not [q for q in queries.captured_queries if kid[:20] in q["sql"]]


def test_rs256_source_success_with_kid_and_retired_key(client, tenant_a):
    """An RS256 source's token verifies with the active key and, after rotation, with the
    retired key still inside its window (looked up by kid in the tenant's key set)."""
    _make_rs256(tenant_a["appA"])
    assert delegate(client, tenant_a).status_code == 200
    old_token = _token(tenant_a)
    services.signing_key_rotate(tenant=tenant_a["tenant"])
    assert delegate(client, tenant_a, token=old_token).status_code == 200


def test_key_bearing_headers_are_refused(client, tenant_a):
    """A token carrying jwk / jku / x5u headers is refused: keys never come from a token."""
    for header in (
        {"jku": "http://127.0.0.1:1/jwks"},
        {"x5u": "http://127.0.0.1:1/c"},
        {"jwk": {"kty": "oct", "k": base64.b64encode(b"k" * 32).decode()}},
    ):
        _refused(client, tenant_a, _token(tenant_a, headers=header))


def test_refresh_token_path(client, tenant_a, tenant_b):
    """A live refresh token of this client delegates for its user; one of another client,
    a rotated one, or garbage gets 400 invalid_grant."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    from tenantauth.crypto import fingerprint
    from tenantauth.models import RefreshToken

    def make(app, **fields):
        value = secrets.token_urlsafe(32)
        RefreshToken.objects.create(
            tenant=app.tenant,
            application=app,
            user=tenant_a["user"],
            family=__import__("uuid").uuid4(),
            token_hash=fingerprint(value),
            expires_at=timezone.now() + timedelta(days=1),
            **fields,
        )
        return value

    live = make(tenant_a["appA"])
    response = delegate(client, tenant_a, id_token=DROP, refresh_token=live)
    assert response.status_code == 200, response.content
    other_client = make(tenant_a["appB"])
    rotated = make(tenant_a["appA"], rotated_at=timezone.now())
    for token in (other_client, rotated, "garbage"):
        assert_error(
            delegate(client, tenant_a, id_token=DROP, refresh_token=token), 400, "invalid_grant"
        )

"""The success path and SECURITY-CASES D25-D28: target, allow-list, api_type, scope, reserved
claims, one audit row per issued token."""

import time

import jwt
import pytest

from delegation.models import AuditEvent
from tenantauth import crypto, services
from tests.delegation.helpers import DROP, assert_error, delegate, id_token_for, verify_issued


@pytest.mark.parametrize("target_alg", ["HS256", "RS256"])
@pytest.mark.parametrize("source_name", ["appA", "appB"])
def test_success_token_for_target_verifies_with_target_key_only(
    client, tenant_a, audit, source_name, target_alg
):
    """appA / appB get a token for apiC: 200 with no-store headers, signed per apiC's setting,
    verifying with apiC's key and not with the source's; claims per SPEC; expires_in matches
    exp; exactly one sd row carries its jti and fingerprint, never the token."""
    setup, api_c, source = tenant_a, tenant_a["apiC"], tenant_a[source_name]
    services.application_update(
        application=api_c, jwt_signature_algorithm=target_alg, jwt_lifetime_seconds=600
    )
    signed_in = int(time.time()) - 3600
    incoming = id_token_for(setup["tenant"], source, setup["user"], auth_time=signed_in)
    response = delegate(client, setup, source=source, token=incoming)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"id_token", "token_type", "expires_in"}
    assert data["token_type"] == "Bearer" and data["expires_in"] == 600
    claims = verify_issued(data["id_token"], tenant=setup["tenant"], target=api_c)
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "jti", "auth_time"}
    assert claims["auth_time"] == signed_in  # the original sign-in, carried on (D33)
    assert claims["sub"] == setup["user"].user_id and claims["aud"] == api_c.client_id
    assert claims["exp"] - claims["iat"] == 600 and len(claims["jti"]) == 32
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(
            data["id_token"], source.client_secret(), algorithms=["HS256"], audience=api_c.client_id
        )
    (row,) = audit()
    assert row.type == "sd" and row.jti == claims["jti"]
    assert row.token_fingerprint == crypto.fingerprint(data["id_token"])
    assert (row.source_client_id, row.target_client_id) == (source.client_id, api_c.client_id)
    assert row.user_id == setup["user"].user_id and row.api_type == "app"
    assert row.scope == "openid" and row.client_ip == "127.0.0.1"
    assert int(row.expires_at.timestamp()) == claims["exp"]
    stored = AuditEvent.objects.filter(pk=row.pk).values()[0]
    assert not any(data["id_token"] in str(value) for value in stored.values())


def test_d25_same_token_twice_gives_two_tokens_and_two_rows(client, tenant_a, audit):
    """The same valid id_token twice: 200 each (Auth0 semantics), one audit row each, distinct
    jti. (20 concurrent copies: tests/delegation/test_concurrency.py, PostgreSQL.)"""
    token = id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"])
    first = delegate(client, tenant_a, token=token)
    second = delegate(client, tenant_a, token=token)
    assert first.status_code == second.status_code == 200
    jtis = [
        jwt.decode(r.json()["id_token"], options={"verify_signature": False})["jti"]
        for r in (first, second)
    ]
    assert len(set(jtis)) == 2
    assert sorted(r.jti for r in audit(type="sd")) == sorted(jtis)


def test_d26_every_target_refusal_is_the_same_invalid_target(client, tenant_a, tenant_b, audit):
    """Target of tenant B, unknown, not allowed, OIDC-conformant, add-on not configured: 400
    invalid_target with the same body for all five."""
    answers = [
        delegate(client, tenant_a, target=tenant_b["apiC"].client_id),
        delegate(client, tenant_a, target="nosuchclient0000000000000000000"),
        delegate(client, tenant_a, target=tenant_a["appB"]),  # appB allows nobody
        delegate(client, tenant_a, api_type="firebase"),
    ]
    services.application_update(application=tenant_a["apiC"], oidc_conformant=True)
    answers.append(delegate(client, tenant_a))
    bodies = {assert_error(r, 400, "invalid_target")["error_description"] for r in answers}
    assert len({r.content for r in answers}) == 1 and len(bodies) == 1
    assert not audit(type="sd")
    assert [r.error for r in audit(type="fd")] == ["invalid_target"] * 5


def test_d26_target_checked_only_after_the_user_token(client, tenant_a):
    """A bad token with a bad target answers invalid_grant: targets are never probed first."""
    response = delegate(
        client, tenant_a, target="nosuchclient0000000000000000000", token="bad.token.here"
    )
    assert_error(response, 400, "invalid_grant")


def test_d26_target_omitted_means_the_caller(client, tenant_a):
    """target omitted = the caller itself (self-delegation is always allowed)."""
    response = delegate(client, tenant_a, target=DROP)
    assert response.status_code == 200, response.content
    claims = verify_issued(
        response.json()["id_token"], tenant=tenant_a["tenant"], target=tenant_a["appA"]
    )
    assert claims["aud"] == tenant_a["appA"].client_id


def test_empty_allowlist_means_all_or_none_per_tenant(client, tenant_a):
    """An empty Allowed APPs list accepts nobody by default, everybody when the tenant keeps
    Auth0's legacy behaviour; a listed source is allowed, an unlisted one is not."""
    assert_error(delegate(client, tenant_a, target=tenant_a["appB"]), 400, "invalid_target")
    tenant = tenant_a["tenant"]
    tenant.empty_allowlist_means_all = True
    tenant.save()
    assert delegate(client, tenant_a, target=tenant_a["appB"]).status_code == 200
    services.application_update(
        application=tenant_a["apiC"], allowed_clients=[tenant_a["appB"].client_id]
    )
    assert_error(delegate(client, tenant_a), 400, "invalid_target")


def test_oidc_conformant_source_cannot_delegate(client, tenant_a):
    """An OIDC-conformant source gets the same invalid_target (neither side may be one)."""
    services.application_update(application=tenant_a["appA"], oidc_conformant=True)
    assert_error(delegate(client, tenant_a), 400, "invalid_target")
    assert_error(delegate(client, tenant_a, target=DROP), 400, "invalid_target")


def test_disabled_target_is_invalid_target(client, tenant_a):
    """A disabled target application is refused like an unknown one."""
    services.application_update(application=tenant_a["apiC"], is_active=False)
    assert_error(delegate(client, tenant_a), 400, "invalid_target")


@pytest.mark.parametrize("api_type", ["app", "auth0"])
def test_api_type_app_and_alias(client, tenant_a, api_type):
    """api_type app and its alias auth0 both mint the app token."""
    assert delegate(client, tenant_a, api_type=api_type).status_code == 200


@pytest.mark.parametrize("api_type", ["unknown", "a" * 1024, "APP", ""])
def test_d27_unknown_or_long_api_type_is_invalid_request(client, tenant_a, api_type):
    """An unknown or 1 KB api_type gets 400 invalid_request (an empty one means default)."""
    response = delegate(client, tenant_a, api_type=api_type)
    if api_type == "":
        assert response.status_code == 200
    else:
        assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "scope",
    ["read:all", "openid read:all", "openid offline_access", "profile email", "openid https://x"],
)
def test_d27_scope_not_offered_is_invalid_scope(client, tenant_a, scope):
    """What no delegation target grants gets 400 invalid_scope and issues nothing: an API
    permission, a refresh token (offline_access), a scope without openid or passthrough."""
    assert_error(delegate(client, tenant_a, scope=scope), 400, "invalid_scope")
    assert not AuditEvent.objects.filter(type="sd").exists()


@pytest.mark.parametrize(
    "scope, expected",
    [
        ("openid", set()),
        ("openid name email", {"name", "email", "email_verified"}),
        ("openid profile", {"name", "nickname", "updated_at"}),
        ("openid nickname", {"nickname"}),
        # Issue 7: names the user does not have (or that are no attribute) are left out.
        ("openid name email displayName", {"name", "email", "email_verified"}),
        ("openid given_name family_name", set()),
        ("openid admin", set()),
    ],
)
def test_scope_attributes(client, tenant_a, scope, expected):
    """openid gives only the standard claims; attribute lists and profile add the user's
    attributes that are present (the fixture user has no picture, given or family name);
    an attribute the user lacks is left out, never an error."""
    response = delegate(client, tenant_a, scope=scope)
    assert response.status_code == 200, response.content
    claims = verify_issued(
        response.json()["id_token"], tenant=tenant_a["tenant"], target=tenant_a["apiC"]
    )
    assert set(claims) - {"iss", "sub", "aud", "iat", "exp", "jti", "auth_time"} == expected
    user = tenant_a["user"]
    for name in expected - {"updated_at"}:
        assert claims[name] == getattr(user, name)


def test_d27_passthrough_copies_only_non_reserved_claims(client, tenant_a):
    """passthrough copies the incoming token's own claims but never aud exp iss iat nbf jti
    azp typ (nor sub): those are the server's."""
    tenant, user = tenant_a["tenant"], tenant_a["user"]
    token = id_token_for(
        tenant,
        tenant_a["appA"],
        user,
        department="research",
        roles=["a", "b"],
        azp=tenant_a["appA"].client_id,
        typ="Refresh",
        jti="fixed-jti",
        nbf=1_000_000_000,
        nonce="n-123",
    )
    response = delegate(client, tenant_a, token=token, scope="passthrough")
    assert response.status_code == 200, response.content
    claims = verify_issued(response.json()["id_token"], tenant=tenant, target=tenant_a["apiC"])
    assert claims["department"] == "research" and claims["roles"] == ["a", "b"]
    assert claims["email"] == user.email
    for reserved in ("azp", "typ", "nbf", "nonce"):
        assert reserved not in claims
    assert claims["jti"] != "fixed-jti" and claims["aud"] == tenant_a["apiC"].client_id
    assert claims["iss"] == tenant.issuer and claims["sub"] == user.user_id


def test_d28_extra_parameters_never_override_reserved_claims(client, tenant_a):
    """Extra parameters aud, sub, exp, iss (and jti, iat) get 200, but the minted token's
    reserved claims are the server's."""
    response = delegate(
        client,
        tenant_a,
        aud="attacker",
        sub="auth0|admin",
        exp=9_999_999_999,
        iss="https://evil.example/",
        jti="mine",
        iat=1,
        scope="openid passthrough",
    )
    assert response.status_code == 200, response.content
    claims = verify_issued(
        response.json()["id_token"], tenant=tenant_a["tenant"], target=tenant_a["apiC"]
    )
    assert claims["aud"] == tenant_a["apiC"].client_id
    assert claims["sub"] == tenant_a["user"].user_id
    assert claims["iss"] == tenant_a["tenant"].issuer
    assert claims["jti"] != "mine" and claims["exp"] - claims["iat"] == 36000


def test_user_agent_is_stored_clean_and_truncated(client, tenant_a, audit):
    """The audit row keeps the user agent without control characters and truncated."""
    from tests.delegation.helpers import body_for, post_json

    token = id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"])
    body = body_for(tenant_a["appA"], token, target=tenant_a["apiC"].client_id)
    response = post_json(
        client, tenant_a["tenant"], body, HTTP_USER_AGENT="curl/8\x1b[31m\x07 " + "x" * 2000
    )
    assert response.status_code == 200
    (row,) = audit()
    assert row.user_agent.startswith("curl/8[31m ") and len(row.user_agent) <= 256
    assert "\x1b" not in row.user_agent and "\x07" not in row.user_agent

"""One table (tenantauth.oidc.claims) says which claims a scope grants; oauth/token, userinfo
and /delegation all read it, so they agree. Reserved claims never come from a scope."""

import pytest

from tenantauth import services
from tenantauth.oidc import claims as claims_table
from tests.delegation.helpers import delegate, verify_issued
from tests.tenantauth.oidc_support import decode_id_token, password_grant

pytestmark = pytest.mark.django_db
PROTOCOL = {"iss", "sub", "aud", "iat", "exp", "jti", "auth_time", "nonce", "azp"}


@pytest.fixture
def full_user(tenant_a):
    services.tenant_user_update(
        user=tenant_a["user"],
        given_name="Ada",
        family_name="Lovelace",
        picture="https://example.com/ada.png",
        username="ada",
    )
    return tenant_a


@pytest.mark.parametrize("scope", ["openid profile", "openid email", "openid profile email"])
def test_token_userinfo_and_delegation_grant_the_same_claims(client, full_user, scope):
    """For the same OIDC scope the id_token, userinfo and a delegation token carry the same
    user claims with the same values (updated_at included, as issue 7 asks)."""
    setup = full_user
    body = password_grant(client, setup, scope=scope).json()
    from_token = decode_id_token(body["id_token"], setup["appA"])
    from_userinfo = client.get(
        f"/t/{setup['tenant'].slug}/userinfo",
        HTTP_AUTHORIZATION=f"Bearer {body['access_token']}",
    ).json()
    response = delegate(client, setup, scope=scope)
    assert response.status_code == 200, response.content
    from_delegation = verify_issued(
        response.json()["id_token"], tenant=setup["tenant"], target=setup["apiC"]
    )
    expected = set(claims_table.claims_for_scope(scope.split()))
    assert expected, scope
    user_part = [
        {k: v for k, v in claims.items() if k not in PROTOCOL}
        for claims in (from_token, from_userinfo, from_delegation)
    ]
    assert set(user_part[0]) == expected
    assert user_part[0] == user_part[1] == user_part[2]


def test_profile_scope_is_the_whole_oidc_profile_set():
    """profile grants OIDC Core 5.4's claims a tenant user can have, updated_at included."""
    assert set(claims_table.SCOPE_CLAIMS["profile"]) == {
        "name",
        "given_name",
        "family_name",
        "nickname",
        "preferred_username",
        "picture",
        "updated_at",
    }
    assert set(claims_table.SCOPE_CLAIMS["email"]) == {"email", "email_verified"}


def test_reserved_claims_are_in_no_scope():
    """No scope value or attribute name can set a reserved claim."""
    granted = set(claims_table.ATTRIBUTES)
    for names in claims_table.SCOPE_CLAIMS.values():
        granted |= set(names)
    assert not granted & claims_table.RESERVED_CLAIMS


def test_reserved_names_in_a_delegation_scope_change_nothing(client, full_user):
    """'openid iss sub aud exp iat nbf jti azp typ auth_time' is accepted (unknown attributes
    are left out) and every reserved claim stays the server's."""
    setup = full_user
    response = delegate(client, setup, scope="openid iss sub aud exp iat nbf jti azp typ auth_time")
    assert response.status_code == 200, response.content
    issued = verify_issued(
        response.json()["id_token"], tenant=setup["tenant"], target=setup["apiC"]
    )
    assert set(issued) == {"iss", "sub", "aud", "iat", "exp", "jti", "auth_time"}
    assert issued["sub"] == setup["user"].user_id and issued["aud"] == setup["apiC"].client_id
    assert issued["auth_time"] <= issued["iat"]  # the sign-in's time, never from the scope


def test_unknown_scope_on_authorize_is_ignored(client, tenant_a):
    """/authorize with 'openid profile read:messages' issues a code; the token answer's
    scope is what was granted."""
    from tests.tenantauth.oidc_support import login_for_code, pkce_pair, post_token

    verifier, challenge = pkce_pair()
    code = login_for_code(
        client, tenant_a, challenge=challenge, scope="openid profile read:messages address"
    )["code"]
    app = tenant_a["appA"]
    response = post_token(
        client,
        tenant_a["tenant"],
        {
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": app.client_secret(),
            "code": code,
            "redirect_uri": "http://127.0.0.1:9999/callback",
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "openid profile"

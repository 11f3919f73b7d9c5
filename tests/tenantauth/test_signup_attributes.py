"""Issue 7 fault 5: dbconnections/signup stores and echoes what Auth0's sign-up API documents
(username, given_name, family_name, name, nickname, picture, user_metadata), refuses invalid
values with a clear {code, description} error, and the stored attributes appear in later
id_tokens, userinfo and delegation tokens per scope."""

import json

import pytest

from tenantauth.models import Connection, TenantUser
from tests.delegation.helpers import delegate, verify_issued
from tests.tenantauth.oidc_support import REALM_GRANT, decode_id_token, post_token

pytestmark = pytest.mark.django_db
STRONG = "violet-otter-harbour-92"
PROFILE = {
    "given_name": "Grace",
    "family_name": "Hopper",
    "name": "Grace Brewster Hopper",
    "nickname": "amazing-grace",
    "picture": "https://example.com/grace.png",
}


def _signup(client, setup, **fields):
    body = {
        "client_id": setup["appA"].client_id,
        "email": "grace@example.com",
        "password": STRONG,
        "connection": "Username-Password-Authentication",
        **fields,
    }
    return client.post(
        f"/t/{setup['tenant'].slug}/dbconnections/signup",
        json.dumps(body),
        content_type="application/json",
    )


def _login(client, setup, username, scope):
    app = setup["appA"]
    return post_token(
        client,
        setup["tenant"],
        {
            "grant_type": REALM_GRANT,
            "client_id": app.client_id,
            "client_secret": app.client_secret(),
            "username": username,
            "password": STRONG,
            "realm": "Username-Password-Authentication",
            "scope": scope,
        },
    )


def test_issue_input_stores_and_echoes_every_attribute(client, tenant_a):
    """The issue's input (name, given_name, family_name, nickname, picture, user_metadata):
    200, every attribute stored and echoed in Auth0's answer."""
    response = _signup(client, tenant_a, user_metadata={"plan": "pro"}, **PROFILE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in PROFILE} == PROFILE
    assert body["user_metadata"] == {"plan": "pro"} and body["email"] == "grace@example.com"
    user = TenantUser.objects.get(tenant=tenant_a["tenant"], email="grace@example.com")
    assert {k: getattr(user, k) for k in PROFILE} == PROFILE
    assert user.user_metadata == {"plan": "pro"} and user.user_id == "auth0|" + body["_id"]
    assert "username" not in body and user.username == ""


def test_attributes_appear_in_tokens_userinfo_and_delegation_per_scope(client, tenant_a):
    """After sign-up: the id_token and userinfo carry the profile claims for scope profile
    (incl. updated_at), none for scope openid; delegation 'openid given_name family_name'
    adds exactly those two; 'openid profile' the whole OIDC profile set."""
    assert _signup(client, tenant_a, **PROFILE).status_code == 200
    body = _login(client, tenant_a, "grace@example.com", "openid profile email").json()
    claims = decode_id_token(body["id_token"], tenant_a["appA"])
    assert {k: claims[k] for k in PROFILE} == PROFILE and "updated_at" in claims
    info = client.get(
        f"/t/{tenant_a['tenant'].slug}/userinfo",
        HTTP_AUTHORIZATION=f"Bearer {body['access_token']}",
    ).json()
    assert {k: info[k] for k in PROFILE} == PROFILE and info["email"] == "grace@example.com"
    bare = _login(client, tenant_a, "grace@example.com", "openid").json()
    assert not set(PROFILE) & set(decode_id_token(bare["id_token"], tenant_a["appA"]))

    user = TenantUser.objects.get(email="grace@example.com")
    setup = {**tenant_a, "user": user}
    for scope, expected in (
        ("openid given_name family_name", {"given_name", "family_name"}),
        ("openid profile", set(PROFILE) | {"updated_at"}),
        ("openid name email displayName", {"name", "email", "email_verified"}),
    ):
        response = delegate(client, setup, scope=scope)
        assert response.status_code == 200, (scope, response.content)
        issued = verify_issued(
            response.json()["id_token"], tenant=tenant_a["tenant"], target=tenant_a["apiC"]
        )
        server = {"iss", "sub", "aud", "iat", "exp", "jti", "auth_time"}
        assert set(issued) - server == expected, scope


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("given_name", "x" * 151, "at most 150"),
        ("family_name", "", "non-blank"),
        ("name", "x" * 301, "at most 300"),
        ("nickname", "nick\nname", "control characters"),
        ("name", "Bell\x07", "control characters"),
        ("picture", "javascript:alert(1)", "http or https URL"),
        ("picture", "not a url", "http or https URL"),
        ("picture", "https://example.com/" + "p" * 500, "at most 500"),
        ("user_metadata", {"a": 1}, "strings"),
        ("user_metadata", {f"k{i}": "v" for i in range(11)}, "at most 10"),
        ("username", "grace", "only accepted by connections that require a username"),
    ],
)
def test_invalid_values_refused_clearly_and_nothing_stored(client, tenant_a, field, value, words):
    """Each invalid attribute is 400 invalid_request with a description naming the rule (not
    echoing the value), in Auth0's {code, description, statusCode} shape; no user is made."""
    users = TenantUser.objects.count()
    response = _signup(client, tenant_a, **{field: value})
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "description", "statusCode"}
    assert body["code"] == "invalid_request" and words in body["description"], body
    if isinstance(value, str) and len(value) > 3:
        assert value not in body["description"]
    assert TenantUser.objects.count() == users


@pytest.fixture
def username_connection(tenant_a):
    Connection.objects.filter(tenant=tenant_a["tenant"]).update(
        requires_username=True, username_min_length=3, username_max_length=15
    )
    return tenant_a


def test_username_stored_echoed_and_usable_to_sign_in(client, username_connection):
    """A connection that requires usernames stores one (lower case), echoes it, lets the
    user sign in with it, and puts it in preferred_username for scope profile."""
    setup = username_connection
    response = _signup(client, setup, username="Grace_H")
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "grace_h"
    login = _login(client, setup, "grace_h", "openid profile")
    assert login.status_code == 200, login.content
    claims = decode_id_token(login.json()["id_token"], setup["appA"])
    assert claims["preferred_username"] == "grace_h"
    assert _login(client, setup, "grace@example.com", "openid").status_code == 200


@pytest.mark.parametrize(
    "username, words",
    [
        (None, "Missing required parameter: username"),
        ("ab", "between 3 and 15"),
        ("a" * 16, "between 3 and 15"),
        ("grace@home", "may contain only"),
        ("grace hopper", "may contain only"),
    ],
)
def test_username_rules(client, username_connection, username, words):
    """Required by the connection, within its length limits, Auth0's alphabet without "@"."""
    fields = {} if username is None else {"username": username}
    response = _signup(client, username_connection, **fields)
    assert response.status_code == 400
    assert words in response.json()["description"]
    assert not TenantUser.objects.filter(email="grace@example.com").exists()


def test_taken_username_gets_the_opaque_answer(client, username_connection):
    """A username already taken in the connection gets Auth0's opaque invalid_signup, like a
    taken email; the first user is untouched."""
    assert _signup(client, username_connection, username="grace").status_code == 200
    again = _signup(client, username_connection, username="GRACE", email="other@example.com")
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_signup"
    assert again.json()["description"] == "Invalid sign up"
    assert TenantUser.objects.filter(username="grace").count() == 1


def test_username_connection_lengths_ordered(tenant_a):
    """A connection's minimum username length can never exceed its maximum (constraint)."""
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.filter(tenant=tenant_a["tenant"]).update(
            username_min_length=10, username_max_length=5
        )

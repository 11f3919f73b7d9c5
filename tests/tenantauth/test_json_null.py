"""SECURITY-CASES D34 and issue 7 fault 2: in every JSON body of every endpoint, a ``null``
value means the parameter is absent, exactly (the official SDKs send ``null`` for every
optional argument); any other non-string type is still refused.

Each endpoint gets a full, valid base request; for every field the answer with the field set
to ``null`` must equal the answer with the field left out (same status; same error body, or a
success of the same shape)."""

import itertools
import json

import pytest

from tenantauth.models import Connection
from tests.conftest import USER_PASSWORD
from tests.delegation.helpers import GRANT_JWT_BEARER, id_token_for
from tests.tenantauth.oidc_support import (
    CALLBACK,
    REALM_GRANT,
    login_for_code,
    pkce_pair,
)

pytestmark = pytest.mark.django_db
STRONG = "violet-otter-harbour-92"
_emails = itertools.count()


def _post(client, url, body):
    payload = json.dumps(body)
    response = client.post(url, payload, content_type="application/json")
    response.sent_body = payload  # the bytes on the wire, for _null_equals_absent
    return response


def _outcome(response) -> tuple:
    """What must not differ between "null" and "absent": the status, and the error body (or,
    on success, which members the answer has)."""
    data = response.json()
    if response.status_code == 200:
        return 200, sorted(data)
    return response.status_code, data


def _sent(response) -> dict:
    """The JSON body the request carried."""
    return json.loads(response.sent_body)


def _null_equals_absent(send, base: dict, field: str):
    absent = send({k: v for k, v in base.items() if k != field})
    null = send({**base, field: None})
    # The two requests really differ on the wire: the member is missing, or JSON null.
    assert field not in _sent(absent)
    assert field in _sent(null) and _sent(null)[field] is None
    assert f'"{field}": null' in null.sent_body
    assert _outcome(null) == _outcome(absent), (field, null.content, absent.content)
    return null


# --- /delegation ---------------------------------------------------------------------------
DELEGATION_FIELDS = [
    "client_id",
    "grant_type",
    "id_token",
    "refresh_token",
    "target",
    "scope",
    "api_type",
    "containerName",  # a free-form add-on parameter
]


@pytest.mark.parametrize("field", DELEGATION_FIELDS)
def test_delegation_null_is_absent(client, tenant_a, field):
    """Every /delegation parameter: null answers exactly as absent."""
    setup = tenant_a

    def send(body):
        return _post(client, f"/t/{setup['tenant'].slug}/delegation", body)

    def base():
        return {
            "client_id": setup["appA"].client_id,
            "grant_type": GRANT_JWT_BEARER,
            "id_token": id_token_for(setup["tenant"], setup["appA"], setup["user"]),
            "target": setup["apiC"].client_id,
            "scope": "openid name",
            "api_type": "app",
            "containerName": "photos",
        }

    _null_equals_absent(send, base(), field)


def test_delegation_sdk_exact_input(client, tenant_a):
    """The body auth0-python's Delegated.get_token(target=None, api_type=None, ...) sends:
    target and api_type null mean the caller itself and the default api_type: 200."""
    body = {
        "client_id": tenant_a["appA"].client_id,
        "grant_type": GRANT_JWT_BEARER,
        "target": None,
        "scope": "openid",
        "api_type": None,
        "id_token": id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"]),
    }
    response = _post(client, f"/t/{tenant_a['tenant'].slug}/delegation", body)
    assert response.status_code == 200, response.content


# --- oauth/token ---------------------------------------------------------------------------
def _token_sender(client, setup):
    return lambda body: _post(client, f"/t/{setup['tenant'].slug}/oauth/token", body)


@pytest.mark.parametrize(
    "field",
    [
        "grant_type",
        "client_id",
        "client_secret",
        "username",
        "password",
        "realm",
        "scope",
        "audience",
    ],
)
def test_token_password_realm_null_is_absent(client, tenant_a, field):
    """Every field of a password-realm request (GetToken.login's body): null is absent."""
    app = tenant_a["appA"]
    base = {
        "grant_type": REALM_GRANT,
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "username": tenant_a["user"].email,
        "password": USER_PASSWORD,
        "realm": "Username-Password-Authentication",
        "scope": "openid profile",
        "audience": "https://api.example",
    }
    _null_equals_absent(_token_sender(client, tenant_a), base, field)


def test_token_login_sdk_exact_input(client, tenant_a):
    """The body GetToken(...).login(user, pw, realm=...) sends: scope and audience null, 200
    with the default scope openid."""
    app = tenant_a["appA"]
    body = {
        "client_id": app.client_id,
        "username": tenant_a["user"].email,
        "password": USER_PASSWORD,
        "realm": "Username-Password-Authentication",
        "scope": None,
        "audience": None,
        "grant_type": REALM_GRANT,
        "client_secret": app.client_secret(),
    }
    response = _token_sender(client, tenant_a)(body)
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "openid"


@pytest.mark.parametrize(
    "field", ["grant_type", "client_id", "client_secret", "refresh_token", "scope"]
)
def test_token_refresh_null_is_absent(client, tenant_a, field):
    """Every field of a refresh_token request: null is absent (a fresh token per variant)."""
    app = tenant_a["appA"]
    send = _token_sender(client, tenant_a)

    def fresh_refresh_token():
        login = {
            "grant_type": REALM_GRANT,
            "client_id": app.client_id,
            "client_secret": app.client_secret(),
            "username": tenant_a["user"].email,
            "password": USER_PASSWORD,
            "realm": "Username-Password-Authentication",
            "scope": "openid offline_access",
        }
        return send(login).json()["refresh_token"]

    def send_fresh(body):
        if "refresh_token" in body and body["refresh_token"] is not None:
            body = {**body, "refresh_token": fresh_refresh_token()}
        return send(body)

    base = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "refresh_token": "replaced per request",
        "scope": "openid offline_access",
    }
    _null_equals_absent(send_fresh, base, field)


@pytest.mark.parametrize(
    "field",
    ["grant_type", "client_id", "client_secret", "code", "redirect_uri", "code_verifier"],
)
def test_token_authorization_code_null_is_absent(client, tenant_a, field):
    """Every field of an authorization_code request: null is absent (a fresh code each)."""
    app = tenant_a["appA"]
    send = _token_sender(client, tenant_a)
    verifiers = {}

    def send_fresh(body):
        if body.get("code") is not None:
            verifier, challenge = pkce_pair()
            code = login_for_code(client, tenant_a, challenge=challenge)["code"]
            verifiers[code] = verifier
            body = {**body, "code": code}
            if body.get("code_verifier") is not None:
                body["code_verifier"] = verifier
        return send(body)

    base = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "code": "replaced",
        "redirect_uri": CALLBACK,
        "code_verifier": "replaced",
    }
    _null_equals_absent(send_fresh, base, field)


# --- dbconnections/signup ------------------------------------------------------------------
SIGNUP_FIELDS = [
    "client_id",
    "email",
    "password",
    "connection",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "user_metadata",
]


@pytest.mark.parametrize("requires_username", [False, True], ids=["email", "username"])
@pytest.mark.parametrize("field", SIGNUP_FIELDS)
def test_signup_null_is_absent(client, tenant_a, field, requires_username):
    """Every sign-up field (Database.signup's body), on a connection with and without
    usernames: null is absent."""
    Connection.objects.filter(tenant=tenant_a["tenant"]).update(requires_username=requires_username)

    def send(body):
        # A fresh email and username for every request, so success stays possible.
        n = next(_emails)
        body = dict(body)
        if body.get("email") is not None:
            body["email"] = f"null.{n}@example.com"
        if body.get("username") is not None:
            body["username"] = f"nulluser{n}"
        return _post(client, f"/t/{tenant_a['tenant'].slug}/dbconnections/signup", body)

    base = {
        "client_id": tenant_a["appA"].client_id,
        "email": "replaced",
        "password": STRONG,
        "connection": "Username-Password-Authentication",
        "given_name": "Grace",
        "family_name": "Hopper",
        "name": "Grace Hopper",
        "nickname": "amazing",
        "picture": "https://example.com/grace.png",
        "user_metadata": {"team": "navy"},
    }
    if requires_username:
        base["username"] = "replaced"
    _null_equals_absent(send, base, field)


# --- other non-string types are still refused ---------------------------------------------
@pytest.mark.parametrize("value", [5, 1.5, True, [], ["x"], {}, {"a": "b"}], ids=repr)
@pytest.mark.parametrize("field", ["scope", "audience", "realm", "client_id"])
def test_token_other_types_refused(client, tenant_a, field, value):
    """A number, boolean, array or object where a string belongs is 400 invalid_request."""
    app = tenant_a["appA"]
    body = {
        "grant_type": REALM_GRANT,
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "username": tenant_a["user"].email,
        "password": USER_PASSWORD,
        "realm": "Username-Password-Authentication",
        field: value,
    }
    response = _token_sender(client, tenant_a)(body)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("value", [5, True, [], {"a": "b"}], ids=repr)
@pytest.mark.parametrize("field", ["given_name", "picture", "username", "nickname"])
def test_signup_other_types_refused(client, tenant_a, field, value):
    """Sign-up refuses a non-string profile attribute (Auth0's {code, description} shape)."""
    body = {
        "client_id": tenant_a["appA"].client_id,
        "email": "typed@example.com",
        "password": STRONG,
        "connection": "Username-Password-Authentication",
        field: value,
    }
    response = _post(client, f"/t/{tenant_a['tenant'].slug}/dbconnections/signup", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("value", [5, True, ["x"], {"a": "b"}], ids=repr)
@pytest.mark.parametrize("field", ["target", "scope", "api_type"])
def test_delegation_other_types_refused(client, tenant_a, field, value):
    """/delegation refuses a non-string value where a string belongs."""
    body = {
        "client_id": tenant_a["appA"].client_id,
        "grant_type": GRANT_JWT_BEARER,
        "id_token": id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"]),
        field: value,
    }
    response = _post(client, f"/t/{tenant_a['tenant'].slug}/delegation", body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"

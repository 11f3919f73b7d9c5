"""SECURITY-CASES D31, every boundary where text enters: each parameter of each sign-in
endpoint, the authorize query, the hosted login form, credentials carried in headers and the
admin's query strings, with each kind of control character. Each gets the endpoint's normal
400 (401 for a bearer token), never a 500 and never a 503 that blames an outage (on
PostgreSQL a NUL that reached a query would be one or the other).

Verified token claims and the claims rule: tests/delegation/test_claims.py.
"""

import base64
import functools
import inspect
import json
from urllib.parse import quote, urlencode

import pytest

from tenantauth import text
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from tests.tenantauth.oidc_support import REALM_GRANT, authorize_params

# C0 (NUL, SOH, TAB, LF, CR, ESC), DEL, C1 (NEL, APC), the two separators, a lone surrogate.
CONTROLS = [
    "\x00",
    "\x01",
    "\t",
    "\n",
    "\r",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\u2029",
    "\ud800",
]
NAMES = {c: f"U+{ord(c):04X}" for c in CONTROLS}
# A URL, a form or a header carries UTF-8: a lone surrogate has no UTF-8 form (its bytes are
# decoded as U+FFFD by Django), so those boundaries are tested with the others.
ENCODABLE = CONTROLS[:-1]


def test_the_rule_covers_exactly_the_control_characters():
    for char in CONTROLS:
        assert text.has_control_characters(f"a{char}b"), NAMES[char]
    for clean in ["plain", "ünïcödé", "emoji 🙂", "a b", "tab-free", "\u200b zero width"]:
        assert text.is_clean_text(clean)
    assert text.contains_control_characters({"a": ["x", {"k\x00": 1}]})
    assert not text.contains_control_characters({"a": ["x", {"k": 1, "n": None, "b": True}]})


def each_char(chars):
    """Run the test body once per character (one test per field keeps the suite fast; the
    failing character is named in the assertion)."""

    def decorate(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            kwargs.pop("char", None)
            for char in chars:
                try:
                    test(*args, char=char, **kwargs)
                except AssertionError as exc:
                    raise AssertionError(f"{NAMES[char]}: {exc}") from exc

        run.__signature__ = inspect.signature(test).replace(
            parameters=[p for n, p in inspect.signature(test).parameters.items() if n != "char"]
        )
        return run

    return decorate


def _json_body(data: dict) -> str:
    # json.dumps escapes every one of them (a lone surrogate as "\ud800"), as SDKs send them.
    return json.dumps(data)


def _assert_refused(response, *, status=400, error="invalid_request"):
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert body.get("error", body.get("code")) == error, body
    assert response.get("Retry-After") is None


def _token_params(setup) -> dict:
    app = setup["appA"]
    return {
        "grant_type": REALM_GRANT,
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "username": setup["user"].email,
        "password": USER_PASSWORD,
        "realm": "Username-Password-Authentication",
        "scope": "openid",
    }


TOKEN_FIELDS = [
    "grant_type",
    "client_id",
    "client_secret",
    "username",
    "password",
    "realm",
    "scope",
    "code",
    "redirect_uri",
    "refresh_token",
    "code_verifier",
    "audience",
]


@each_char(CONTROLS)
@pytest.mark.parametrize("field", TOKEN_FIELDS)
def test_token_endpoint_parameters(client, tenant_a, field, char):
    """oauth/token, JSON and form bodies: 400 invalid_request for a control character in any
    parameter, whatever the grant (the issue: NUL in client_id, username or realm was a 503)."""
    url = f"/t/{tenant_a['tenant'].slug}/oauth/token"
    data = {**_token_params(tenant_a), field: f"x{char}y"}
    _assert_refused(client.post(url, _json_body(data), content_type="application/json"))
    if char != "\ud800":  # not encodable as UTF-8: a form cannot carry it (see the JSON case)
        form = urlencode(data)
        _assert_refused(client.post(url, form, content_type="application/x-www-form-urlencoded"))


@each_char(CONTROLS)
def test_token_endpoint_parameter_names(client, tenant_a, char):
    url = f"/t/{tenant_a['tenant'].slug}/oauth/token"
    data = {**_token_params(tenant_a), f"x{char}": "1"}
    _assert_refused(client.post(url, _json_body(data), content_type="application/json"))


@each_char(ENCODABLE)
@pytest.mark.parametrize("part", ["client_id", "client_secret"])
def test_basic_credentials(client, tenant_a, part, char):
    """Credentials in the Authorization header are parameters too."""
    app = tenant_a["appA"]
    creds = {"client_id": app.client_id, "client_secret": app.client_secret()}
    creds[part] += char
    raw = f"{quote(creds['client_id'], safe='')}:{quote(creds['client_secret'], safe='')}"
    header = "Basic " + base64.b64encode(raw.encode()).decode()
    data = {k: v for k, v in _token_params(tenant_a).items() if k != "client_secret"}
    response = client.post(
        f"/t/{tenant_a['tenant'].slug}/oauth/token",
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=header,
    )
    assert response.status_code in (400, 401), response.content
    assert response.json()["error"] in ("invalid_request", "invalid_client")


SIGNUP_FIELDS = ["client_id", "email", "password", "connection"]


@each_char(CONTROLS)
@pytest.mark.parametrize("field", [*SIGNUP_FIELDS, "metadata key", "metadata value"])
def test_signup_parameters(client, tenant_a, field, char):
    """dbconnections/signup: 400 invalid_request, and nobody is created."""
    from tenantauth.models import TenantUser

    data = {
        "client_id": tenant_a["appA"].client_id,
        "email": "fresh@tenant-a.example",
        "password": "violet-otter-harbour-92",
        "connection": "Username-Password-Authentication",
        "user_metadata": {"plan": "free"},
    }
    if field == "metadata key":
        data["user_metadata"] = {f"pl{char}an": "free"}
    elif field == "metadata value":
        data["user_metadata"] = {"plan": f"fr{char}ee"}
    else:
        data[field] = f"{data[field]}{char}"
    before = TenantUser.objects.count()
    response = client.post(
        f"/t/{tenant_a['tenant'].slug}/dbconnections/signup",
        _json_body(data),
        content_type="application/json",
    )
    _assert_refused(response)
    assert TenantUser.objects.count() == before


AUTHORIZE_FIELDS = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "login_hint",
    "connection",
    "prompt",
    "extra",
]


@each_char(ENCODABLE)
@pytest.mark.parametrize("field", AUTHORIZE_FIELDS)
def test_authorize_query(client, tenant_a, field, char):
    """The hosted login page refuses such a query with its 400 page, before anything is
    looked up (the issue: ``authorize?client_id=%00`` was a 500)."""
    params = authorize_params(tenant_a["appA"], challenge=None)
    params[field] = params.get(field, "") + char
    query = urlencode(params)
    response = client.get(f"/t/{tenant_a['tenant'].slug}/authorize?{query}")
    assert response.status_code == 400, response.content[:300]
    assert "are not allowed" in response.content.decode()
    assert "Location" not in response


def _inside(value: str, char: str) -> str:
    # Inside the value: forms trim surrounding whitespace (Django's CharField strip), which
    # leaves a clean value; a control character inside is the case to refuse.
    return value[:3] + char + value[3:]


@each_char(ENCODABLE)
@pytest.mark.parametrize("field", ["email", "password"])
def test_hosted_login_form(client, tenant_a, field, char):
    """The login form says what is wrong (400, the form again) and checks no password."""
    params = authorize_params(tenant_a["appA"], challenge=None)
    data = {"email": tenant_a["user"].email, "password": USER_PASSWORD}
    data[field] = _inside(data[field], char)
    response = client.post(f"/t/{tenant_a['tenant'].slug}/authorize?{urlencode(params)}", data)
    assert response.status_code == 400, response.content[:300]
    assert "Location" not in response


@each_char(ENCODABLE)
def test_userinfo_bearer_header(client, tenant_a, char):
    response = client.get(
        f"/t/{tenant_a['tenant'].slug}/userinfo", HTTP_AUTHORIZATION=f"Bearer abc{char}def"
    )
    _assert_refused(response, status=401, error="invalid_token")


@each_char(ENCODABLE)
@pytest.mark.parametrize("field", ["username", "password"])
def test_admin_login_form(client, tenant_a, field, char):
    """The admin login form answers like a wrong password (200, the form with an error)."""
    data = {"username": tenant_a["admin"].username, "password": ADMIN_PASSWORD}
    data[field] = _inside(data[field], char)
    response = client.post("/admin/login/", data)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@each_char(ENCODABLE)
@pytest.mark.parametrize(
    "page",
    [
        "/admin/",
        "/admin/tenantauth/application/?q={c}",
        "/admin/tenantauth/tenantuser/?blocked__exact={c}",
        "/admin/delegation/auditevent/?created_at__year=2026{c}",
        "/admin/tenantauth/application/1/change/?_changelist_filters={c}",
    ],
)
def test_admin_query_strings(client, tenant_a, page, char):
    """Any admin page, any parameter: 400 (the issue: ``%00`` in changelist filters was a 500)."""
    client.force_login(tenant_a["admin"])
    url = page.format(c=quote(char)) if "{c}" in page else page + "?x=" + quote(char)
    assert client.get(url).status_code == 400

"""CORS on the token endpoints (django-cors-headers, decided by tenantauth.oidc.cors): an
origin reads an answer only when it is an Allowed Web Origin (or a callback URL's origin) of
the calling application; a preflight, which has no body yet, needs some active application of
the tenant to allow it. Discovery and JWKS stay readable from anywhere."""

import json

import pytest

from tenantauth import services
from tests.delegation.helpers import body_for, id_token_for, post_json
from tests.tenantauth.oidc_support import password_grant

pytestmark = pytest.mark.django_db

WEB_A = "https://app-a.example"  # appA's Allowed Web Origin
WEB_B = "https://app-b.example"  # appB's only
CALLBACK_ORIGIN = "http://127.0.0.1:9999"  # the origin of the fixture's callback URLs
FOREIGN = "https://evil.example"
TENANT_B_ORIGIN = "https://tenant-b-app.example"


@pytest.fixture
def origins(tenant_a, tenant_b):
    services.application_update(application=tenant_a["appA"], allowed_origins=[WEB_A])
    services.application_update(
        application=tenant_a["appB"],
        allowed_origins=[WEB_B],
        callback_urls=["https://app-b.example/cb"],
    )
    services.application_update(application=tenant_b["appA"], allowed_origins=[TENANT_B_ORIGIN])
    return tenant_a


def preflight(client, path, origin, *, method="POST", headers="content-type, auth0-client"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


ENDPOINTS = ["oauth/token", "delegation", "userinfo", "dbconnections/signup"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "origin, allowed",
    [
        (WEB_A, True),  # an Allowed Web Origin
        (CALLBACK_ORIGIN, True),  # the origin of a callback URL
        (WEB_B, True),  # another application of the same tenant allows it
        (FOREIGN, False),
        (TENANT_B_ORIGIN, False),  # allowed by tenant B's app only
        ("null", False),
        (WEB_A + "/", False),  # not an origin serialisation
        ("https://APP-A.example", False),
    ],
)
def test_preflight(client, origins, endpoint, origin, allowed):
    """A preflight is answered for an origin some active application of the tenant allows,
    with the methods and headers the SDKs send, Vary: Origin and never credentials or *."""
    response = preflight(client, f"/t/{origins['tenant'].slug}/{endpoint}", origin)
    assert response.status_code == 200
    assert "origin" in response["Vary"].lower()
    if allowed:
        assert response["Access-Control-Allow-Origin"] == origin
        methods = {m.strip() for m in response["Access-Control-Allow-Methods"].split(",")}
        assert {"GET", "POST"} <= methods and "DELETE" not in methods
        headers = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
        assert {"content-type", "authorization", "auth0-client"} <= headers
    else:
        assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response


def test_disabled_applications_origins_do_not_count(client, origins):
    """An origin allowed only by a disabled application is not allowed."""
    services.application_update(application=origins["appB"], is_active=False)
    response = preflight(client, f"/t/{origins['tenant'].slug}/oauth/token", WEB_B)
    assert "Access-Control-Allow-Origin" not in response


def test_token_answer_readable_only_by_the_clients_origins(client, origins):
    """The token answer for appA carries the Origin back for appA's web origin and callback
    origin, not for appB's origin (allowed by the tenant, but not by appA) nor a foreign one;
    every answer varies on Origin."""
    for origin, readable in (
        (WEB_A, True),
        (CALLBACK_ORIGIN, True),
        (WEB_B, False),
        (FOREIGN, False),
        (TENANT_B_ORIGIN, False),
    ):
        response = password_grant(client, origins, HTTP_ORIGIN=origin)
        assert response.status_code == 200, response.content
        assert "origin" in response["Vary"].lower()
        assert (response.get("Access-Control-Allow-Origin") == origin) is readable, origin
        assert "Access-Control-Allow-Credentials" not in response


def test_refusals_carry_cors_headers_for_allowed_origins(client, origins):
    """An SDK must be able to read a refusal: 401 invalid_client (unknown client, decided by
    the tenant), 400 invalid_grant (wrong password, appA's origin) carry the headers; the
    same refusals from a foreign origin do not."""
    unknown = password_grant(client, origins, client_id="nope", HTTP_ORIGIN=WEB_A)
    assert unknown.status_code == 401
    assert unknown["Access-Control-Allow-Origin"] == WEB_A
    wrong = password_grant(client, origins, password="wrong-password!", HTTP_ORIGIN=WEB_A)
    assert wrong.status_code == 400 and wrong["Access-Control-Allow-Origin"] == WEB_A
    assert "WWW-Authenticate" in wrong["Access-Control-Expose-Headers"]
    foreign = password_grant(client, origins, client_id="nope", HTTP_ORIGIN=FOREIGN)
    assert "Access-Control-Allow-Origin" not in foreign


def _delegate_from(client, setup, origin, **params):
    token = params.pop("token", None) or id_token_for(setup["tenant"], setup["appA"], setup["user"])
    body = body_for(setup["appA"], token, target=setup["apiC"].client_id, **params)
    return post_json(client, setup["tenant"], body, HTTP_ORIGIN=origin)


def test_delegation_answer_readable_by_the_sources_origins_only(client, origins):
    """/delegation reflects the Origin for the source's (appA's) origins, also on a refusal,
    and not for appB's origin or tenant B's."""
    ok = _delegate_from(client, origins, WEB_A)
    assert ok.status_code == 200 and ok["Access-Control-Allow-Origin"] == WEB_A
    refused = _delegate_from(client, origins, WEB_A, token="bad.token.here")
    assert refused.status_code == 400 and refused["Access-Control-Allow-Origin"] == WEB_A
    unknown = _delegate_from(client, origins, WEB_A, client_id="nosuchclient")
    assert unknown.status_code == 401 and unknown["Access-Control-Allow-Origin"] == WEB_A
    for origin in (WEB_B, TENANT_B_ORIGIN):
        response = _delegate_from(client, origins, origin)
        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response


def test_userinfo_answer_readable_by_the_token_clients_origins(client, origins):
    """userinfo reflects the Origin for the access token's client (azp) only; a 401 from an
    allowed origin is readable too."""
    token = password_grant(client, origins).json()["access_token"]
    url = f"/t/{origins['tenant'].slug}/userinfo"
    ok = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=WEB_A)
    assert ok.status_code == 200 and ok["Access-Control-Allow-Origin"] == WEB_A
    other = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=WEB_B)
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other
    bad = client.get(url, HTTP_AUTHORIZATION="Bearer x.y.z", HTTP_ORIGIN=WEB_A)
    assert bad.status_code == 401 and bad["Access-Control-Allow-Origin"] == WEB_A


def test_signup_answer_readable_by_the_clients_origins(client, origins):
    """dbconnections/signup (auth0-js signs users up from the browser) follows the same rule."""
    body = {
        "client_id": origins["appA"].client_id,
        "email": "cors.person@example.com",
        "password": "violet-otter-harbour-92",
        "connection": "Username-Password-Authentication",
    }
    url = f"/t/{origins['tenant'].slug}/dbconnections/signup"
    ok = client.post(url, json.dumps(body), content_type="application/json", HTTP_ORIGIN=WEB_A)
    assert ok.status_code == 200 and ok["Access-Control-Allow-Origin"] == WEB_A
    body["email"] = "cors.other@example.com"
    no = client.post(url, json.dumps(body), content_type="application/json", HTTP_ORIGIN=WEB_B)
    assert no.status_code == 200 and "Access-Control-Allow-Origin" not in no


@pytest.mark.parametrize("path", [".well-known/openid-configuration", ".well-known/jwks.json"])
def test_discovery_and_jwks_readable_from_anywhere(client, origins, path):
    """Discovery and JWKS answer * to every origin, with no credentials."""
    response = client.get(f"/t/{origins['tenant'].slug}/{path}", HTTP_ORIGIN=FOREIGN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("path", ["/admin/login/", "/t/tenant-a/authorize"])
def test_pages_get_no_cors(client, origins, path):
    """The admin and the hosted login page never answer CORS, even to an allowed origin."""
    response = preflight(client, path, WEB_A, method="GET")
    assert "Access-Control-Allow-Origin" not in response
    response = client.get(path, HTTP_ORIGIN=WEB_A)
    assert "Access-Control-Allow-Origin" not in response


def test_unknown_tenant_gets_no_cors(client, origins):
    """A preflight to a tenant that does not exist is not allowed."""
    response = preflight(client, "/t/ghost/oauth/token", WEB_A)
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize(
    "entered, stored",
    [
        ("https://App.Example.com/", ["https://app.example.com"]),
        (
            "http://localhost:8080\nhttps://b.example:443",
            ["http://localhost:8080", "https://b.example"],
        ),
        ("https://app.example.com/callback", None),
        ("https://app.example.com/?x=1", None),
        ("ftp://app.example.com", None),
        ("https://user@app.example.com", None),
    ],
)
def test_admin_allowed_web_origins_are_origins(client, tenant_a, entered, stored):
    """The admin's Allowed Web Origins takes origins only (scheme://host[:port]), stored in
    their serialised form; a URL with a path, query or credentials is a form error."""
    from tests.tenantauth.helpers import form_data

    client.force_login(tenant_a["admin"])
    app = tenant_a["appA"]
    url = f"/admin/tenantauth/application/{app.pk}/change/"
    data = form_data(client.get(url), "application_form")
    data.update(allowed_origins_text=entered, _save="Save")
    response = client.post(url, data)
    app.refresh_from_db()
    if stored is None:
        assert response.status_code == 200
        assert "Enter origins such as https://app.example.com" in response.content.decode()
        assert app.allowed_origins == []
    else:
        assert response.status_code == 302, response.content[:500]
        assert app.allowed_origins == stored

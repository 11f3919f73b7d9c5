"""A bounded fuzz test (Hypothesis) over every public endpoint: authorize (GET and the login
form POST), oauth/token, dbconnections/signup, userinfo, delegation (including validly signed
tokens with odd claims), discovery, JWKS, the admin login and the admin lists.

Inputs mix control characters, odd JSON types (null, numbers, nesting, huge integers), odd
sizes, odd content types and methods with enough valid values (real client IDs, grant types,
signed tokens) to reach the deep code paths. The promise checked: no 5xx, ever, and a JSON
answer from every JSON endpoint. Deterministic (``derandomize``) and small enough for every run;
raise FUZZ_EXAMPLES to search longer.
"""

import json
import os
import time
from urllib.parse import urlencode

import jwt
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from tests.tenantauth.oidc_support import REALM_GRANT, authorize_params

FUZZ = hypothesis_settings(
    derandomize=True,
    database=None,
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one tenant per test, shared by its examples
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

NASTY = [
    "\x00",
    "\x01",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\u2029",
    "\ud800",
    "\udfff",
    "\ufeff",
    "\u202e",
    "é",
    "🙂",
    "%00",
    "'",
    '"',
    "\\",
    "../",
    "<script>",
    "${jndi:x}",
    " ",
    "",
    "null",
    "0",
    "-1",
    "1e309",
]
nasty_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(NASTY), max_size=6).map("".join),
    st.tuples(st.text(max_size=8), st.sampled_from(NASTY), st.text(max_size=8)).map("".join),
    st.sampled_from(["x" * 9000, "é" * 5000]),
)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | nasty_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=8,
)
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin-1",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
]
METHODS = ["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


def params(valid: dict, extra_names: list[str]):
    """A body: each known parameter valid, fuzzed, or absent; plus fuzzed extra names."""
    known = {
        name: st.one_of(st.just(value), json_value, st.just(None)) for name, value in valid.items()
    }
    names = list(valid) + extra_names
    return st.fixed_dictionaries(
        {}, optional={**known, **{n: json_value for n in extra_names if n not in valid}}
    ).flatmap(
        lambda body: st.one_of(
            st.just(body),
            st.dictionaries(st.sampled_from(names) | nasty_text, json_value, max_size=5).map(
                lambda more, body=body: {**body, **more}
            ),
        )
    )


def encoded(body, content_type: str) -> bytes | str:
    """The body as a client would put it on the wire for ``content_type``."""
    if "x-www-form-urlencoded" in content_type and isinstance(body, dict):
        flat = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        return urlencode(flat, encoding="utf-8", errors="surrogatepass")
    return json.dumps(body)


request_shape = st.tuples(
    st.sampled_from(METHODS),
    st.sampled_from(CONTENT_TYPES),
    st.booleans(),  # send a raw fuzz string instead of the encoded body
    st.binary(max_size=200),
)


def send(client, method, url, body, content_type, raw, raw_bytes, **headers):
    payload = raw_bytes if raw else encoded(body, content_type)
    if method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return client.generic(method, url, **headers)
    return client.generic(method, url, payload, content_type=content_type, **headers)


def assert_no_5xx(response, *, json_endpoint: bool):
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if json_endpoint:
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        if response.content:
            json.loads(response.content)


def _token_valid(setup) -> dict:
    app = setup["appA"]
    return {
        "grant_type": REALM_GRANT,
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "username": setup["user"].email,
        "password": USER_PASSWORD,
        "realm": "Username-Password-Authentication",
        "scope": "openid profile",
        "code": "x",
        "redirect_uri": "http://127.0.0.1:9999/callback",
        "refresh_token": "x",
        "code_verifier": "x" * 43,
    }


# --- the JSON endpoints ------------------------------------------------------------------------
@FUZZ
@given(data=st.data(), shape=request_shape)
def test_fuzz_token_endpoint(client, tenant_a, data, shape):
    body = data.draw(params(_token_valid(tenant_a), ["audience", "nonce", "state"]))
    response = send(client, shape[0], f"/t/{tenant_a['tenant'].slug}/oauth/token", body, *shape[1:])
    assert_no_5xx(response, json_endpoint=True)


@FUZZ
@given(data=st.data(), shape=request_shape)
def test_fuzz_signup(client, tenant_a, data, shape):
    valid = {
        "client_id": tenant_a["appA"].client_id,
        "email": "fuzz@tenant-a.example",
        "password": "violet-otter-harbour-92",
        "connection": "Username-Password-Authentication",
        "user_metadata": {"plan": "free"},
    }
    body = data.draw(params(valid, ["name", "nickname", "picture", "username"]))
    url = f"/t/{tenant_a['tenant'].slug}/dbconnections/signup"
    assert_no_5xx(send(client, shape[0], url, body, *shape[1:]), json_endpoint=True)


@FUZZ
@given(data=st.data(), shape=request_shape)
def test_fuzz_delegation(client, tenant_a, data, shape):
    token = jwt.encode(
        {
            "iss": tenant_a["tenant"].issuer,
            "aud": tenant_a["appA"].client_id,
            "sub": tenant_a["user"].user_id,
            "iat": int(time.time()),
            "exp": int(time.time()) + 600,
        },
        tenant_a["appA"].client_secret(),
        algorithm="HS256",
    )
    valid = {
        "client_id": tenant_a["appA"].client_id,
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "id_token": token,
        "target": tenant_a["apiC"].client_id,
        "scope": "openid passthrough",
        "api_type": "app",
    }
    body = data.draw(params(valid, ["refresh_token", "containerName", "aud", "sub"]))
    url = f"/t/{tenant_a['tenant'].slug}/delegation"
    assert_no_5xx(send(client, shape[0], url, body, *shape[1:]), json_endpoint=True)


claim_names = st.sampled_from(["sub", "azp", "auth_time", "nbf", "email", "name", "x"]) | nasty_text


@FUZZ
@given(
    claims=st.dictionaries(claim_names, json_value, max_size=5),
    scope=st.sampled_from(["openid", "openid passthrough", "openid profile email"]),
)
def test_fuzz_verified_claims(client, tenant_a, claims, scope):
    """Validly signed id_tokens whose claims are anything: JSON answers, never a 5xx."""
    now = int(time.time())
    base = {
        "iss": tenant_a["tenant"].issuer,
        "aud": tenant_a["appA"].client_id,
        "sub": tenant_a["user"].user_id,
        "iat": now,
        "exp": now + 600,
    }
    signed = jwt.encode({**base, **claims}, tenant_a["appA"].client_secret(), algorithm="HS256")
    body = {
        "client_id": tenant_a["appA"].client_id,
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "id_token": signed,
        "target": tenant_a["apiC"].client_id,
        "scope": scope,
    }
    response = client.post(
        f"/t/{tenant_a['tenant'].slug}/delegation",
        json.dumps(body),
        content_type="application/json",
    )
    assert_no_5xx(response, json_endpoint=True)


@FUZZ
@given(
    method=st.sampled_from(METHODS),
    header=st.one_of(
        nasty_text,
        nasty_text.map(lambda t: "Bearer " + t),
        st.just("Bearer a.b.c"),
        st.just("Basic " + "A" * 20),
    ),
)
def test_fuzz_userinfo(client, tenant_a, method, header):
    url = f"/t/{tenant_a['tenant'].slug}/userinfo"
    response = client.generic(method, url, HTTP_AUTHORIZATION=header)
    assert_no_5xx(response, json_endpoint=True)


@FUZZ
@given(
    method=st.sampled_from(METHODS),
    query=st.dictionaries(nasty_text, nasty_text, max_size=4),
    which=st.sampled_from([".well-known/openid-configuration", ".well-known/jwks.json"]),
)
def test_fuzz_discovery_and_jwks(client, tenant_a, method, query, which):
    qs = urlencode(query, encoding="utf-8", errors="surrogatepass")
    response = client.generic(method, f"/t/{tenant_a['tenant'].slug}/{which}?{qs}")
    assert_no_5xx(response, json_endpoint=True)


# --- the HTML pages ----------------------------------------------------------------------------
def _query(base: dict):
    return st.fixed_dictionaries(
        {}, optional={k: st.one_of(st.just(v), nasty_text) for k, v in base.items()}
    ).flatmap(
        lambda q: st.dictionaries(nasty_text, nasty_text, max_size=3).map(
            lambda extra, q=q: {**extra, **q}
        )
    )


@FUZZ
@given(data=st.data())
def test_fuzz_authorize_page(client, tenant_a, data):
    query = data.draw(_query(authorize_params(tenant_a["appA"], challenge=None)))
    qs = urlencode(query, encoding="utf-8", errors="surrogatepass")
    response = client.get(f"/t/{tenant_a['tenant'].slug}/authorize?{qs}")
    assert_no_5xx(response, json_endpoint=False)


@FUZZ
@given(email=nasty_text | st.just("user@tenant-a.example"), password=nasty_text)
def test_fuzz_hosted_login_form(client, tenant_a, email, password):
    qs = urlencode(authorize_params(tenant_a["appA"], challenge=None))
    body = urlencode({"email": email, "password": password}, errors="surrogatepass")
    response = client.post(
        f"/t/{tenant_a['tenant'].slug}/authorize?{qs}",
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert_no_5xx(response, json_endpoint=False)


@FUZZ
@given(
    username=nasty_text | st.just("tenant-a-admin"), password=nasty_text | st.just(ADMIN_PASSWORD)
)
def test_fuzz_admin_login(client, tenant_a, username, password):
    body = urlencode({"username": username, "password": password}, errors="surrogatepass")
    response = client.post("/admin/login/", body, content_type="application/x-www-form-urlencoded")
    assert_no_5xx(response, json_endpoint=False)
    client.logout()


ADMIN_LISTS = [
    "/admin/tenantauth/application/",
    "/admin/tenantauth/tenantuser/",
    "/admin/delegation/auditevent/",
    "/admin/tenantauth/membership/",
]
admin_params = (
    st.sampled_from(
        [
            "q",
            "o",
            "p",
            "e",
            "all",
            "_popup",
            "_to_field",
            "type__exact",
            "blocked__exact",
            "created_at__year",
            "created_at__month",
            "created_at__gte",
            "connection__id__exact",
            "app_type__exact",
            "password__regex",
            "tenant__id",
        ]
    )
    | nasty_text
)


@FUZZ
@given(
    page=st.sampled_from(ADMIN_LISTS), query=st.dictionaries(admin_params, nasty_text, max_size=3)
)
def test_fuzz_admin_lists(client, tenant_a, page, query):
    client.force_login(tenant_a["admin"])
    qs = urlencode(query, encoding="utf-8", errors="surrogatepass")
    assert_no_5xx(client.get(f"{page}?{qs}"), json_endpoint=False)

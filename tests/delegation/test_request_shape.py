"""SECURITY-CASES D01-D10: method, content type, body size and shape, parameters, client."""

import json
import logging
from urllib.parse import urlencode

import pytest

from delegation.models import AuditEvent
from tests.delegation.helpers import (
    DROP,
    GRANT_JWT_BEARER,
    assert_error,
    body_for,
    delegate,
    id_token_for,
    post_json,
    url_for,
)


def _valid_body(setup):
    token = id_token_for(setup["tenant"], setup["appA"], setup["user"])
    return body_for(setup["appA"], token, target=setup["apiC"].client_id)


def _no_token_issued(response):
    assert b"id_token" not in response.content
    assert not AuditEvent.objects.filter(type="sd").exists()


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch", "head", "options"])
def test_d01_wrong_method_is_405_with_allow_post(client, tenant_a, method):
    """Any method but POST gets 405 method_not_allowed, Allow: POST and the no-store headers."""
    response = getattr(client, method)(url_for(tenant_a["tenant"]))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    if method != "head":
        assert response.json()["error"] == "method_not_allowed"


def test_unknown_tenant_and_disabled_tenant_are_404_json(client, tenant_a):
    """An unknown tenant is 404 not_found; a tenant with delegation off 404 endpoint_disabled;
    both JSON with no-store, and no audit row is written for them."""
    body = _valid_body(tenant_a)
    response = post_json(client, type("T", (), {"slug": "no-such-tenant"})(), body)
    assert_error(response, 404, "not_found")
    tenant = tenant_a["tenant"]
    tenant.delegation_enabled = False
    tenant.save()
    assert_error(post_json(client, tenant, body), 404, "endpoint_disabled")
    assert not AuditEvent.objects.filter(type__in=["sd", "fd"]).exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x", ""]
)
def test_d02_unsupported_content_type_is_415(client, tenant_a, content_type):
    """A body that is neither JSON nor a form gets 415 invalid_request."""
    body = json.dumps(_valid_body(tenant_a))
    response = client.post(url_for(tenant_a["tenant"]), data=body, content_type=content_type)
    assert_error(response, 415, "invalid_request")
    _no_token_issued(response)


@pytest.mark.parametrize(
    "raw",
    [b"", b'{"client_id": "x"', b"[]", b'"x"', b"1", b"NaN", b'{"client_id": NaN}', b"null"],
    ids=["empty", "truncated", "array", "string", "number", "nan", "nan-value", "null"],
)
def test_d03_malformed_json_is_400(client, tenant_a, raw):
    """Empty, truncated, non-object or NaN JSON bodies get 400 invalid_request."""
    response = post_json(client, tenant_a["tenant"], raw)
    assert_error(response, 400, "invalid_request")


def test_d03_empty_form_is_400(client, tenant_a):
    """An empty form body gets 400 invalid_request."""
    response = client.post(
        url_for(tenant_a["tenant"]),
        data=b"",
        content_type="application/x-www-form-urlencoded",
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("encoding", ["json", "form", "form-percent"])
def test_d04_invalid_utf8_is_400(client, tenant_a, encoding):
    """Invalid UTF-8 inside a value (raw or percent-encoded) gets 400 invalid_request."""
    setup = tenant_a
    if encoding == "json":
        raw = b'{"client_id": "S\xff\xfe", "grant_type": "' + GRANT_JWT_BEARER.encode() + b'"}'
        response = post_json(client, setup["tenant"], raw)
    else:
        bad = b"S\xff" if encoding == "form" else b"S%FF%FE"
        raw = b"client_id=" + bad + b"&grant_type=" + GRANT_JWT_BEARER.encode()
        response = client.post(
            url_for(setup["tenant"]), data=raw, content_type="application/x-www-form-urlencoded"
        )
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("bracket", ["[", "{"])
def test_d05_depth_bomb_is_400_never_500(client, tenant_a, settings, depth, bracket):
    """JSON nested 1,000 and 100,000 levels deep gets 400 invalid_request, never 500 (the
    cap is raised so the 100,000-level body reaches the parser instead of the size check)."""
    settings.DELEGATION_MAX_BODY_BYTES = 1024 * 1024
    opener, closer = (b"[", b"]") if bracket == "[" else (b'{"a":', b"}")
    raw = b'{"client_id": ' + opener * depth + b"1" + closer * depth + b"}"
    response = post_json(client, tenant_a["tenant"], raw)
    assert_error(response, 400, "invalid_request")


def test_d05_depth_bomb_over_the_cap_is_413(client, tenant_a):
    """At the default cap a 100,000-level document is simply too large: 413 JSON."""
    raw = b"[" * 100_000 + b"]" * 100_000
    assert_error(post_json(client, tenant_a["tenant"], raw), 413, "invalid_request")


@pytest.mark.parametrize("size", [64 * 1024 + 1, 3 * 1024 * 1024], ids=["over-cap", "over-2.5MB"])
@pytest.mark.parametrize("kind", ["json", "form"])
def test_d06_body_over_cap_is_413_json(client, tenant_a, size, kind):
    """A body over the endpoint's cap, or over Django's 2.5 MB, gets a 413 JSON answer (never
    Django's HTML 400)."""
    if kind == "json":
        raw = b'{"client_id": "' + b"a" * size + b'"}'
        response = post_json(client, tenant_a["tenant"], raw)
    else:
        raw = b"client_id=" + b"a" * size
        response = client.post(
            url_for(tenant_a["tenant"]), data=raw, content_type="application/x-www-form-urlencoded"
        )
    assert_error(response, 413, "invalid_request")


# JSON null is not a wrong type: it means "absent" (D34, tests/interop/test_json_null.py).
WRONG_TYPES = [{"a": "b"}, ["S"], 123, True, 1.5]
INJECTIONS = ["S\x00X", "S\ud800", "S\r\nINJECTED-LOG-LINE level=CRITICAL"]


@pytest.mark.parametrize("field", ["client_id", "target", "scope"])
@pytest.mark.parametrize("value", WRONG_TYPES + INJECTIONS, ids=repr)
def test_d07_wrong_type_or_control_chars_are_400(client, tenant_a, caplog, field, value):
    """A wrong-typed field (object, array, number, boolean), NUL, a lone surrogate or CR-LF
    in client_id / target / scope gets 400 invalid_request, and the log shows no injected
    line."""
    body = _valid_body(tenant_a)
    body[field] = value
    caplog.set_level(logging.DEBUG)
    response = post_json(client, tenant_a["tenant"], json.dumps(body))
    assert_error(response, 400, "invalid_request")
    for record in caplog.records:
        message = record.getMessage()
        assert "INJECTED" not in message
        assert "\n" not in message and "\r" not in message and "\x00" not in message


def test_d07_crlf_in_form_is_400_and_not_logged(client, tenant_a, caplog):
    """CR-LF injected through a form value is refused and never reaches the log."""
    body = _valid_body(tenant_a)
    body["client_id"] = "S\r\nINJECTED-LOG-LINE"
    caplog.set_level(logging.DEBUG)
    response = client.post(
        url_for(tenant_a["tenant"]),
        data=urlencode(body),
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 400, "invalid_request")
    assert not any("INJECTED" in r.getMessage() for r in caplog.records)


def test_d07_oversized_values_and_too_many_keys_are_400(client, tenant_a):
    """An id_token over 8 KiB, a 10 KB scope and more than 20 extra keys get 400."""
    body = _valid_body(tenant_a)
    big_token = dict(body, id_token=body["id_token"] + "A" * 8200)
    assert_error(post_json(client, tenant_a["tenant"], big_token), 400, "invalid_request")
    big_scope = dict(body, scope="openid " + "x" * 10_000)
    assert_error(post_json(client, tenant_a["tenant"], big_scope), 400, "invalid_request")
    many = dict(body, **{f"extra{i}": "v" for i in range(21)})
    assert_error(post_json(client, tenant_a["tenant"], many), 400, "invalid_request")
    twenty = dict(body, **{f"extra{i}": "v" for i in range(20)})
    assert post_json(client, tenant_a["tenant"], twenty).status_code == 200


def test_d07_error_answers_echo_nothing(client, tenant_a):
    """Refusals never echo the submitted values (no token, no client ID) back."""
    body = _valid_body(tenant_a)
    body["scope"] = ["x"]
    response = post_json(client, tenant_a["tenant"], body)
    assert_error(response, 400, "invalid_request")
    assert body["id_token"].encode() not in response.content
    assert body["client_id"].encode() not in response.content


def test_d08_duplicate_json_key_is_400(client, tenant_a):
    """The same parameter twice in JSON gets 400 invalid_request (no last-one-wins)."""
    setup = tenant_a
    token = id_token_for(setup["tenant"], setup["appA"], setup["user"])
    raw = (
        f'{{"client_id": "{setup["appA"].client_id}", "client_id": "{setup["appB"].client_id}",'
        f' "grant_type": "{GRANT_JWT_BEARER}", "id_token": "{token}"}}'
    )
    assert_error(post_json(client, setup["tenant"], raw), 400, "invalid_request")


def test_d08_duplicate_form_key_is_400(client, tenant_a):
    """The same parameter twice in a form gets 400 invalid_request."""
    setup = tenant_a
    body = list(_valid_body(setup).items()) + [("client_id", setup["appB"].client_id)]
    response = client.post(
        url_for(setup["tenant"]),
        data=urlencode(body),
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 400, "invalid_request")


def test_form_body_is_served_like_json(client, tenant_a):
    """A well-formed form body is served exactly like JSON: 200 with a token."""
    response = client.post(
        url_for(tenant_a["tenant"]),
        data=urlencode(_valid_body(tenant_a)),
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "grant_type, error",
    [
        (DROP, "invalid_request"),
        ("password", "unsupported_grant_type"),
        ("urn:ietf:params:oauth:grant-type:token-exchange", "unsupported_grant_type"),
    ],
    ids=["missing", "password", "token-exchange"],
)
def test_d09_grant_type(client, tenant_a, grant_type, error):
    """grant_type missing is invalid_request; any other grant is unsupported_grant_type."""
    response = delegate(client, tenant_a, grant_type=grant_type)
    assert_error(response, 400, error)


def test_d09_both_or_neither_token_is_400(client, tenant_a):
    """Sending both id_token and refresh_token, or neither, gets 400 invalid_request."""
    both = delegate(client, tenant_a, refresh_token="r" * 40)
    assert_error(both, 400, "invalid_request")
    neither = delegate(client, tenant_a, id_token=DROP)
    assert_error(neither, 400, "invalid_request")


def test_d10_client_id_missing_unknown_other_tenant(client, tenant_a, tenant_b):
    """client_id missing is 400; unknown is 401 invalid_client; tenant B's client sent to
    tenant A's path is 401 too, byte-identical to the unknown case."""
    assert_error(delegate(client, tenant_a, client_id=DROP), 400, "invalid_request")
    unknown = delegate(client, tenant_a, client_id="nosuchclient0000000000000000000")
    assert_error(unknown, 401, "invalid_client")
    other = delegate(client, tenant_a, client_id=tenant_b["appA"].client_id)
    assert_error(other, 401, "invalid_client")
    assert other.content == unknown.content
    assert other.status_code == unknown.status_code
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining"):
        assert other[name] == unknown[name]


def test_failures_are_audited_with_error_and_reason(client, tenant_a, audit):
    """Each refused attempt for a known tenant leaves one fd row with its error code."""
    delegate(client, tenant_a, client_id="nosuchclient0000000000000000000")
    delegate(client, tenant_a, grant_type="password")
    rows = audit()
    assert [(r.type, r.error) for r in rows] == [
        ("fd", "invalid_client"),
        ("fd", "unsupported_grant_type"),
    ]
    assert rows[0].tenant == tenant_a["tenant"] and rows[0].reason
    assert rows[0].token_fingerprint == "" and rows[0].jti == ""

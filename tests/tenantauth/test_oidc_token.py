"""POST /t/<slug>/oauth/token: password, password-realm and refresh_token grants, client
authentication, request shape, login throttling and the OAuth error table."""

import base64
import hashlib
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from tenantauth import services as core_services
from tenantauth.models import GRANT_REFRESH_TOKEN, Application, RefreshToken
from tests.conftest import CONFIGURED_PASSWORD_HASHERS, USER_PASSWORD
from tests.tenantauth.oidc_support import (
    REALM_GRANT,
    decode_hs256,
    decode_id_token,
    decode_rs256,
    password_grant,
    post_token,
    refresh_grant,
    token_url,
)

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


def _assert_error(response, status, error):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == error, body
    assert set(body) == {"error", "error_description"}
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    return body


def _rs256(setup, name="appA"):
    app = setup[name]
    core_services.application_update(application=app, jwt_signature_algorithm="RS256")
    return app


def test_password_grant_hs256_issues_auth0_shaped_tokens(client, tenant_a):
    """The password grant answers access_token, id_token (HS256 with the client secret, exact
    issuer, aud = client_id, exp = iat + JWT expiration, profile and email claims), token_type,
    expires_in and scope, with no-store caching headers and no refresh token unless asked."""
    core_services.application_update(application=tenant_a["appA"], jwt_signature_algorithm="HS256")
    response = password_grant(client, tenant_a)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "id_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile email"
    app, user = tenant_a["appA"], tenant_a["user"]
    claims = decode_hs256(body["id_token"], app)
    assert claims["iss"] == f"http://127.0.0.1:8000/t/{tenant_a['tenant'].slug}/"
    assert claims["iss"] == tenant_a["tenant"].issuer
    assert claims["sub"] == user.user_id and claims["aud"] == app.client_id
    assert claims["exp"] - claims["iat"] == app.jwt_lifetime_seconds
    assert claims["email"] == user.email and claims["email_verified"] is True
    assert claims["name"] == "Ada User" and claims["nickname"] == "ada"
    assert "auth_time" in claims and "updated_at" in claims
    assert not RefreshToken.objects.exists()


def test_password_realm_grant_rs256_signed_with_tenant_key(client, tenant_a):
    """password-realm with realm = the connection name signs an RS256 app's id_token with the
    tenant's active key (kid in the header); scope openid alone gives no profile claims."""
    app = _rs256(tenant_a)
    response = password_grant(
        client,
        tenant_a,
        grant_type=REALM_GRANT,
        realm="Username-Password-Authentication",
        scope="openid",
    )
    assert response.status_code == 200, response.content
    token = response.json()["id_token"]
    claims = decode_rs256(token, tenant_a["tenant"], app.client_id)
    assert claims["sub"] == tenant_a["user"].user_id
    assert "email" not in claims and "name" not in claims
    import jwt

    assert jwt.get_unverified_header(token)["kid"] == tenant_a["tenant"].active_signing_key.kid


def test_password_realm_unknown_realm_refused(client, tenant_a):
    """An unknown realm is an invalid_request and issues nothing."""
    response = password_grant(client, tenant_a, grant_type=REALM_GRANT, realm="Nope")
    _assert_error(response, 400, "invalid_request")


def test_json_body_and_client_secret_basic(client, tenant_a):
    """JSON bodies and client_secret_basic (urlencoded id:secret in Basic) both work."""
    app = tenant_a["appA"]
    raw = f"{app.client_id}:{app.client_secret()}".encode()
    response = post_token(
        client,
        tenant_a["tenant"],
        {
            "grant_type": "password",
            "username": tenant_a["user"].email,
            "password": USER_PASSWORD,
        },
        as_json=True,
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(raw).decode(),
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "openid"


def test_wrong_basic_secret_is_invalid_client_with_challenge(client, tenant_a):
    """A wrong Basic secret answers 401 invalid_client with WWW-Authenticate."""
    app = tenant_a["appA"]
    raw = f"{app.client_id}:not-the-secret".encode()
    response = post_token(
        client,
        tenant_a["tenant"],
        {"grant_type": "password", "username": "x@y.z", "password": "p"},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(raw).decode(),
    )
    _assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith("Basic")


def test_two_client_auth_methods_refused(client, tenant_a):
    """Basic credentials and a client_secret in the body at once are refused."""
    app = tenant_a["appA"]
    raw = f"{app.client_id}:{app.client_secret()}".encode()
    response = password_grant(
        client, tenant_a, HTTP_AUTHORIZATION="Basic " + base64.b64encode(raw).decode()
    )
    _assert_error(response, 400, "invalid_request")


def test_other_tenants_client_and_disabled_client_identical_401(client, tenant_a, tenant_b):
    """Tenant B's client at tenant A, a disabled client, a wrong secret and no secret for a
    confidential client all get the same 401 invalid_client body."""
    b_app = tenant_b["appA"]
    cross = password_grant(
        client,
        tenant_a,
        client_id=b_app.client_id,
        client_secret=b_app.client_secret(),
    )
    body = _assert_error(cross, 401, "invalid_client")
    wrong = password_grant(client, tenant_a, client_secret="x" * 64)
    missing = password_grant(client, tenant_a, client_secret="")
    core_services.application_update(application=tenant_a["appB"], is_active=False)
    disabled = password_grant(client, tenant_a, "appB")
    for response in (wrong, missing, disabled):
        assert _assert_error(response, 401, "invalid_client") == body


def test_api_application_cannot_sign_in(client, tenant_a):
    """A backend API (resource server) is not a sign-in client."""
    response = password_grant(client, tenant_a, "apiC")
    _assert_error(response, 401, "invalid_client")


def test_grant_not_held_is_unauthorized_client(client, tenant_a):
    """An app without the password grant gets 403 unauthorized_client."""
    app = tenant_a["appB"]
    core_services.application_update(application=app, grant_types=["authorization_code"])
    response = password_grant(client, tenant_a, "appB")
    body = _assert_error(response, 403, "unauthorized_client")
    assert body["error_description"] == "Grant type 'password' not allowed for the client."


def test_unsupported_grant_type(client, tenant_a):
    """An unknown grant type is unsupported_grant_type."""
    response = password_grant(client, tenant_a, grant_type="client_credentials")
    _assert_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize(
    "scope, granted",
    [
        ("openid profile read:messages", "openid profile"),
        ("openid address", "openid"),
        ("openid phone email", "openid email"),
        ("openid admin:all", "openid"),
    ],
)
def test_unknown_scope_values_are_ignored(client, tenant_a, scope, granted):
    """Issue 7 fault 4: scope values we do not support (address, phone, an API permission) are
    ignored (OIDC Core 3.1.2.1), not refused; the answer's scope says what was granted and the
    id_token carries only the granted claims."""
    response = password_grant(client, tenant_a, scope=scope)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == granted
    claims = decode_id_token(body["id_token"], tenant_a["appA"])
    assert ("name" in claims) == ("profile" in granted.split())
    assert ("email" in claims) == ("email" in granted.split())
    assert not {"address", "phone_number"} & set(claims)


def test_request_shape_errors(client, tenant_a, settings):
    """Duplicated parameters (form and JSON), missing ones, wrong content type, oversized
    bodies and other methods are refused with the right status and nothing is issued."""
    tenant = tenant_a["tenant"]
    url = token_url(tenant)
    dup_form = client.post(
        url,
        "grant_type=password&grant_type=password&client_id=x",
        content_type="application/x-www-form-urlencoded",
    )
    _assert_error(dup_form, 400, "invalid_request")
    dup_json = client.post(
        url, '{"grant_type":"password","grant_type":"x"}', content_type="application/json"
    )
    _assert_error(dup_json, 400, "invalid_request")
    non_string = client.post(url, json.dumps({"grant_type": 5}), content_type="application/json")
    _assert_error(non_string, 400, "invalid_request")
    missing = client.post(url, f"client_id={tenant_a['appA'].client_id}", content_type=FORM)
    _assert_error(missing, 400, "invalid_request")
    text = client.post(url, "grant_type=password", content_type="text/plain")
    _assert_error(text, 415, "invalid_request")
    settings.DELEGATION_MAX_BODY_BYTES = 1024
    big = client.post(url, "grant_type=password&pad=" + "x" * 2000, content_type=FORM)
    _assert_error(big, 413, "invalid_request")
    get = client.get(url)
    _assert_error(get, 405, "method_not_allowed")
    assert get["Allow"] == "POST"
    assert not RefreshToken.objects.exists()


def test_unknown_tenant_404(client, db):
    """An unknown tenant answers 404 not_found as JSON."""
    response = client.post(
        "/t/no-such-tenant/oauth/token", "grant_type=password", content_type=FORM
    )
    _assert_error(response, 404, "not_found")


def test_wrong_password_and_unknown_email_answer_alike(client, tenant_a):
    """A wrong password and an unknown email get the same invalid_grant body."""
    wrong = password_grant(client, tenant_a, password="wrong password!")
    unknown = password_grant(client, tenant_a, username="nobody@tenant-a.example")
    body = _assert_error(wrong, 400, "invalid_grant")
    assert body == _assert_error(unknown, 400, "invalid_grant")
    assert body["error_description"] == "Wrong email or password."


def test_other_tenants_user_cannot_sign_in(client, tenant_a, tenant_b):
    """Tenant B's user (right password) is unknown at tenant A."""
    response = password_grant(client, tenant_a, username=tenant_b["user"].email)
    _assert_error(response, 400, "invalid_grant")


def test_blocked_user_refused_only_after_right_password(client, tenant_a):
    """A blocked user gets "user is blocked" with the right password and the generic answer
    with a wrong one; nothing is issued."""
    core_services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    right = password_grant(client, tenant_a)
    assert _assert_error(right, 400, "invalid_grant")["error_description"] == "user is blocked"
    wrong = password_grant(client, tenant_a, password="wrong password!")
    assert _assert_error(wrong, 400, "invalid_grant")["error_description"] == (
        "Wrong email or password."
    )


@pytest.fixture
def pbkdf2_work(monkeypatch, settings, tenant_a):
    """The configured hashers (PBKDF2 first, not the suite's fast MD5), the fixture user's
    password hashed with them, and a meter of the work done: the PBKDF2 iterations run
    (``hashlib.pbkdf2_hmac``, what Django's PBKDF2 hasher computes with) since the last read."""
    settings.PASSWORD_HASHERS = CONFIGURED_PASSWORD_HASHERS
    assert "PBKDF2" in CONFIGURED_PASSWORD_HASHERS[0]
    core_services.tenant_user_set_password(user=tenant_a["user"], password=USER_PASSWORD)
    done = []
    real = hashlib.pbkdf2_hmac

    def counted(name, password, salt, iterations, *args, **kwargs):
        done.append(iterations)
        return real(name, password, salt, iterations, *args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)

    def read() -> int:
        work = sum(done)
        done.clear()
        return work

    return read


def test_unknown_email_costs_the_same_hashing_work(client, tenant_a, pbkdf2_work):
    """With the real hasher: an unknown email costs exactly the PBKDF2 work of a wrong
    password for a known one, and of the right one (no timing oracle on who exists)."""
    from django.contrib.auth.hashers import get_hasher

    iterations = get_hasher().iterations
    assert iterations >= 600_000
    assert password_grant(client, tenant_a, password="wrong password!").status_code == 400
    wrong = pbkdf2_work()
    unknown = password_grant(client, tenant_a, username="nobody@tenant-a.example")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": "invalid_grant",
        "error_description": "Wrong email or password.",
    }
    nobody = pbkdf2_work()
    assert password_grant(client, tenant_a).status_code == 200
    right = pbkdf2_work()
    assert wrong == nobody == right == iterations


def test_failed_logins_throttled_per_user_and_ip(client, tenant_a):
    """After 10 failures for one user from one IP, even the right password gets 429
    too_many_requests with Retry-After; the same user from another IP still signs in."""
    for _ in range(10):
        response = password_grant(client, tenant_a, password="wrong password!")
        _assert_error(response, 400, "invalid_grant")
    blocked = password_grant(client, tenant_a)
    _assert_error(blocked, 429, "too_many_requests")
    assert 0 < int(blocked["Retry-After"]) <= 15 * 60
    other_ip = password_grant(client, tenant_a, REMOTE_ADDR="10.9.8.7")
    assert other_ip.status_code == 200


def test_unknown_emails_throttled_too(client, tenant_a):
    """Throttling does not depend on the email existing."""
    for _ in range(10):
        password_grant(client, tenant_a, username="ghost@tenant-a.example")
    response = password_grant(client, tenant_a, username="ghost@tenant-a.example")
    _assert_error(response, 429, "too_many_requests")


def test_refresh_token_issued_rotated_and_reuse_revokes_family(client, tenant_a):
    """offline_access yields a refresh token stored only as a hash; using it rotates it; using
    the rotated one again is invalid_grant and revokes the whole family, including the
    successor."""
    first = password_grant(client, tenant_a, scope="openid offline_access").json()
    token = first["refresh_token"]
    assert first["scope"] == "openid offline_access"
    row = RefreshToken.objects.get()
    assert row.token_hash != token and token not in row.token_hash
    app = tenant_a["appA"]
    refresh = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "refresh_token": token,
    }
    second = post_token(client, tenant_a["tenant"], refresh)
    assert second.status_code == 200, second.content
    successor = second.json()["refresh_token"]
    assert successor != token
    claims = decode_id_token(second.json()["id_token"], app)
    assert claims["sub"] == tenant_a["user"].user_id
    reused = post_token(client, tenant_a["tenant"], refresh)
    _assert_error(reused, 400, "invalid_grant")
    assert RefreshToken.objects.filter(revoked_at__isnull=True).count() == 0
    after = post_token(client, tenant_a["tenant"], {**refresh, "refresh_token": successor})
    _assert_error(after, 400, "invalid_grant")


def test_expired_refresh_token_refused(client, tenant_a):
    """An expired refresh token is invalid_grant and yields nothing."""
    token = password_grant(client, tenant_a, scope="openid offline_access").json()["refresh_token"]
    RefreshToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    app = tenant_a["appA"]
    response = refresh_grant(client, tenant_a["tenant"], app, token)
    _assert_error(response, 400, "invalid_grant")
    assert RefreshToken.objects.count() == 1


def test_refresh_token_bound_to_its_client(client, tenant_a):
    """appB cannot use appA's refresh token."""
    token = password_grant(client, tenant_a, scope="openid offline_access").json()["refresh_token"]
    app_b = tenant_a["appB"]
    response = refresh_grant(client, tenant_a["tenant"], app_b, token)
    _assert_error(response, 400, "invalid_grant")


def test_refresh_scope_cannot_grow(client, tenant_a):
    """A refresh request may narrow the scope but not widen it."""
    token = password_grant(client, tenant_a, scope="openid offline_access").json()["refresh_token"]
    app = tenant_a["appA"]
    response = refresh_grant(
        client, tenant_a["tenant"], app, token, scope="openid email offline_access"
    )
    _assert_error(response, 400, "invalid_scope")


def test_blocked_user_cannot_refresh(client, tenant_a):
    """Blocking a user stops their refresh tokens."""
    token = password_grant(client, tenant_a, scope="openid offline_access").json()["refresh_token"]
    core_services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    app = tenant_a["appA"]
    response = refresh_grant(client, tenant_a["tenant"], app, token)
    assert _assert_error(response, 400, "invalid_grant")["error_description"] == "user is blocked"


def test_no_refresh_token_without_refresh_grant(client, tenant_a):
    """offline_access gives no refresh token to an app without the refresh_token grant, and
    the granted scope says so."""
    app = tenant_a["appB"]
    grants = [g for g in app.grant_types if g != GRANT_REFRESH_TOKEN]
    core_services.application_update(application=app, grant_types=grants)
    body = password_grant(client, tenant_a, "appB", scope="openid offline_access").json()
    assert "refresh_token" not in body and body["scope"] == "openid"


def test_public_app_password_grant_without_secret(client, tenant_a):
    """A public (SPA) app authenticates without a secret; a wrong secret is still refused."""
    app = tenant_a["appB"]
    core_services.application_update(application=app, app_type=Application.AppType.SPA)
    ok = password_grant(client, tenant_a, "appB", client_secret="")
    assert ok.status_code == 200, ok.content
    bad = password_grant(client, tenant_a, "appB", client_secret="y" * 64)
    _assert_error(bad, 401, "invalid_client")


def test_secrets_never_in_error_bodies(client, tenant_a):
    """Error answers never echo the password or the client secret sent."""
    app = tenant_a["appA"]
    response = password_grant(client, tenant_a, password="Sup3r-Secret-Guess")
    assert b"Sup3r-Secret-Guess" not in response.content
    assert app.client_secret().encode() not in response.content


def test_deeply_nested_json_is_a_client_error(client, tenant_a):
    """Pathologically nested JSON is invalid_request, not a server error."""
    body = "[" * 20000 + "]" * 20000
    response = client.post(token_url(tenant_a["tenant"]), body, content_type="application/json")
    _assert_error(response, 400, "invalid_request")


def _password_grant_json(setup) -> dict:
    app = setup["appA"]
    return {
        "grant_type": "password",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "username": setup["user"].email,
        "password": USER_PASSWORD,
    }


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_number_in_json_is_refused(client, tenant_a, constant):
    """A JSON body carrying NaN, Infinity or a float that overflows is refused while parsing,
    as invalid JSON (400 invalid_request), before any parameter is looked at; nothing is
    issued."""
    body = json.dumps(_password_grant_json(tenant_a))[:-1] + f', "extra": {constant}}}'
    response = client.post(token_url(tenant_a["tenant"]), body, content_type="application/json")
    error = _assert_error(response, 400, "invalid_request")
    assert error["error_description"] == "The body is not valid JSON."
    assert b"access_token" not in response.content


@pytest.mark.parametrize("depth", [9, 1_000, 100_000])
def test_json_nested_past_the_depth_limit_is_refused(client, tenant_a, settings, depth):
    """A body nested more than 8 levels is 400 invalid_request before it is decoded, never a
    500 (the cap is raised so the deepest body reaches the parser, not the size check)."""
    settings.DELEGATION_MAX_BODY_BYTES = 1024 * 1024
    nested = "[" * (depth - 1) + "]" * (depth - 1)
    body = json.dumps(_password_grant_json(tenant_a))[:-1] + f', "extra": {nested}}}'
    response = client.post(token_url(tenant_a["tenant"]), body, content_type="application/json")
    assert _assert_error(response, 400, "invalid_request")["error_description"] == (
        "The body is nested too deeply."
    )


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16"])
def test_charset_other_than_utf8_is_415(client, tenant_a, charset):
    """A body announced in a charset other than UTF-8 is 415 invalid_request (it would be read
    as UTF-8 regardless); UTF-8 announced explicitly signs in as usual."""
    data = urlencode(_password_grant_json(tenant_a))
    url = token_url(tenant_a["tenant"])
    refused = client.post(url, data, content_type=f"{FORM}; charset={charset}")
    _assert_error(refused, 415, "invalid_request")
    ok = client.post(url, data, content_type=f"{FORM}; charset=UTF-8")
    assert ok.status_code == 200, ok.content


def test_form_with_an_empty_field_is_malformed(client, tenant_a):
    """Forms are parsed strictly: a stray '&&' or a field without '=' is 400 invalid_request
    instead of being skipped; a body-less request still names the missing parameter."""
    data = urlencode(_password_grant_json(tenant_a))
    url = token_url(tenant_a["tenant"])
    _assert_error(client.post(url, data + "&&x=1", content_type=FORM), 400, "invalid_request")
    _assert_error(client.post(url, data + "&x", content_type=FORM), 400, "invalid_request")
    # The test client drops the content type of an empty body unless it is given as a header.
    empty = client.post(url, "", content_type=FORM, CONTENT_TYPE=FORM)
    empty = _assert_error(empty, 400, "invalid_request")
    assert empty["error_description"] == "Missing required parameter: grant_type"


def test_cache_unavailable_is_503_and_issues_nothing(client, tenant_a, settings):
    """With the throttle store (Redis) unreachable the token endpoint answers 503
    temporarily_unavailable with Retry-After rather than signing in unthrottled."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = password_grant(client, tenant_a, scope="openid offline_access")
    _assert_error(response, 503, "temporarily_unavailable")
    assert int(response["Retry-After"]) > 0
    assert not RefreshToken.objects.exists()

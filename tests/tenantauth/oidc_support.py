"""Helpers shared by the sign-in endpoint tests (Django test client and live server)."""

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

CALLBACK = "http://127.0.0.1:9999/callback"
REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def token_url(tenant) -> str:
    return f"/t/{tenant.slug}/oauth/token"


def post_token(client, tenant, data: dict, *, as_json: bool = False, **extra):
    if as_json:
        return client.post(
            token_url(tenant), json.dumps(data), content_type="application/json", **extra
        )
    return client.post(
        token_url(tenant),
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        **extra,
    )


def password_grant(client, setup, app_name="appA", **overrides):
    app = setup[app_name]
    data = {
        "grant_type": "password",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "username": setup["user"].email,
        "password": overrides.pop("password", None) or _user_password(),
        "scope": "openid profile email",
    }
    extra = {k: overrides.pop(k) for k in list(overrides) if k.isupper()}  # WSGI environ
    data.update(overrides)
    return post_token(client, setup["tenant"], data, **extra)


def _user_password():
    from tests.conftest import USER_PASSWORD

    return USER_PASSWORD


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "the login page has no CSRF token"
    return match.group(1)


def authorize_params(app, *, challenge: str | None, **extra) -> dict:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email offline_access",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def login_for_code(client, setup, app_name="appA", *, challenge=None, **extra) -> dict:
    """Run GET + POST /authorize with the test client; return the callback query."""
    app = setup[app_name]
    params = authorize_params(app, challenge=challenge, **extra)
    url = f"/t/{setup['tenant'].slug}/authorize"
    page = client.get(url, params)
    assert page.status_code == 200, page.content[:500]
    response = client.post(
        f"{url}?{urlencode(params)}",
        {
            "email": setup["user"].email,
            "password": _user_password(),
            "csrfmiddlewaretoken": csrf_token_from(page.content.decode()),
        },
    )
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith(CALLBACK + "?")
    query = query_of(response["Location"])
    assert query["state"] == params["state"]
    return {**query, "nonce": params["nonce"]}


def decode_hs256(token: str, app) -> dict:
    return jwt.decode(
        token, app.client_secret(), algorithms=["HS256"], audience=app.client_id, leeway=5
    )


def decode_rs256(token: str, tenant, audience: str) -> dict:
    from tenantauth.selectors import verification_keys

    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k.public_jwk for k in verification_keys(tenant=tenant) if k.kid == kid)
    key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience, leeway=5)


def decode_id_token(token: str, app) -> dict:
    """Decode an id_token issued to ``app`` with the key its algorithm names."""
    if app.jwt_signature_algorithm == "HS256":
        return decode_hs256(token, app)
    return decode_rs256(token, app.tenant, app.client_id)


def refresh_grant(client, tenant, app, refresh_token: str, **overrides):
    """A refresh_token grant by ``app`` (client_secret_post), with any parameter overridden."""
    data = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "refresh_token": refresh_token,
        **overrides,
    }
    return post_token(client, tenant, data)

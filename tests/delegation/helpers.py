"""Helpers for delegation tests: mint user id_tokens as the sign-in endpoint does, call the
endpoint, decode what it issued."""

import base64
import json
import time

import jwt

from tenantauth import signing

GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DROP = object()  # a claim value meaning "leave this claim out"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def id_token_for(tenant, app, user, *, key=None, algorithm=None, headers=None, **overrides):
    """An id_token for ``user`` issued to ``app`` (SPEC claims), signed per ``app``'s setting:
    HS256 with its client secret, RS256 with the tenant's active key (``kid`` header)."""
    now = int(time.time())
    claims = {
        "iss": tenant.issuer,
        "aud": app.client_id,
        "sub": user.user_id,
        "iat": now,
        "exp": now + 3600,
        "email": user.email,
    }
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    algorithm = algorithm or app.jwt_signature_algorithm
    headers = dict(headers or {})
    if key is None:
        if algorithm == "RS256":
            active = tenant.active_signing_key
            key = signing.rsa_private_key(active)
            headers.setdefault("kid", active.kid)
        else:
            key = app.client_secret()
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers or None)


def unsigned_token(header: dict, claims: dict, signature: str = "") -> str:
    return ".".join(
        [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
            signature,
        ]
    )


def body_for(source, token, **params):
    body = {"client_id": source.client_id, "grant_type": GRANT_JWT_BEARER, "id_token": token}
    for name, value in params.items():
        if value is DROP:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def url_for(tenant) -> str:
    return f"/t/{tenant.slug}/delegation"


def post_json(client, tenant, body, **extra):
    payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if not payload:
        # Django's test client drops the Content-Type of an empty body; send it anyway.
        extra.setdefault("CONTENT_TYPE", "application/json")
    return client.post(url_for(tenant), data=payload, content_type="application/json", **extra)


def delegate(client, setup, *, source=None, target=None, token=None, **params):
    """A valid-base request of SPEC 4 (source appA, target apiC) with changes in ``params``."""
    source = source or setup["appA"]
    target = setup["apiC"] if target is None else target
    token = token or id_token_for(setup["tenant"], source, setup["user"])
    body = body_for(source, token, **params)
    if target is not DROP:
        body.setdefault("target", target if isinstance(target, str) else target.client_id)
    return post_json(client, setup["tenant"], body)


def verify_issued(token, *, tenant, target, leeway=0):
    """Decode a delegation token with the target's key (HS256 secret or tenant public key)."""
    if target.jwt_signature_algorithm == "RS256":
        kid = jwt.get_unverified_header(token)["kid"]
        assert kid == tenant.active_signing_key.kid
        key = signing.rsa_public_key(tenant.active_signing_key)
    else:
        key = target.client_secret()
    return jwt.decode(
        token,
        key,
        algorithms=[target.jwt_signature_algorithm],
        audience=target.client_id,
        issuer=tenant.issuer,
        leeway=leeway,
    )


def assert_error(response, status, error):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    data = response.json()
    assert set(data) == {"error", "error_description"}
    assert data["error"] == error, data
    return data

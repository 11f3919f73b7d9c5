"""Verification of the user token presented to ``/delegation`` (step 4 of SPEC section 4).

The rules an auditor looks for:

* the algorithm is pinned by the *source application's* setting, never read from the token
  (``jwt.decode(algorithms=[source alg])`` and an explicit header check);
* no key ever comes from the token: ``jwk``/``jku``/``x5u``/``x5c`` headers are refused and a
  ``kid`` is only looked up in this tenant's own key set, after a syntax check;
* exact ``iss`` (the tenant issuer), ``aud`` = the source client ID (a string equal to it, or
  a list containing it);
* ``exp``/``iat``/``nbf`` must be plain integers in sane bounds (PyJWT alone accepts ``"123"``
  and ``1e30``), with ``settings.JWT_LEEWAY_SECONDS`` of leeway and a maximum token age.

Every refusal is ``invalid_grant`` with one generic description ("jwt expired" for expiry);
the specific ``reason`` goes to the audit row only.
"""

import re
import time
from dataclasses import dataclass

import jwt
from django.conf import settings

from delegation import selectors
from delegation.errors import JWT_EXPIRED, DelegationError
from tenantauth import selectors as tenant_selectors
from tenantauth import signing
from tenantauth.models import Application, Tenant, TenantUser

# base64url segments; a signature is required (this also refuses alg=none tokens).
_COMPACT_JWS_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_KID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
# 2000-01-01 .. 2100-01-01: anything outside is not a timestamp we issue or accept.
_MIN_TIMESTAMP = 946_684_800
_MAX_TIMESTAMP = 4_102_444_800


def _refuse(reason: str, description: str | None = None) -> DelegationError:
    return DelegationError("invalid_grant", description=description, reason=reason)


@dataclass(frozen=True)
class VerifiedToken:
    sub: str
    claims: dict


def _timestamp(claims: dict, name: str, *, required: bool) -> int | None:
    if name not in claims:
        if required:
            raise _refuse(f"{name} missing")
        return None
    value = claims[name]
    if type(value) is not int or not _MIN_TIMESTAMP <= value <= _MAX_TIMESTAMP:
        raise _refuse(f"{name} not an integer timestamp")
    return value


def check_times(claims: dict, *, now: int | None = None) -> None:
    now = int(time.time()) if now is None else now
    leeway = settings.JWT_LEEWAY_SECONDS
    max_age = settings.MAX_ID_TOKEN_AGE_SECONDS
    exp = _timestamp(claims, "exp", required=True)
    iat = _timestamp(claims, "iat", required=True)
    nbf = _timestamp(claims, "nbf", required=False)
    if exp < iat:
        raise _refuse("exp before iat")
    if exp - iat > max_age:
        raise _refuse("lifetime above maximum")
    if iat > now + leeway:
        raise _refuse("iat in the future")
    if nbf is not None and nbf > now + leeway:
        raise _refuse("nbf in the future")
    if now - iat > max_age + leeway:
        raise _refuse("token too old")
    if exp <= now - leeway:
        raise _refuse("jwt expired", JWT_EXPIRED)


def _verification_key(*, tenant: Tenant, source: Application, header: dict):
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not _KID_RE.match(kid)):
        raise _refuse("malformed kid")
    if source.jwt_signature_algorithm == Application.SigningAlgorithm.RS256:
        if kid is None:
            key = tenant.active_signing_key
        else:
            key = tenant_selectors.verification_key_get(tenant=tenant, kid=kid)
        if key is None:
            raise _refuse("unknown kid")
        return signing.rsa_public_key(key)
    if kid is not None:
        # HS256 tokens are keyed by the client secret alone (we never issue them with a kid);
        # a kid there names no key of ours.
        raise _refuse("unknown kid")
    return signing.hs256_secret(source)


def id_token_verify(*, tenant: Tenant, source: Application, token: str) -> VerifiedToken:
    """Verify a user's id_token issued to ``source``; return its subject and claims."""
    if not _COMPACT_JWS_RE.match(token):
        raise _refuse("not a compact JWS")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _refuse("bad header") from None
    if not isinstance(header, dict):
        raise _refuse("bad header")
    algorithm = source.jwt_signature_algorithm
    if header.get("alg") != algorithm:
        raise _refuse("algorithm not allowed")
    if _FORBIDDEN_HEADERS & header.keys():
        raise _refuse("key-bearing header")
    key = _verification_key(tenant=tenant, source=source, header=header)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=source.client_id,
            issuer=tenant.issuer,
            options={
                "require": ["exp", "iat", "sub", "iss", "aud"],
                # Times are checked below, strictly typed; PyJWT coerces strings and floats.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise _refuse("bad signature") from None
    except jwt.InvalidAudienceError:
        raise _refuse("audience mismatch") from None
    except jwt.InvalidIssuerError:
        raise _refuse("issuer mismatch") from None
    except jwt.PyJWTError:
        raise _refuse("invalid token") from None
    if not isinstance(claims, dict) or claims.get("iss") != tenant.issuer:
        raise _refuse("issuer mismatch")
    check_times(claims)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise _refuse("bad sub")
    return VerifiedToken(sub=sub, claims=claims)


def live_user_get(*, tenant: Tenant, user_id: str) -> TenantUser:
    """The user named by a verified token: of this tenant, existing and not blocked."""
    user = selectors.delegation_user_get(tenant=tenant, user_id=user_id)
    if user is None:
        raise _refuse("unknown user")
    if user.blocked:
        raise _refuse("user blocked")
    return user


def refresh_token_verify(*, tenant: Tenant, source: Application, token: str) -> TenantUser:
    """The user of a refresh token live for ``source`` (the legacy renewal path)."""
    refresh = tenant_selectors.refresh_token_get_live(
        tenant=tenant, application=source, token=token
    )
    if refresh is None:
        raise _refuse("refresh token not live")
    if refresh.user.blocked or refresh.user.tenant_id != tenant.pk:
        raise _refuse("user blocked")
    return refresh.user

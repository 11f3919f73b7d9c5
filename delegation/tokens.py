"""Verification of the user token presented to ``/delegation`` (step 4 of SPEC section 4).

The rules an auditor looks for:

* the algorithm is pinned by the *source application's* setting, never read from the token
  (``jwt.decode(algorithms=[source alg])`` and an explicit header check);
* no key ever comes from the token: ``jwk``/``jku``/``x5u``/``x5c`` headers are refused and a
  ``kid`` is only looked up in this tenant's own key set, after a syntax check;
* exact ``iss`` (the tenant issuer), ``aud`` = the source client ID (a string equal to it, or
  a list containing it);
* ``exp``/``iat``/``nbf`` must be plain integers in sane bounds (PyJWT alone accepts ``"123"``
  and ``1e30``), with ``settings.JWT_LEEWAY_SECONDS`` of leeway and a maximum token age;
* the maximum age (``settings.MAX_ID_TOKEN_AGE_SECONDS``) applies to the *original*
  authentication: ``auth_time`` when the token carries it (every token we issue does,
  delegation tokens included), else ``iat``; for a refresh token, the start of its family. A
  delegation token fed back into ``/delegation`` carries that time on, so a chain of hops ends
  once the sign-in it descends from is too old (SECURITY-CASES D33);
* no claim may hold a control character (``tenantauth.text``): ``sub``, ``azp`` and every
  claim ``passthrough`` could copy are text that flows into queries, tokens and logs.

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
from tenantauth import signing, text
from tenantauth.models import Application, Tenant, TenantUser
from tenantauth.oidc import selectors as oidc_selectors

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
    auth_time: int  # UNIX time of the original authentication (auth_time, else iat)


@dataclass(frozen=True)
class VerifiedRefreshToken:
    user: TenantUser
    auth_time: int  # UNIX time the refresh family started (the sign-in it descends from)


def _timestamp(claims: dict, name: str, *, required: bool) -> int | None:
    if name not in claims:
        if required:
            raise _refuse(f"{name} missing")
        return None
    value = claims[name]
    if type(value) is not int or not _MIN_TIMESTAMP <= value <= _MAX_TIMESTAMP:
        raise _refuse(f"{name} not an integer timestamp")
    return value


def check_times(claims: dict, *, now: int | None = None) -> int:
    """Check ``exp``/``iat``/``nbf``/``auth_time`` (RFC 7519 4.1, OIDC Core 2) and return the
    original authentication time (``auth_time``, else ``iat``) as UNIX seconds.

    Raises ``DelegationError("invalid_grant")``: expired ("jwt expired"), not yet valid, a
    lifetime or an authentication older than ``settings.MAX_ID_TOKEN_AGE_SECONDS``.
    """
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
    auth_time = _timestamp(claims, "auth_time", required=False)
    if auth_time is not None and auth_time > min(now, iat) + leeway:
        raise _refuse("auth_time in the future")
    authenticated = iat if auth_time is None else auth_time
    check_authentication_age(authenticated, now=now)
    return authenticated


def check_authentication_age(authenticated: int, *, now: int | None = None) -> None:
    """Refuse (``invalid_grant``) a sign-in older than ``settings.MAX_ID_TOKEN_AGE_SECONDS``
    (plus the leeway): the end of every chain of delegation hops."""
    now = int(time.time()) if now is None else now
    if now - authenticated > settings.MAX_ID_TOKEN_AGE_SECONDS + settings.JWT_LEEWAY_SECONDS:
        raise _refuse("authentication too old")


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
    authenticated = check_times(claims)
    if text.contains_control_characters(claims):
        raise _refuse("control character in a claim")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise _refuse("bad sub")
    return VerifiedToken(sub=sub, claims=claims, auth_time=int(authenticated))


def live_user_get(*, tenant: Tenant, user_id: str) -> TenantUser:
    """The user named by a verified token: of this tenant, existing and not blocked."""
    user = selectors.delegation_user_get(tenant=tenant, user_id=user_id)
    if user is None:
        raise _refuse("unknown user")
    if user.blocked:
        raise _refuse("user blocked")
    return user


def refresh_token_verify(
    *, tenant: Tenant, source: Application, token: str
) -> VerifiedRefreshToken:
    """The user of a refresh token live for ``source`` (the legacy renewal path), and when its
    family started; a family older than the maximum age is refused like an old id_token."""
    refresh = tenant_selectors.refresh_token_get_live(
        tenant=tenant, application=source, token=token
    )
    if refresh is None:
        raise _refuse("refresh token not live")
    if refresh.user.blocked or refresh.user.tenant_id != tenant.pk:
        raise _refuse("user blocked")
    started = oidc_selectors.refresh_family_started_at(tenant=tenant, family=refresh.family)
    authenticated = int((started or refresh.created_at).timestamp())
    check_authentication_age(authenticated)
    return VerifiedRefreshToken(user=refresh.user, auth_time=authenticated)

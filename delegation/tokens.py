"""Verification of the user token presented to ``/delegation`` (step 4 of SPEC section 4).

The checks, point by point (RFC 7519 section 7.2, OpenID Connect Core 1.0 section 3.1.3.7):

* compact JWS only (three base64url segments, a signature: no JWE, no JSON serialization, no
  ``alg: none``); header and payload are JSON objects without duplicate member names (RFC
  7515 section 4 / RFC 7519 section 4 allow rejecting them, so we do);
* ``typ``, when present, is ``JWT`` (any case, RFC 7519 section 5.1): an access token
  (``at+jwt``) or another typed token is never an id_token; ``cty`` (a nested JWT) and
  ``crit`` are refused;
* the algorithm is pinned by the *source application's* setting, never read from the token
  (``jwt.decode(algorithms=[source alg])`` and an explicit header check; OIDC 3.1.3.7 6-8);
* no key ever comes from the token: ``jwk``/``jku``/``x5u``/``x5c`` headers are refused and a
  ``kid`` is only looked up in this tenant's own key set, after a syntax check;
* ``iss`` exactly the tenant issuer (OIDC 3.1.3.7 2);
* ``aud`` a string equal to the source client ID, or a list of strings containing it (3);
  with more than one audience ``azp`` is required, and whenever ``azp`` is present it must
  be the source client ID (4, 5);
* ``exp``, ``iat`` required, ``nbf`` and ``auth_time`` optional: each a NumericDate, i.e. a
  JSON number, integer *or not* (RFC 7519 section 2), never a string or a boolean, finite and
  between 2000 and 2100; ``exp`` after now, ``iat`` and ``nbf`` not after now, each with
  ``settings.JWT_LEEWAY_SECONDS`` of leeway; a lifetime (``exp - iat``) and an age (``now -
  iat``) of at most ``settings.MAX_ID_TOKEN_AGE_SECONDS`` (9, 10);
* ``sub`` a non-empty string of at most 128 characters.
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

import base64
import binascii
import json
import math
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


def numeric_date(claims: dict, name: str, *, required: bool) -> float | int | None:
    """The claim ``name`` as a NumericDate (RFC 7519 section 2: seconds since the epoch, "a
    JSON numeric value", so ``1796035000.5`` is as valid as ``1796035000``).

    ``int`` or ``float`` only: never ``bool`` (a JSON ``true`` decodes as one), never a
    string (PyJWT alone accepts ``"123"``), finite, and between 2000-01-01 and 2100-01-01
    (``1e30`` is no date we issue or accept). None when absent and not ``required``; every
    other case raises ``DelegationError("invalid_grant")``.
    """
    if name not in claims:
        if required:
            raise _refuse(f"{name} missing")
        return None
    value = claims[name]
    # (An int is always finite, and math.isfinite() of one too large for a float raises
    # OverflowError: a 400-digit exp was a 500. The bounds below refuse it.)
    if type(value) not in (int, float) or (type(value) is float and not math.isfinite(value)):
        raise _refuse(f"{name} not a NumericDate")
    if not _MIN_TIMESTAMP <= value <= _MAX_TIMESTAMP:
        raise _refuse(f"{name} out of bounds")
    return value


def check_times(claims: dict, *, now: float | None = None) -> int:
    """exp, iat, nbf and auth_time of a verified token against ``now`` (default: the clock);
    returns the original authentication time (``auth_time``, else ``iat``) as whole UNIX
    seconds.

    With leeway L (``settings.JWT_LEEWAY_SECONDS``) and maximum age A
    (``settings.MAX_ID_TOKEN_AGE_SECONDS``), a token is refused (``invalid_grant``) when ``exp
    <= now - L`` ("jwt expired": RFC 7519 4.1.4, now must be before exp), ``iat > now + L``
    or ``nbf > now + L`` (4.1.5, 4.1.6), ``exp < iat``, ``exp - iat > A``, ``now - iat > A +
    L``, ``auth_time`` after ``iat`` (+ L), or the original authentication older than A + L
    (OIDC Core 2, SECURITY-CASES D33).
    """
    now = time.time() if now is None else now
    leeway = settings.JWT_LEEWAY_SECONDS
    max_age = settings.MAX_ID_TOKEN_AGE_SECONDS
    exp = numeric_date(claims, "exp", required=True)
    iat = numeric_date(claims, "iat", required=True)
    nbf = numeric_date(claims, "nbf", required=False)
    auth_time = numeric_date(claims, "auth_time", required=False)
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
    if auth_time is not None and auth_time > min(now, iat) + leeway:
        raise _refuse("auth_time in the future")
    authenticated = int(iat if auth_time is None else auth_time)
    check_authentication_age(authenticated, now=now)
    return authenticated


def check_authentication_age(authenticated: int, *, now: float | None = None) -> None:
    """Refuse (``invalid_grant``) a sign-in older than ``settings.MAX_ID_TOKEN_AGE_SECONDS``
    (plus the leeway): the end of every chain of delegation hops."""
    now = time.time() if now is None else now
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


def _no_duplicate_members(pairs) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise _refuse("duplicate member")
        result[key] = value
    return result


def _segment_object(segment: str, what: str) -> dict:
    """A base64url JSON object segment, decoded strictly (no duplicate member names)."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_members)
    except (binascii.Error, ValueError, RecursionError):
        raise _refuse(f"bad {what}") from None
    if not isinstance(value, dict):
        raise _refuse(f"bad {what}")
    return value


def _check_audience(claims: dict, client_id: str) -> None:
    """OIDC Core 3.1.3.7 points 3-5: aud names the client; azp when aud has several values."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise _refuse("audience mismatch")
    if client_id not in audiences:
        raise _refuse("audience mismatch")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise _refuse("azp missing with several audiences")
    if azp is not None and azp != client_id:
        raise _refuse("azp mismatch")


def id_token_verify(*, tenant: Tenant, source: Application, token: str) -> VerifiedToken:
    """Verify a user's id_token issued to ``source``; return its subject and claims.

    The checks and the sections they follow are listed in the module docstring. Raises
    ``DelegationError("invalid_grant")`` (description "jwt expired" for expiry).
    """
    if not _COMPACT_JWS_RE.match(token):
        raise _refuse("not a compact JWS")
    header_segment, payload_segment, _ = token.split(".")
    header = _segment_object(header_segment, "header")
    _segment_object(payload_segment, "payload")
    algorithm = source.jwt_signature_algorithm
    if header.get("alg") != algorithm:
        raise _refuse("algorithm not allowed")
    if _FORBIDDEN_HEADERS & header.keys():
        raise _refuse("key-bearing header")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise _refuse("not an id_token type")
    if "cty" in header:
        raise _refuse("nested token")
    if source.is_public and algorithm == Application.SigningAlgorithm.HS256:
        # A public client's "secret" lives in the browser or on the device: anyone could have
        # signed this (OIDC Core 10.1). Such rows predate the rule; RS256 fixes them.
        raise _refuse("symmetric token of a public client")
    key = _verification_key(tenant=tenant, source=source, header=header)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=tenant.issuer,
            options={
                "require": ["exp", "iat", "sub", "iss", "aud"],
                # Audience and times are checked below, strictly typed (PyJWT coerces
                # strings, and knows nothing of azp).
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise _refuse("bad signature") from None
    except jwt.InvalidIssuerError:
        raise _refuse("issuer mismatch") from None
    except jwt.PyJWTError:
        raise _refuse("invalid token") from None
    if not isinstance(claims, dict) or claims.get("iss") != tenant.issuer:
        raise _refuse("issuer mismatch")
    if text.contains_control_characters(claims):
        raise _refuse("control character in a claim")
    _check_audience(claims, source.client_id)
    authenticated = check_times(claims)
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

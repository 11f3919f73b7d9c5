"""The JWTs of the sign-in endpoints: id_tokens (per the app's algorithm) and access tokens.

Access tokens are RS256 JWTs signed with the tenant's active key whose only audience is the
tenant's userinfo endpoint; ``verify_access_token`` checks them against the tenant's
verification keys (active and still-valid retired ones) by ``kid``.
"""

import secrets
from datetime import datetime

import jwt
from django.conf import settings

from tenantauth import selectors, signing, text
from tenantauth.models import Application, Tenant, TenantUser
from tenantauth.oidc import claims as claims_table

ACCESS_TOKEN_TYPE = "at+jwt"


def access_token_lifetime() -> int:
    return getattr(settings, "OIDC_ACCESS_TOKEN_LIFETIME_SECONDS", 3600)


def userinfo_url(tenant: Tenant) -> str:
    return tenant.issuer + "userinfo"


def user_claims(*, user: TenantUser, scopes) -> dict:
    """The standard claims the OIDC scopes grant (``claims.SCOPE_CLAIMS``), those present,
    under the claims rule as for delegation tokens (raises ``text.ControlCharacterError``)."""
    return text.copied_claims_check(claims_table.user_claims(user=user, scopes=scopes))


def id_token_build(
    *,
    tenant: Tenant,
    application: Application,
    user: TenantUser,
    scopes: set[str],
    now: int,
    auth_time: datetime | None,
    nonce: str = "",
) -> str:
    claims = {
        "iss": tenant.issuer,
        "sub": user.user_id,
        "aud": application.client_id,
        "iat": now,
        "exp": now + application.jwt_lifetime_seconds,
    }
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())
    if nonce:
        claims["nonce"] = nonce
    claims.update(user_claims(user=user, scopes=scopes))
    return signing.sign_jwt(claims=claims, application=application, tenant=tenant)


def access_token_build(
    *, tenant: Tenant, application: Application, user: TenantUser, scope: str, now: int
) -> str:
    key = tenant.active_signing_key
    if key is None:
        raise signing.KeyUnavailableError("tenant has no active signing key")
    claims = {
        "iss": tenant.issuer,
        "sub": user.user_id,
        "aud": [userinfo_url(tenant)],
        "azp": application.client_id,
        "iat": now,
        "exp": now + access_token_lifetime(),
        "scope": scope,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(
        claims,
        signing.rsa_private_key(key),
        algorithm="RS256",
        headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE},
    )


class InvalidAccessToken(Exception):
    pass


def verify_access_token(*, tenant: Tenant, token: str) -> dict:
    """The claims of a valid access token of this tenant; raises ``InvalidAccessToken``."""
    if not token or len(token) > 8192:
        raise InvalidAccessToken("missing")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken("malformed") from exc
    # Only our own access tokens: an id_token (typ JWT, aud = client) never passes here.
    if header.get("alg") != "RS256" or header.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidAccessToken("wrong type")
    kid = header.get("kid")
    key = selectors.verification_key_get(tenant=tenant, kid=kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidAccessToken("unknown key")
    try:
        return jwt.decode(
            token,
            signing.rsa_public_key(key),
            algorithms=["RS256"],
            audience=userinfo_url(tenant),
            issuer=tenant.issuer,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken("invalid") from exc

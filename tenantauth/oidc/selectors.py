"""Reads for the sign-in endpoints. The tenant is always explicit; secrets are looked up by hash."""

from django.db.models import Min

from tenantauth.crypto import fingerprint
from tenantauth.models import (
    DEFAULT_CONNECTION,
    Application,
    AuthorizationCode,
    Connection,
    RefreshToken,
    Tenant,
    TenantUser,
)

MAX_TOKEN_CHARS = 512


def connection_get(*, tenant: Tenant, name: str | None = None) -> Connection | None:
    """A database connection of this tenant by name (default: the Auth0 default connection)."""
    return Connection.objects.filter(tenant=tenant, name=name or DEFAULT_CONNECTION).first()


def tenant_user_get_by_email(
    *, tenant: Tenant, connection: Connection, email: str
) -> TenantUser | None:
    return TenantUser.objects.filter(
        tenant=tenant, connection=connection, email=email.strip().lower()
    ).first()


def tenant_user_exists(*, tenant: Tenant, connection: Connection, email: str) -> bool:
    return TenantUser.objects.filter(
        tenant=tenant, connection=connection, email=email.strip().lower()
    ).exists()


def authorization_code_get(
    *, tenant: Tenant, application: Application, code: str
) -> AuthorizationCode | None:
    """The code row of this client, whatever its state; another client's code is not found."""
    if not code or len(code) > MAX_TOKEN_CHARS:
        return None
    return (
        AuthorizationCode.objects.select_related("user")
        .filter(tenant=tenant, application=application, code_hash=fingerprint(code))
        .first()
    )


def refresh_token_get(
    *, tenant: Tenant, application: Application, token: str
) -> RefreshToken | None:
    """The refresh-token row of this client, whatever its state (to detect reuse)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return (
        RefreshToken.objects.select_related("user")
        .filter(tenant=tenant, application=application, token_hash=fingerprint(token))
        .first()
    )


def refresh_family_started_at(*, tenant: Tenant, family):
    """When the family's first token was issued: the sign-in that the family descends from."""
    return RefreshToken.objects.filter(tenant=tenant, family=family).aggregate(
        first=Min("created_at")
    )["first"]

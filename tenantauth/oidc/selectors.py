"""Reads for the sign-in endpoints. The tenant is always explicit; secrets are looked up by hash."""

from django.db.models import Min, Q

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
    """The connection's user signing in with ``email``; on a connection that requires
    usernames, an identifier without "@" is looked up as the username (Auth0 accepts either
    as ``username`` of the password grants)."""
    identifier = email.strip().lower()
    users = TenantUser.objects.filter(tenant=tenant, connection=connection)
    if connection.requires_username and identifier and "@" not in identifier:
        return users.filter(username=identifier).first()
    return users.filter(email=identifier).first()


def tenant_user_exists(
    *, tenant: Tenant, connection: Connection, email: str, username: str = ""
) -> bool:
    """Whether the connection already has a user with this email (or this username)."""
    taken = Q(email=email.strip().lower())
    if username:
        taken |= Q(username=username)
    return TenantUser.objects.filter(taken, tenant=tenant, connection=connection).exists()


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

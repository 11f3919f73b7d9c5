"""Reads for tenants, applications, users and keys. The tenant is always explicit."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from tenantauth.models import Application, SigningKey, Tenant, TenantUser


def tenant_get(*, slug: str) -> Tenant | None:
    """The tenant with its active signing key, in one query; None when unknown."""
    return Tenant.objects.select_related("active_signing_key").filter(slug=slug).first()


def application_get(*, tenant: Tenant, client_id: str) -> Application | None:
    """An application of this tenant; another tenant's client_id is simply unknown here."""
    if not client_id:
        return None
    return Application.objects.filter(tenant=tenant, client_id=client_id).first()


def tenant_user_get(*, tenant: Tenant, user_id: str) -> TenantUser | None:
    return TenantUser.objects.filter(tenant=tenant, user_id=user_id).first()


def verification_keys(*, tenant: Tenant) -> QuerySet[SigningKey]:
    """The active key and retired keys still inside their verification window."""
    return SigningKey.objects.filter(tenant=tenant).filter(
        Q(status=SigningKey.Status.ACTIVE)
        | Q(status=SigningKey.Status.RETIRED, verify_until__gt=timezone.now())
    )


def verification_key_get(*, tenant: Tenant, kid: str) -> SigningKey | None:
    """Find a verification key by ``kid`` only within this tenant's own key set."""
    active = tenant.active_signing_key
    if active is not None and active.kid == kid:
        return active
    return verification_keys(tenant=tenant).filter(kid=kid).first()


def refresh_token_get_live(*, tenant: Tenant, application: Application, token: str):
    """The live (unexpired, unrotated, unrevoked) refresh token for this client, with its user.

    Only the hash is looked up; a token of another client or tenant is simply not found.
    """
    from tenantauth.crypto import fingerprint
    from tenantauth.models import RefreshToken

    if not token or len(token) > 512:
        return None
    return (
        RefreshToken.objects.select_related("user")
        .filter(
            tenant=tenant,
            application=application,
            token_hash=fingerprint(token),
            rotated_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )

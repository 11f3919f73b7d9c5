"""Writes for tenants, memberships, applications, users and keys.

Each function takes the tenant explicitly, runs in one transaction and records an audit event
for changes of security settings in that same transaction.
"""

import re
import secrets
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenantauth import crypto, signing
from tenantauth.models import (
    DEFAULT_CONNECTION,
    Application,
    Connection,
    Membership,
    SigningKey,
    Tenant,
    TenantUser,
)

CLIENT_SECRET_BYTES = 48  # 384 bits of randomness, above the 256-bit floor.
_CLIENT_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _audit(*, tenant, type, actor=None, object_repr="", details=None):
    from delegation.models import AuditEvent

    AuditEvent.objects.create(
        tenant=tenant,
        type=type,
        actor=actor if actor is not None and actor.is_authenticated else None,
        object_repr=object_repr[:200],
        details=details or {},
    )


def generate_client_id() -> str:
    return "".join(secrets.choice(_CLIENT_ID_ALPHABET) for _ in range(32))


def generate_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def parse_client_id_list(text: str) -> list[str]:
    """Split an Allowed APPs / APIs entry on commas, whitespace and newlines; keep order."""
    seen: dict[str, None] = {}
    for item in re.split(r"[,\s]+", text or ""):
        if item:
            seen.setdefault(item, None)
    return list(seen)


def validate_allowed_clients(*, tenant: Tenant, client_ids: list[str]) -> list[str]:
    """Every entry must name an application of this same tenant."""
    known = set(
        Application.objects.filter(tenant=tenant, client_id__in=client_ids).values_list(
            "client_id", flat=True
        )
    )
    unknown = [c for c in client_ids if c not in known]
    if unknown:
        raise ValidationError(
            "Select a valid choice. %(ids)s is not an application of this tenant.",
            code="invalid_choice",
            params={"ids": ", ".join(unknown[:5])},
        )
    return client_ids


@transaction.atomic
def tenant_create(*, slug: str, name: str, **fields) -> Tenant:
    tenant = Tenant.objects.create(slug=slug, name=name, **fields)
    Connection.objects.create(tenant=tenant, name=DEFAULT_CONNECTION)
    signing_key_create(tenant=tenant)
    return tenant


TENANT_SECURITY_FIELDS = (
    "delegation_enabled",
    "delegation_rate_limit",
    "empty_allowlist_means_all",
    "audit_retention_days",
)


@transaction.atomic
def tenant_update(*, tenant: Tenant, actor=None, **changes) -> Tenant:
    """Change a tenant's settings; changes of its delegation settings are audited."""
    stored = Tenant.objects.select_for_update().get(pk=tenant.pk)
    changed = {
        field: [getattr(stored, field), value]
        for field, value in changes.items()
        if getattr(stored, field) != value
    }
    for field, value in changes.items():
        setattr(stored, field, value)
    stored.full_clean()
    stored.save()
    security = {f: v for f, v in changed.items() if f in TENANT_SECURITY_FIELDS}
    if security:
        _audit(
            tenant=stored,
            type="settings_changed",
            actor=actor,
            object_repr=f"tenant {stored.slug}",
            details={"changes": security},
        )
    return stored


def _new_signing_key(*, tenant: Tenant, private_key) -> SigningKey:
    jwk = signing.public_jwk(private_key.public_key())
    kid = signing.jwk_thumbprint(jwk)
    return SigningKey.objects.create(
        tenant=tenant,
        kid=kid,
        status=SigningKey.Status.ACTIVE,
        private_key_ciphertext=crypto.encrypt(signing.private_key_to_pem(private_key)),
        public_jwk={**jwk, "kid": kid, "use": "sig", "alg": "RS256"},
    )


@transaction.atomic
def signing_key_create(*, tenant: Tenant, private_key_pem: str | None = None) -> SigningKey:
    """Give a tenant without a key its first active key."""
    private_key = (
        signing.load_rsa_private_pem(private_key_pem)
        if private_key_pem
        else signing.generate_rsa_private_key()
    )
    key = _new_signing_key(tenant=tenant, private_key=private_key)
    Tenant.objects.filter(pk=tenant.pk).update(active_signing_key=key)
    tenant.active_signing_key = key
    return key


class DuplicateSigningKeyError(ValidationError):
    """The imported key is already one of this tenant's keys."""


@transaction.atomic
def signing_key_rotate(
    *,
    tenant: Tenant,
    actor=None,
    overlap: timedelta | None = None,
    private_key_pem: str | None = None,
):
    """Make a new key active; the old one keeps verifying (and stays in JWKS) for ``overlap``.

    The new key is generated, or imported from ``private_key_pem`` (RSA, >= 2048 bits). The
    default overlap is the longest JWT lifetime of the tenant's applications, so every token
    signed by the old key can still be verified until it expires.
    """
    private_key = (
        signing.load_rsa_private_pem(private_key_pem)
        if private_key_pem
        else signing.generate_rsa_private_key()
    )
    kid = signing.jwk_thumbprint(signing.public_jwk(private_key.public_key()))
    caller_tenant = tenant
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if SigningKey.objects.filter(tenant=tenant, kid=kid).exists():
        raise DuplicateSigningKeyError("This key is already one of the tenant's signing keys.")
    if overlap is None:
        longest = max(
            Application.objects.filter(tenant=tenant).values_list(
                "jwt_lifetime_seconds", flat=True
            ),
            default=36000,
        )
        overlap = timedelta(seconds=longest)
    now = timezone.now()
    old = list(SigningKey.objects.filter(tenant=tenant, status=SigningKey.Status.ACTIVE))
    SigningKey.objects.filter(tenant=tenant, status=SigningKey.Status.ACTIVE).update(
        status=SigningKey.Status.RETIRED, retired_at=now, verify_until=now + overlap
    )
    key = _new_signing_key(tenant=tenant, private_key=private_key)
    Tenant.objects.filter(pk=tenant.pk).update(active_signing_key=key)
    caller_tenant.active_signing_key = key
    _audit(
        tenant=tenant,
        type="key_rotated",
        actor=actor,
        object_repr=f"signing key {key.kid}",
        details={
            "new_kid": key.kid,
            "retired_kids": [k.kid for k in old],
            "imported": bool(private_key_pem),
        },
    )
    return key


@transaction.atomic
def application_create(
    *,
    tenant: Tenant,
    name: str,
    app_type: str = Application.AppType.REGULAR_WEB,
    client_secret: str | None = None,
    allowed_clients: list[str] | None = None,
    actor=None,
    **fields,
) -> Application:
    secret = client_secret or generate_client_secret()
    if len(secret.encode()) < signing.MIN_HS256_SECRET_BYTES:
        raise ValidationError("A client secret must be at least 32 bytes long.")
    app = Application(
        tenant=tenant,
        name=name,
        app_type=app_type,
        client_id=generate_client_id(),
        client_secret_ciphertext=crypto.encrypt(secret),
        client_secret_fingerprint=crypto.fingerprint(secret),
        allowed_clients=validate_allowed_clients(tenant=tenant, client_ids=allowed_clients or []),
        **fields,
    )
    app.full_clean()
    app.save()
    return app


@transaction.atomic
def application_update(*, application: Application, actor=None, **changes) -> Application:
    """Apply settings changes; allow-list and security changes are audited."""
    tenant = application.tenant
    if "allowed_clients" in changes:
        changes["allowed_clients"] = validate_allowed_clients(
            tenant=tenant, client_ids=changes["allowed_clients"]
        )
    security_fields = {
        "allowed_clients",
        "jwt_signature_algorithm",
        "oidc_conformant",
        "grant_types",
        "is_active",
        "jwt_lifetime_seconds",
        "callback_urls",
    }
    before = {f: getattr(application, f) for f in changes}
    for field, value in changes.items():
        setattr(application, field, value)
    application.full_clean()
    application.save()
    changed = {f: [before[f], changes[f]] for f in changes if before[f] != changes[f]}
    if "allowed_clients" in changed:
        _audit(
            tenant=tenant,
            type="allowlist_changed",
            actor=actor,
            object_repr=str(application),
            details={
                "client_id": application.client_id,
                "allowed_clients": changed.pop("allowed_clients"),
            },
        )
    security_changed = {f: v for f, v in changed.items() if f in security_fields}
    if security_changed:
        _audit(
            tenant=tenant,
            type="settings_changed",
            actor=actor,
            object_repr=str(application),
            details={"client_id": application.client_id, "changes": security_changed},
        )
    return application


@transaction.atomic
def application_rotate_secret(
    *, application: Application, actor=None, secret: str | None = None
) -> str:
    """Replace the client secret (random unless one of >= 256 bits is given); audited."""
    secret = secret or generate_client_secret()
    if len(secret.encode()) < signing.MIN_HS256_SECRET_BYTES:
        raise ValidationError("A client secret must be at least 32 bytes long.")
    application.client_secret_ciphertext = crypto.encrypt(secret)
    application.client_secret_fingerprint = crypto.fingerprint(secret)
    application.save(
        update_fields=["client_secret_ciphertext", "client_secret_fingerprint", "updated_at"]
    )
    _audit(
        tenant=application.tenant,
        type="secret_rotated",
        actor=actor,
        object_repr=str(application),
        details={"client_id": application.client_id},
    )
    return secret


@transaction.atomic
def application_reveal_secret(*, application: Application, actor) -> str:
    """Return the plaintext secret to an authorised admin, recording that it was shown."""
    _audit(
        tenant=application.tenant,
        type="secret_revealed",
        actor=actor,
        object_repr=str(application),
        details={"client_id": application.client_id},
    )
    return application.client_secret()


def membership_create(*, tenant: Tenant, user, role: str = Membership.Role.ADMIN) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership


def generate_user_id() -> str:
    return "auth0|" + secrets.token_hex(12)


@transaction.atomic
def tenant_user_create(
    *,
    tenant: Tenant,
    email: str,
    password: str,
    connection: Connection | None = None,
    **fields,
) -> TenantUser:
    connection = connection or Connection.objects.get(tenant=tenant, name=DEFAULT_CONNECTION)
    user = TenantUser(
        tenant=tenant,
        connection=connection,
        user_id=generate_user_id(),
        email=email.strip().lower(),
        password=make_password(password),
        **fields,
    )
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def tenant_user_update(*, user: TenantUser, **changes) -> TenantUser:
    """Change a user's profile, metadata or blocked flag (never the password: see below)."""
    if "password" in changes or "user_id" in changes:
        raise ValueError("user_id never changes; passwords go through tenant_user_set_password")
    for field, value in changes.items():
        setattr(user, field, value)
    if "email" in changes:
        user.email = user.email.strip().lower()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def tenant_user_set_password(*, user: TenantUser, password: str) -> None:
    user.password = make_password(password)
    user.save(update_fields=["password", "updated_at"])


def tenant_user_set_blocked(*, user: TenantUser, blocked: bool) -> None:
    user.blocked = blocked
    user.save(update_fields=["blocked", "updated_at"])


def reencrypt_all_secrets() -> dict[str, int]:
    """Move every stored ciphertext to the newest field-encryption key."""
    counts = {"application": 0, "signing_key": 0}
    with transaction.atomic():
        for app in Application.objects.select_for_update().only("pk", "client_secret_ciphertext"):
            app.client_secret_ciphertext = crypto.rotate(app.client_secret_ciphertext)
            app.save(update_fields=["client_secret_ciphertext"])
            counts["application"] += 1
        for key in SigningKey.objects.select_for_update().only("pk", "private_key_ciphertext"):
            key.private_key_ciphertext = crypto.rotate(key.private_key_ciphertext)
            key.save(update_fields=["private_key_ciphertext"])
            counts["signing_key"] += 1
        for model, fields in _extra_encrypted_fields():
            for row in model.objects.select_for_update().only("pk", *fields):
                for field in fields:
                    value = getattr(row, field)
                    if value:
                        setattr(row, field, crypto.rotate(value))
                row.save(update_fields=fields)
                counts[model._meta.label_lower] = counts.get(model._meta.label_lower, 0) + 1
    signing.clear_caches()
    return counts


def _extra_encrypted_fields():
    """Models of other apps (add-ons) declare ``ENCRYPTED_FIELDS`` to join re-encryption."""
    from django.apps import apps

    for model in apps.get_models():
        fields = getattr(model, "ENCRYPTED_FIELDS", None)
        if fields:
            yield model, list(fields)

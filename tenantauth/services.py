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
    """Register an application of ``tenant`` with a random client ID and secret.

    ``allowed_clients`` must name applications of the same tenant (``ValidationError``
    otherwise); ``client_secret``, when given, must have at least 32 bytes. With an ``actor``
    the creation is audited (``application_created``, with the initial allow-list).
    """
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
    if actor is not None:
        # Made by someone (the admin, an API caller): recorded with its initial allow-list.
        # Set-up code without an actor (the demo, fixtures) leaves no audit row.
        _audit(
            tenant=tenant,
            type="application_created",
            actor=actor,
            object_repr=str(app),
            details={
                "client_id": app.client_id,
                "name": app.name,
                "app_type": app.app_type,
                "allowed_clients": list(app.allowed_clients),
            },
        )
    return app


# List-valued settings whose order carries no meaning: an edit that only reorders them (or
# re-enters them with other line endings or separators) is no change.
UNORDERED_LIST_FIELDS = (
    "allowed_clients",
    "callback_urls",
    "allowed_origins",
    "allowed_logout_urls",
)


def same_entries(old, new) -> bool:
    """Whether two list settings hold the same entries, whatever their order."""
    return set(old or []) == set(new or [])


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
    for field in UNORDERED_LIST_FIELDS:
        if field in changes and same_entries(before[field], changes[field]):
            changes[field] = before[field]  # keep the stored order: nothing changed
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


class ApplicationDeleteRefused(ValidationError):
    """Deleting would widen another application's Allowed APPs / APIs (see below)."""


def _allowlist_effects(*, tenant: Tenant, client_ids: set[str], for_update: bool = False):
    """The applications (outside ``client_ids``) whose allow-list names one of them.

    Returns ``(references, widened)``: ``references`` is a list of ``(application,
    remaining_list)``; ``widened`` the subset whose list would become empty while the tenant
    reads an empty list as "all applications" (Auth0's legacy behaviour).
    """
    apps = Application.objects.filter(tenant=tenant).exclude(client_id__in=client_ids)
    if for_update:
        apps = apps.select_for_update()
    references, widened = [], []
    # JSON containment is not portable (SQLite has none); a tenant's applications are few.
    for app in apps.order_by("name"):
        if client_ids.intersection(app.allowed_clients or []):
            remaining = [c for c in app.allowed_clients if c not in client_ids]
            references.append((app, remaining))
            if not remaining and tenant.empty_allowlist_means_all:
                widened.append(app)
    return references, widened


def application_delete_effects(*, tenant: Tenant, applications) -> dict:
    """What deleting ``applications`` would do to the tenant's allow-lists (no writes).

    ``{"referenced_by": [Application, ...], "widened": [Application, ...]}``: the applications
    whose Allowed APPs / APIs lose an entry, and among them those whose list would become
    empty on a tenant that reads an empty list as all (such a delete is refused).
    """
    ids = {app.client_id for app in applications}
    references, widened = _allowlist_effects(tenant=tenant, client_ids=ids)
    return {"referenced_by": [app for app, _ in references], "widened": widened}


@transaction.atomic
def applications_delete(*, tenant: Tenant, applications, actor=None) -> list[Application]:
    """Delete applications of ``tenant`` and drop them from every allow-list, in one transaction.

    Each application that listed a deleted one gets an ``allowlist_changed`` event, each deleted
    application an ``application_deleted`` event naming where it was removed from. Returns the
    applications whose allow-list changed. Raises ``ApplicationDeleteRefused`` (nothing
    changed) when a list would become empty on a tenant that reads an empty list as "all
    applications": deleting would then open that application to everybody.
    """
    applications = [app for app in applications if app.tenant_id == tenant.pk]
    ids = {app.client_id for app in applications}
    if not ids:
        return []
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    references, widened = _allowlist_effects(tenant=tenant, client_ids=ids, for_update=True)
    if widened:
        raise ApplicationDeleteRefused(
            "Deleting would leave the Allowed APPs / APIs of %(names)s empty, and this tenant "
            "reads an empty list as all applications. Change those lists first.",
            code="allowlist_would_widen",
            params={"names": ", ".join(app.name for app in widened)},
        )
    removed_from: dict[str, list[dict]] = {client_id: [] for client_id in ids}
    for app, remaining in references:
        before = list(app.allowed_clients)
        app.allowed_clients = remaining
        app.save(update_fields=["allowed_clients", "updated_at"])
        for client_id in ids.intersection(before):
            removed_from[client_id].append({"client_id": app.client_id, "name": app.name})
        _audit(
            tenant=tenant,
            type="allowlist_changed",
            actor=actor,
            object_repr=str(app),
            details={
                "client_id": app.client_id,
                "allowed_clients": [before, remaining],
                "reason": "application deleted",
            },
        )
    for app in applications:
        _audit(
            tenant=tenant,
            type="application_deleted",
            actor=actor,
            object_repr=str(app),
            details={
                "client_id": app.client_id,
                "name": app.name,
                "app_type": app.app_type,
                "removed_from_allowlists": removed_from[app.client_id],
            },
        )
    Application.objects.filter(tenant=tenant, pk__in=[app.pk for app in applications]).delete()
    return [app for app, _ in references]


def application_delete(*, application: Application, actor=None) -> list[Application]:
    """Delete one application; see ``applications_delete``."""
    return applications_delete(tenant=application.tenant, applications=[application], actor=actor)


def membership_create(*, tenant: Tenant, user, role: str = Membership.Role.ADMIN) -> Membership:
    """Give ``user`` a role in ``tenant`` (set-up and platform use: not audited)."""
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership


class MembershipError(ValidationError):
    """A membership change that is not allowed (unknown account, last admin, ...)."""


ONE_TIME_PASSWORD_BYTES = 15  # 120 bits, shown once to the inviting admin


def _member_repr(user) -> str:
    return f"{user.get_username()} (platform user {user.pk})"


def membership_invite_check(*, tenant: Tenant, username: str, create_account: bool) -> None:
    """Raise ``MembershipError`` when ``membership_invite`` would refuse (see there)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if create_account:
        if User.objects.filter(username__iexact=username).exists():
            raise MembershipError(
                "An account with this username exists already; attach it instead."
            )
        return
    user = User.objects.filter(username=username).first()
    if user is None or user.is_superuser or not user.is_active:
        raise MembershipError("No eligible account has this username.")
    if Membership.objects.filter(tenant=tenant, user=user).exists():
        raise MembershipError("This account is a member of this tenant already.")


@transaction.atomic
def membership_invite(
    *,
    tenant: Tenant,
    actor,
    username: str,
    role: str,
    create_account: bool,
    email: str = "",
) -> tuple[Membership, str | None]:
    """Make a platform account an admin or auditor of ``tenant``; audited (``member_added``).

    ``create_account=True`` creates the account (staff, not superuser) with a random one-time
    password, returned once as the second item; otherwise the existing account ``username``
    is attached and the second item is None. Never platform staff (superusers), never an
    inactive account, never a second membership in the same tenant: each raises
    ``MembershipError`` with a message safe to show (unknown and ineligible accounts get the
    same one, so the form does not tell which accounts exist elsewhere).
    """
    from django.contrib.auth import get_user_model

    if role not in Membership.Role.values:
        raise MembershipError("Choose admin or auditor.")
    User = get_user_model()
    username = username.strip()
    password = None
    membership_invite_check(tenant=tenant, username=username, create_account=create_account)
    if create_account:
        password = secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)
        user = User(username=username, email=email.strip(), is_staff=True, is_active=True)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
    else:
        user = User.objects.get(username=username)
        if not user.is_staff:
            # The admin site admits staff accounts only; membership alone would not let in.
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    _audit(
        tenant=tenant,
        type="member_added",
        actor=actor,
        object_repr=_member_repr(user),
        details={
            "user": user.pk,
            "username": user.get_username(),
            "role": role,
            "account_created": create_account,
        },
    )
    return membership, password


def membership_is_last_admin(*, membership: Membership) -> bool:
    """Whether removing or demoting ``membership`` would leave its tenant without an admin."""
    if membership.role != Membership.Role.ADMIN:
        return False
    return not (
        Membership.objects.filter(tenant_id=membership.tenant_id, role=Membership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )


def _lock_admins(tenant: Tenant) -> list[int]:
    return list(
        Membership.objects.select_for_update()
        .filter(tenant=tenant, role=Membership.Role.ADMIN)
        .values_list("pk", flat=True)
    )


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor) -> Membership:
    """Change a member's role; the tenant always keeps one admin. Audited when it changed."""
    if role not in Membership.Role.values:
        raise MembershipError("Choose admin or auditor.")
    stored = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if stored.role == role:
        return stored
    admins = _lock_admins(stored.tenant)
    if stored.role == Membership.Role.ADMIN and admins == [stored.pk]:
        raise MembershipError("A tenant keeps at least one admin: add another admin first.")
    before = stored.role
    stored.role = role
    stored.save(update_fields=["role"])
    _audit(
        tenant=stored.tenant,
        type="member_role_changed",
        actor=actor,
        object_repr=_member_repr(stored.user),
        details={
            "user": stored.user_id,
            "username": stored.user.get_username(),
            "role": [before, role],
        },
    )
    return stored


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    """Remove a member from the tenant (the account stays); never the last admin. Audited."""
    stored = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    admins = _lock_admins(stored.tenant)
    if stored.role == Membership.Role.ADMIN and admins == [stored.pk]:
        raise MembershipError("A tenant keeps at least one admin: add another admin first.")
    _audit(
        tenant=stored.tenant,
        type="member_removed",
        actor=actor,
        object_repr=_member_repr(stored.user),
        details={
            "user": stored.user_id,
            "username": stored.user.get_username(),
            "role": stored.role,
        },
    )
    stored.delete()


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

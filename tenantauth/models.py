"""Tenants, the people who administer them, their applications, end users and signing keys.

Every tenant-owned row carries its tenant and every unique constraint starts with it. Secrets we
must use again (client secrets, private keys) are stored only as ciphertext (see ``crypto``);
rows expose them through explicit methods, never through a field a form could render.
"""

import uuid

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from tenantauth import crypto, text

DEFAULT_CONNECTION = "Username-Password-Authentication"

GRANT_PASSWORD = "password"
GRANT_PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"
GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_IMPLICIT = "implicit"
GRANT_DELEGATION_ID_TOKEN = "http://auth0.com/oauth/legacy/grant-type/delegation/id_token"
GRANT_DELEGATION_REFRESH_TOKEN = "http://auth0.com/oauth/legacy/grant-type/delegation/refresh_token"
GRANT_TYPE_CHOICES = [
    (GRANT_AUTHORIZATION_CODE, "Authorization Code"),
    (GRANT_IMPLICIT, "Implicit"),
    (GRANT_REFRESH_TOKEN, "Refresh Token"),
    (GRANT_CLIENT_CREDENTIALS, "Client Credentials"),
    (GRANT_PASSWORD, "Password"),
    (GRANT_PASSWORD_REALM, "Password Realm"),
    (GRANT_DELEGATION_ID_TOKEN, "Legacy: Delegation (id_token)"),
    (GRANT_DELEGATION_REFRESH_TOKEN, "Legacy: Delegation (refresh_token)"),
]


CROSS_TENANT = "Select a valid choice. That choice belongs to another tenant."


class ExcludeAwareCleanMixin:
    """``clean()`` may report errors on fields a form does not show (a ModelForm validates
    with ``exclude``; Django raises ``ValueError`` for an error keyed to a field the form
    lacks): such errors become non-field errors, and text checks skip excluded fields."""

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        self._clean_exclude = set(exclude or ())
        try:
            super().full_clean(exclude, validate_unique, validate_constraints)
        finally:
            del self._clean_exclude

    def _excluded(self) -> set:
        return getattr(self, "_clean_exclude", set())

    def _raise_errors(self, errors: dict[str, str]) -> None:
        if not errors:
            return
        excluded = self._excluded()
        keyed: dict[str, list[str]] = {}
        for field, message in errors.items():
            keyed.setdefault(NON_FIELD_ERRORS if field in excluded else field, []).append(message)
        raise ValidationError(keyed)


def _is_tenant_owned(model) -> bool:
    try:
        field = model._meta.get_field("tenant")
    except FieldDoesNotExist:
        return False
    return field.is_relation and field.related_model is Tenant


class TenantOwnedModel(ExcludeAwareCleanMixin, models.Model):
    """A row of one tenant whose references stay inside that tenant.

    ``clean()`` (run by ``full_clean``, hence by every service and every admin form) refuses
    a foreign key to another tenant's row, and text holding control characters
    (``tenantauth.text``) in any field a person edits. Django has no composite foreign keys,
    so the same-tenant rule lives here and in the services that build rows without a form
    (``validate_same_tenant``), rather than in the schema.
    """

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        self._raise_errors({**self.text_errors(), **self.cross_tenant_errors()})

    def validate_same_tenant(self) -> None:
        """Raise ``ValidationError`` when a reference points into another tenant."""
        errors = self.cross_tenant_errors()
        if errors:
            raise ValidationError(errors)

    def cross_tenant_errors(self) -> dict[str, str]:
        errors = {}
        tenant_id = self.tenant_id
        if tenant_id is None:
            return errors
        for field in self._meta.concrete_fields:
            if not field.many_to_one or field.name == "tenant":
                continue
            if not _is_tenant_owned(field.related_model):
                continue
            target_id = getattr(self, field.attname)
            if target_id is None:
                continue
            if field.is_cached(self):
                other = getattr(self, field.name).tenant_id
            else:
                other = (
                    field.related_model._default_manager.filter(pk=target_id)
                    .values_list("tenant_id", flat=True)
                    .first()
                )
            if other != tenant_id:
                errors[field.name] = CROSS_TENANT
        return errors

    def text_errors(self) -> dict[str, str]:
        errors = {}
        excluded = self._excluded()
        for field in self._meta.concrete_fields:
            if not field.editable or field.name in excluded:
                continue
            value = getattr(self, field.attname)
            if isinstance(field, (models.CharField, models.TextField, models.JSONField)) and (
                text.contains_control_characters(value)
            ):
                errors[field.name] = (
                    "Control characters (such as NUL, tab or line breaks) are not allowed here."
                )
        return errors


class Tenant(ExcludeAwareCleanMixin, models.Model):
    slug = models.SlugField(
        max_length=63,
        unique=True,
        help_text="Appears in every tenant URL (/t/<slug>/) and in the issuer. Cannot change.",
    )
    name = models.CharField(max_length=200)
    delegation_enabled = models.BooleanField(
        default=True, help_text="When off, /delegation answers 404 for this tenant."
    )
    delegation_rate_limit = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Delegation requests allowed per minute for one (client, user, IP).",
    )
    empty_allowlist_means_all = models.BooleanField(
        default=False,
        help_text=(
            "Auth0 legacy behaviour: an application with an empty Allowed APPs / APIs list "
            "accepts delegation from every application of the tenant. Off (secure default): "
            "an empty list accepts none but the application itself."
        ),
    )
    active_signing_key = models.ForeignKey(
        "SigningKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="The RS256 key that signs new tokens (kept here so one query finds it).",
    )
    audit_retention_days = models.PositiveIntegerField(
        "audit retention (days)",
        null=True,
        blank=True,
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(36500)],
        help_text=(
            "Audit rows older than this may be removed by `manage.py audit_retention`, once "
            "they are sealed and exported. Empty: keep forever."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug

    @property
    def issuer(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/t/{self.slug}/"

    def clean(self):
        super().clean()
        errors = {}
        if "name" not in self._excluded() and text.has_control_characters(self.name or ""):
            errors["name"] = "Control characters are not allowed here."
        key_id = self.active_signing_key_id
        if key_id is not None and self.pk is not None:
            owner = SigningKey.objects.filter(pk=key_id).values_list("tenant_id", flat=True).first()
            if owner != self.pk:
                errors["active_signing_key"] = CROSS_TENANT
        self._raise_errors(errors)


class Membership(TenantOwnedModel):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin (configure)"
        AUDITOR = "auditor", "Auditor (read-only)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_tenant_user_uniq")
        ]

    def __str__(self):
        return f"{self.user} @ {self.tenant} ({self.role})"


class Application(TenantOwnedModel):
    class AppType(models.TextChoices):
        REGULAR_WEB = "regular_web", "Regular Web Application"
        SPA = "spa", "Single Page Application"
        NATIVE = "native", "Native"
        M2M = "non_interactive", "Machine to Machine"
        API = "resource_server", "API (backend)"

    class SigningAlgorithm(models.TextChoices):
        HS256 = "HS256", "HS256 (client secret)"
        RS256 = "RS256", "RS256 (tenant signing key)"

    PUBLIC_TYPES = (AppType.SPA, AppType.NATIVE)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="applications")
    name = models.CharField(max_length=200)
    app_type = models.CharField(
        "application type", max_length=32, choices=AppType.choices, default=AppType.REGULAR_WEB
    )
    client_id = models.CharField(max_length=64, editable=False)
    client_secret_ciphertext = models.TextField(
        editable=False, help_text="Fernet ciphertext of the client secret; never plaintext."
    )
    client_secret_fingerprint = models.CharField(
        max_length=64, editable=False, help_text="SHA-256 of the client secret, for display."
    )
    is_active = models.BooleanField(
        default=True, help_text="A disabled application can neither sign in users nor delegate."
    )
    jwt_lifetime_seconds = models.PositiveIntegerField(
        "JWT expiration (seconds)",
        default=36000,
        validators=[MinValueValidator(60), MaxValueValidator(30 * 24 * 3600)],
        help_text=(
            "Lifetime of id_tokens and delegation tokens issued for this application. "
            "Shorter is safer: an hour (3600) or less is recommended."
        ),
    )
    jwt_signature_algorithm = models.CharField(
        "JsonWebToken signature algorithm",
        max_length=8,
        choices=SigningAlgorithm.choices,
        default=SigningAlgorithm.RS256,
        help_text="RS256 (recommended, required for Single Page and Native applications) signs "
        "with the tenant key, which anyone can verify through the JWKS; HS256 signs with this "
        "application's client secret, so only holders of that secret can verify.",
    )
    oidc_conformant = models.BooleanField(
        "OIDC conformant",
        default=False,
        help_text="An OIDC-conformant application can be neither source nor target of "
        "legacy app-to-app delegation.",
    )
    grant_types = models.JSONField(
        default=list,
        blank=True,
        help_text="Grant types this application may use, including legacy delegation grants.",
    )
    allowed_clients = models.JSONField(
        "Allowed APPs / APIs",
        default=list,
        blank=True,
        help_text="Client IDs of this tenant's applications allowed to request delegation "
        "tokens for this application.",
    )
    callback_urls = models.JSONField("allowed callback URLs", default=list, blank=True)
    allowed_origins = models.JSONField(
        "Allowed Web Origins",
        default=list,
        blank=True,
        help_text="Origins (scheme://host[:port]) whose browser code may call oauth/token, "
        "delegation and userinfo (CORS) and receive response_mode=web_message answers, besides "
        "the origins of the callback URLs.",
    )
    allowed_logout_urls = models.JSONField("allowed logout URLs", default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "client_id"], name="application_tenant_client_id_uniq"
            ),
            models.UniqueConstraint(fields=["tenant", "name"], name="application_tenant_name_uniq"),
            models.CheckConstraint(
                condition=Q(jwt_signature_algorithm__in=["HS256", "RS256"]),
                name="application_jwt_alg_valid",
            ),
        ]

    PUBLIC_CLIENT_HS256 = (
        "Single Page and Native applications must use RS256: HS256 would sign their tokens "
        "with the client secret, which a browser or a device cannot keep secret, so anyone "
        "could forge tokens (OpenID Connect Core 1.0, section 10.1)."
    )

    def __str__(self):
        return f"{self.name} ({self.client_id})"

    def clean(self):
        """Model-level rules ``full_clean`` (and so every service write) enforces.

        A public client (SPA, native) cannot sign with HS256: its "secret" ships inside the
        app (OIDC Core 10.1). Kept as a validation rather than a database constraint so rows
        created before the rule keep their setting until someone edits them.
        """
        super().clean()
        if self.is_public and self.jwt_signature_algorithm == self.SigningAlgorithm.HS256:
            raise ValidationError({"jwt_signature_algorithm": self.PUBLIC_CLIENT_HS256})

    @property
    def is_public(self) -> bool:
        return self.app_type in self.PUBLIC_TYPES

    def client_secret(self) -> str:
        """The plaintext secret. Call only where it is used or explicitly revealed."""
        return crypto.decrypt(self.client_secret_ciphertext)

    def has_grant(self, grant_type: str) -> bool:
        return grant_type in (self.grant_types or [])

    def cross_tenant_errors(self) -> dict[str, str]:
        errors = super().cross_tenant_errors()
        wanted = [c for c in (self.allowed_clients or []) if isinstance(c, str)]
        if len(wanted) != len(self.allowed_clients or []):
            errors["allowed_clients"] = "Allowed APPs / APIs must be client IDs."
        elif wanted and self.tenant_id is not None:
            known = set(
                Application.objects.filter(
                    tenant_id=self.tenant_id, client_id__in=wanted
                ).values_list("client_id", flat=True)
            )
            # The application itself is always allowed (and may not be saved yet).
            if any(c not in known and c != self.client_id for c in wanted):
                errors["allowed_clients"] = CROSS_TENANT
        return errors


class Connection(TenantOwnedModel):
    """A tenant's database connection; users sign in against one by name (``realm``)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=128, default=DEFAULT_CONNECTION)
    password_min_length = models.PositiveIntegerField(
        default=8, validators=[MinValueValidator(8), MaxValueValidator(128)]
    )
    requires_username = models.BooleanField(
        default=False,
        help_text="Users of this connection have a username besides their email address; "
        "sign-up then requires one (Auth0's requires_username).",
    )
    username_min_length = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(128)]
    )
    username_max_length = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(128)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="connection_tenant_name_uniq"),
            models.CheckConstraint(
                condition=Q(username_min_length__lte=F("username_max_length")),
                name="connection_username_lengths_ordered",
                violation_error_message="The minimum username length exceeds the maximum.",
            ),
        ]

    def __str__(self):
        return f"{self.tenant.slug}/{self.name}"


class TenantUser(TenantOwnedModel):
    """An end user of a tenant's database connection (not a platform account)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="users")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="users")
    user_id = models.CharField(max_length=128, editable=False, help_text="e.g. auth0|<id>")
    email = models.EmailField(max_length=254)
    email_verified = models.BooleanField(default=False)
    username = models.CharField(
        max_length=128,
        blank=True,
        help_text="Only for connections that require a username; unique in the connection.",
    )
    # Auth0's user profile limits: name and nickname 300 characters, given and family 150.
    name = models.CharField(max_length=300, blank=True)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    nickname = models.CharField(max_length=300, blank=True)
    picture = models.URLField(max_length=500, blank=True)
    user_metadata = models.JSONField(default=dict, blank=True)
    app_metadata = models.JSONField(default=dict, blank=True)
    blocked = models.BooleanField(
        default=False, help_text="A blocked user can neither sign in nor be delegated for."
    )
    password = models.CharField(max_length=256, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_login = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user_id"], name="tenantuser_user_id_uniq"),
            models.UniqueConstraint(
                fields=["tenant", "connection", "email"], name="tenantuser_connection_email_uniq"
            ),
            models.UniqueConstraint(
                fields=["tenant", "connection", "username"],
                condition=~Q(username=""),
                name="tenantuser_connection_username_uniq",
            ),
        ]

    def __str__(self):
        return self.email


class SigningKey(TenantOwnedModel):
    """An RS256 key pair of a tenant. One active; retired keys still verify until they expire."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired (verifies only)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="signing_keys")
    kid = models.CharField(max_length=64, editable=False, help_text="RFC 7638 JWK thumbprint.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    private_key_ciphertext = models.TextField(
        editable=False, help_text="Fernet ciphertext of the PEM private key; never plaintext."
    )
    public_jwk = models.JSONField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    verify_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="A retired key is published in the JWKS and verifies tokens until this time.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kid"], name="signingkey_tenant_kid_uniq"),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(status="active"),
                name="signingkey_one_active_per_tenant",
            ),
        ]

    def __str__(self):
        return f"{self.tenant.slug}:{self.kid[:12]} ({self.status})"

    def private_key_pem(self) -> str:
        return crypto.decrypt(self.private_key_ciphertext)


class RefreshToken(TenantOwnedModel):
    """A refresh token, stored only as its SHA-256, bound to one client and one user.

    Tokens rotate on use: the used one is marked ``rotated_at`` and a new one joins the same
    ``family``. Presenting a rotated token again revokes the whole family (reuse detection).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="refresh_tokens")
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="refresh_tokens"
    )
    user = models.ForeignKey(TenantUser, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, editable=False)
    family = models.UUIDField(editable=False, help_text="Tokens rotated from one grant.")
    scope = models.CharField(max_length=1024, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "token_hash"], name="refreshtoken_tenant_hash_uniq"
            )
        ]
        indexes = [models.Index(fields=["tenant", "family"], name="refreshtoken_family_idx")]

    def __str__(self):
        return f"refresh token {self.token_hash[:12]}…"


class AuthorizationCode(TenantOwnedModel):
    """A one-time authorization code of the code flow, stored only as its SHA-256.

    A code lives about a minute and is spent by the first exchange (``used_at``). Presenting it
    again revokes the refresh-token family it produced (RFC 6749 section 4.1.2).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="authorization_codes")
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="authorization_codes"
    )
    user = models.ForeignKey(
        TenantUser, on_delete=models.CASCADE, related_name="authorization_codes"
    )
    code_hash = models.CharField(
        max_length=64,
        editable=False,
        help_text="SHA-256 of the code; the code itself is never kept.",
    )
    redirect_uri = models.CharField(max_length=2048)
    scope = models.CharField(max_length=1024, blank=True)
    nonce = models.CharField(max_length=512, blank=True)
    code_challenge = models.CharField(
        max_length=128, blank=True, help_text="PKCE S256 challenge; required for public apps."
    )
    auth_time = models.DateTimeField(help_text="When the user entered their password.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    refresh_token_family = models.UUIDField(
        default=uuid.uuid4,
        editable=False,
        help_text="Family of the refresh tokens issued from this code; revoked if it is replayed.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "code_hash"], name="authorizationcode_tenant_hash_uniq"
            )
        ]

    def __str__(self):
        return f"authorization code {self.code_hash[:12]}…"

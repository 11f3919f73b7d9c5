"""Audit events and their seals.

``AuditEvent``: one row per delegation attempt and per change of security settings. Rows are
append-only: services insert them in the same transaction as what they record, the admin shows
them read-only, and on PostgreSQL a trigger refuses every UPDATE and DELETE (migration
``0003_audit_postgres_partitioning``), where the table is also partitioned by month on
``created_at`` so retention drops whole partitions.

``AuditSeal``: RFC 6962-style tamper evidence. ``manage.py audit_seal`` hashes each new row
(``delegation.audit.canonical``), builds a Merkle tree over a contiguous id range of one
tenant, chains the tree head to the tenant's previous seal and signs it with the tenant's
RS256 key. ``AuditVerification`` keeps what ``manage.py audit_verify`` found last;
``AuditPrune`` records what retention removed, so verification can tell a pruned row from a
deleted one.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenantauth.models import Tenant


class AuditEvent(models.Model):
    class Type(models.TextChoices):
        DELEGATION_SUCCESS = "sd", "Success delegation"
        DELEGATION_FAILURE = "fd", "Failed delegation"
        SECRET_ROTATED = "secret_rotated", "Client secret rotated"
        SECRET_REVEALED = "secret_revealed", "Client secret revealed"
        ALLOWLIST_CHANGED = "allowlist_changed", "Allowed APPs / APIs changed"
        SETTINGS_CHANGED = "settings_changed", "Security settings changed"
        KEY_ROTATED = "key_rotated", "Signing key rotated"
        ADDON_CHANGED = "addon_changed", "Add-on changed"
        AUDIT_EXPORTED = "audit_exported", "Audit log exported"
        APPLICATION_CREATED = "application_created", "Application created"
        APPLICATION_DELETED = "application_deleted", "Application deleted"
        DELEGATION_PREVIEW = "delegation_preview", "Delegation previewed (try it)"
        MEMBER_ADDED = "member_added", "Tenant member added"
        MEMBER_ROLE_CHANGED = "member_role_changed", "Tenant member's role changed"
        MEMBER_REMOVED = "member_removed", "Tenant member removed"

    # No single-column index on tenant: every composite index below starts with it.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="audit_events", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    type = models.CharField(max_length=32, choices=Type.choices)
    # Delegation fields (blank for admin changes).
    source_client_id = models.CharField(max_length=64, blank=True)
    target_client_id = models.CharField(max_length=64, blank=True)
    api_type = models.CharField(max_length=32, blank=True)
    scope = models.CharField(max_length=1024, blank=True)
    user_id = models.CharField(max_length=128, blank=True)
    jti = models.CharField(max_length=64, blank=True)
    token_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the issued token; never the token."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=512, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # Admin-change fields. The actor is kept as a plain id (no database constraint, nothing
    # done on delete): deleting a platform account must not rewrite audit rows, which the
    # append-only trigger would refuse anyway and the seals would report as tampering.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="The platform account that made the change (kept after it is deleted).",
    )
    object_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # One index per filter of the audit console, each starting with the tenant and ending
        # with (created_at, id) so a filtered page is one ordered index range scan (keyset
        # pagination). jti, fingerprint and error exist only on some rows: partial indexes,
        # so the rows without them (most rows) cost no insert there. See docs/audit.md.
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="audit_tenant_time_idx"),
            models.Index(
                fields=["tenant", "type", "created_at", "id"], name="audit_tenant_type_idx"
            ),
            models.Index(
                fields=["tenant", "source_client_id", "created_at", "id"],
                name="audit_tenant_source_idx",
            ),
            models.Index(
                fields=["tenant", "target_client_id", "created_at", "id"],
                name="audit_tenant_target_idx",
            ),
            models.Index(
                fields=["tenant", "user_id", "created_at", "id"], name="audit_tenant_user_idx"
            ),
            models.Index(
                fields=["tenant", "api_type", "created_at", "id"], name="audit_tenant_apitype_idx"
            ),
            models.Index(
                fields=["tenant", "error", "created_at", "id"],
                name="audit_tenant_error_idx",
                condition=~Q(error=""),
            ),
            models.Index(
                fields=["tenant", "jti"], name="audit_tenant_jti_idx", condition=~Q(jti="")
            ),
            models.Index(
                fields=["tenant", "token_fingerprint"],
                name="audit_tenant_fp_idx",
                condition=~Q(token_fingerprint=""),
            ),
        ]

    def __str__(self):
        return f"{self.get_type_display()} {self.created_at:%Y-%m-%d %H:%M:%S}"


class AuditSeal(models.Model):
    """A signed Merkle tree head over one tenant's audit rows with ids in (first_id, last_id].

    ``leaves`` holds, per sealed row in id order, 48 bytes: the id (8, big-endian), the row's
    ``created_at`` in microseconds since the epoch (8, big-endian, signed) and its RFC 6962
    leaf hash (32). ``root_hash`` is the Merkle tree hash over those leaf hashes;
    ``seal_hash`` = SHA-256 of the canonical seal body (``delegation.audit.sealing``), which
    includes ``previous_hash`` (the previous seal's ``seal_hash``), so seals form a chain;
    ``signature`` is RS256 (RFC 7518 section 3.3) over the seal body with the tenant key
    ``kid``.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="audit_seals")
    sequence = models.PositiveBigIntegerField(help_text="1, 2, 3, ... per tenant.")
    after_id = models.BigIntegerField(help_text="Rows with a larger id are in this seal ...")
    last_id = models.BigIntegerField(help_text="... up to and including this id.")
    row_count = models.PositiveIntegerField()
    first_created_at = models.DateTimeField(null=True)
    last_created_at = models.DateTimeField(null=True)
    leaves = models.BinaryField(help_text="48 bytes per row: id, created_at (µs), leaf hash.")
    root_hash = models.CharField(max_length=64, help_text="RFC 6962 Merkle tree hash (hex).")
    previous_hash = models.CharField(max_length=64, blank=True)
    seal_hash = models.CharField(max_length=64)
    signature = models.TextField(help_text="base64url RS256 signature of the seal body.")
    kid = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()
    cutoff = models.DateTimeField(
        help_text="Only rows created before this instant (sealed_at minus the safety margin) "
        "were sealed; a later unsealed row older than this was inserted out of order."
    )

    class Meta:
        ordering = ["tenant", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "sequence"], name="auditseal_tenant_seq_uniq"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "last_id"], name="auditseal_tenant_last_idx")]

    def __str__(self):
        return f"{self.tenant_id}#{self.sequence} ({self.after_id}, {self.last_id}]"


class AuditVerification(models.Model):
    """The outcome of one ``audit_verify`` run for one tenant (shown in the console)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    verified_at = models.DateTimeField()
    ok = models.BooleanField()
    seals_checked = models.PositiveIntegerField(default=0)
    rows_checked = models.PositiveBigIntegerField(default=0)
    findings = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"kind": "changed"|"deleted"|"inserted"|"chain"|"signature"|"root", '
        '"id": <row id or null>, "seal": <sequence>, "detail": "..."}]',
    )

    class Meta:
        ordering = ["-verified_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-verified_at"], name="auditverif_tenant_time_idx")
        ]

    def __str__(self):
        return f"{self.tenant_id} {self.verified_at:%Y-%m-%d %H:%M:%S} ok={self.ok}"


class AuditPrune(models.Model):
    """Rows removed by retention: ``created_at`` in [range_start, range_end) of ``tenant``
    (null: every tenant, a dropped monthly partition)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, related_name="+")
    range_start = models.DateTimeField(null=True)
    range_end = models.DateTimeField()
    pruned_at = models.DateTimeField()
    row_count = models.PositiveBigIntegerField(default=0)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-pruned_at"]

    def __str__(self):
        return f"{self.tenant_id or 'all'} before {self.range_end:%Y-%m-%d}"

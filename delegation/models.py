"""Audit events: one per delegation attempt and one per change of security settings.

Rows are append-only: services insert them in the same transaction as what they record, the
admin shows them read-only, and nothing updates or deletes them.
"""

from django.conf import settings
from django.db import models

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
        APPLICATION_CREATED = "application_created", "Application created"
        APPLICATION_DELETED = "application_deleted", "Application deleted"
        DELEGATION_PREVIEW = "delegation_preview", "Delegation previewed (try it)"
        MEMBER_ADDED = "member_added", "Tenant member added"
        MEMBER_ROLE_CHANGED = "member_role_changed", "Tenant member's role changed"
        MEMBER_REMOVED = "member_removed", "Tenant member removed"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="audit_events")
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
    # Admin-change fields.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    object_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time_idx"),
            models.Index(fields=["tenant", "type", "-created_at"], name="audit_tenant_type_idx"),
            models.Index(fields=["tenant", "jti"], name="audit_tenant_jti_idx"),
            models.Index(fields=["tenant", "token_fingerprint"], name="audit_tenant_fp_idx"),
        ]

    def __str__(self):
        return f"{self.get_type_display()} {self.created_at:%Y-%m-%d %H:%M:%S}"

"""The audit log: read-only for everybody, scoped like every other admin page."""

from django.contrib import admin

from delegation.models import AuditEvent
from tenantauth.admin import TenantScopedModelAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedModelAdmin):
    list_display = [
        "created_at",
        "type",
        "source_client_id",
        "target_client_id",
        "api_type",
        "user_id",
        "error",
        "jti",
    ]
    list_filter = ["type", "api_type", "error", "created_at"]
    search_fields = [
        "=jti",
        "=token_fingerprint",
        "=user_id",
        "=source_client_id",
        "=target_client_id",
    ]
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_select_related = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

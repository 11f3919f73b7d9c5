"""The audit log: read-only for everybody (``tenantauth.roles``), scoped like every other page.

The log is readable on its own: the list shows each application's name next to its client ID
and each user's e-mail next to the ``user_id`` (looked up in the row's own tenant by indexed
subqueries), because an auditor may read the log but not the application or user pages.
"""

from django.contrib import admin
from django.db.models import OuterRef, Subquery

from delegation.models import AuditEvent
from tenantauth.admin import TenantScopedModelAdmin
from tenantauth.models import Application, TenantUser


def _app_name(field: str) -> Subquery:
    return Subquery(
        Application.objects.filter(tenant=OuterRef("tenant"), client_id=OuterRef(field)).values(
            "name"
        )[:1]
    )


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedModelAdmin):
    list_display = [
        "created_at",
        "type",
        "source",
        "target",
        "api_type",
        "user",
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

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                source_name=_app_name("source_client_id"),
                target_name=_app_name("target_client_id"),
                user_email=Subquery(
                    TenantUser.objects.filter(
                        tenant=OuterRef("tenant"), user_id=OuterRef("user_id")
                    ).values("email")[:1]
                ),
            )
        )

    @staticmethod
    def _labelled(name, identifier) -> str:
        if not identifier:
            return "-"
        return f"{name} ({identifier})" if name else identifier

    @admin.display(description="Source application", ordering="source_client_id")
    def source(self, obj):
        return self._labelled(getattr(obj, "source_name", None), obj.source_client_id)

    @admin.display(description="Target application", ordering="target_client_id")
    def target(self, obj):
        return self._labelled(getattr(obj, "target_name", None), obj.target_client_id)

    @admin.display(description="User", ordering="user_id")
    def user(self, obj):
        return self._labelled(getattr(obj, "user_email", None), obj.user_id)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["source", "target", "user"]

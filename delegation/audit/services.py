"""Writes of the audit console: recording that an export was made."""

from django.db import transaction

from delegation.models import AuditEvent
from tenantauth.models import Tenant


@transaction.atomic
def audit_export_record(*, tenants: list[Tenant], actor, format: str, filters: dict) -> None:
    """Record one ``audit_exported`` event per tenant exported, with the format and filter.

    ``filters``: the declared filter fields as submitted (strings), e.g. ``{"target": ...}``.
    """
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                tenant=tenant,
                type=AuditEvent.Type.AUDIT_EXPORTED,
                actor=actor if actor is not None and actor.is_authenticated else None,
                object_repr=f"audit log export ({format})",
                details={"format": format, "filter": {k: str(v) for k, v in filters.items()}},
            )
            for tenant in tenants
        ]
    )

"""Retention: remove audit rows older than each tenant's ``audit_retention_days``.

Rows go only when they are sealed (so the seals keep proving what was there) and exported
(the operator states up to which date the log was exported: ``exported_through``). Each
removal is recorded in ``AuditPrune`` so ``audit_verify`` tells pruned rows from deleted ones.

PostgreSQL: whole monthly partitions are dropped (no row-by-row DELETE; the append-only
trigger stays in force). Partitions hold every tenant's rows of a month, so a month goes only
when every tenant with rows in it lets it go; a tenant keeping its rows longer (or forever)
keeps the month for all. SQLite: the tenant's rows are deleted (no partitions, no trigger).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction

from delegation.audit import partitions
from delegation.models import AuditEvent, AuditPrune, AuditSeal
from tenantauth.models import Tenant


@dataclass
class RetentionReport:
    """``dropped``: partition names or "tenant: N rows"; ``kept``: (what, why) pairs."""

    dropped: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0


def _last_sealed_id(tenant: Tenant) -> int:
    seal = AuditSeal.objects.filter(tenant=tenant).order_by("-sequence").only("last_id").first()
    return seal.last_id if seal else 0


def _tenant_blocks(tenant, start, end, *, now, exported_through) -> str:
    """Why ``tenant``'s rows in [start, end) must stay ('' when they may go)."""
    rows = AuditEvent.objects.filter(tenant=tenant, created_at__gte=start, created_at__lt=end)
    if not rows.exists():
        return ""
    if tenant.audit_retention_days is None:
        return f"{tenant.slug} keeps its audit log forever"
    if end > now - timedelta(days=tenant.audit_retention_days):
        return f"{tenant.slug} keeps {tenant.audit_retention_days} days"
    if end > exported_through:
        return "not exported through the end of the month"
    if rows.filter(id__gt=_last_sealed_id(tenant)).exists():
        return f"{tenant.slug} has unsealed rows there"
    return ""


def audit_retention_run(
    *, now: datetime, exported_through: datetime, dry_run: bool = False
) -> RetentionReport:
    """Remove what retention allows; see the module docstring. ``exported_through``: aware
    datetime up to which the operator has exported the log."""
    report = RetentionReport()
    tenants = list(Tenant.objects.order_by("slug"))
    if partitions.is_partitioned():
        for part in partitions.partitions_list():
            if part.end > now:
                break
            reasons = [
                r
                for t in tenants
                if (
                    r := _tenant_blocks(
                        t, part.start, part.end, now=now, exported_through=exported_through
                    )
                )
            ]
            if reasons:
                report.kept.append((part.name, "; ".join(sorted(set(reasons)))))
                continue
            count = AuditEvent.objects.filter(
                created_at__gte=part.start, created_at__lt=part.end
            ).count()
            report.dropped.append(part.name)
            report.rows += count
            if not dry_run:
                with transaction.atomic():
                    AuditPrune.objects.create(
                        tenant=None,
                        range_start=part.start,
                        range_end=part.end,
                        pruned_at=now,
                        row_count=count,
                        detail=f"dropped partition {part.name}",
                    )
                    partitions.partition_drop(part)
        return report
    for tenant in tenants:
        if tenant.audit_retention_days is None:
            report.kept.append((tenant.slug, "keeps its audit log forever"))
            continue
        cutoff = min(now - timedelta(days=tenant.audit_retention_days), exported_through)
        rows = AuditEvent.objects.filter(
            tenant=tenant, created_at__lt=cutoff, id__lte=_last_sealed_id(tenant)
        )
        count = rows.count()
        if not count:
            continue
        report.dropped.append(f"{tenant.slug}: {count} rows before {cutoff:%Y-%m-%d %H:%M}")
        report.rows += count
        if not dry_run:
            with transaction.atomic():
                AuditPrune.objects.create(
                    tenant=tenant,
                    range_start=None,
                    range_end=cutoff,
                    pruned_at=now,
                    row_count=count,
                    detail=f"deleted rows ({connection.vendor})",
                )
                rows.delete()
    return report

"""Seal new audit rows: per tenant, an RFC 6962 Merkle tree head chained and signed.

Run it periodically (e.g. every minute from cron or a systemd timer). It also creates the
coming months' partitions on PostgreSQL. Only reads the audit table: delegation inserts are
never blocked.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from delegation.audit import partitions, sealing
from tenantauth import signing
from tenantauth.models import Tenant


class Command(BaseCommand):
    help = "Seal audit rows older than the safety margin (per tenant, chained, signed RS256)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="slug of one tenant (default: every tenant)")
        parser.add_argument(
            "--margin-seconds",
            type=int,
            default=int(sealing.DEFAULT_MARGIN.total_seconds()),
            help="seal only rows at least this old (default 60)",
        )
        parser.add_argument("--batch", type=int, default=sealing.DEFAULT_BATCH)

    def handle(self, *args, **options):
        from django.utils import timezone

        if options["margin_seconds"] < 0 or options["batch"] < 1:
            raise CommandError("--margin-seconds must be >= 0 and --batch >= 1")
        created = partitions.partitions_ensure(now=timezone.now())
        for name in created:
            self.stdout.write(f"created partition {name}")
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError("no such tenant")
        failed = False
        for tenant in tenants:
            try:
                seals = sealing.audit_seal_tenant(
                    tenant=tenant,
                    margin=timedelta(seconds=options["margin_seconds"]),
                    batch=options["batch"],
                )
            except signing.KeyUnavailableError as exc:
                self.stderr.write(f"{tenant.slug}: not sealed ({exc})")
                failed = True
                continue
            rows = sum(s.row_count for s in seals)
            self.stdout.write(f"{tenant.slug}: {len(seals)} seal(s), {rows} row(s)")
        if failed:
            raise CommandError("some tenants could not be sealed")

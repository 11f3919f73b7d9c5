"""Verify the audit seals: rows changed, deleted or inserted out of order; chain; signatures.

Exits with status 1 when anything is found (and prints each finding); the outcome is also
stored and shown in the audit console.
"""

from django.core.management.base import BaseCommand, CommandError

from delegation.audit import sealing
from tenantauth.models import Tenant


class Command(BaseCommand):
    help = "Check every audit seal and the rows it covers; non-zero exit on any finding."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="slug of one tenant (default: every tenant)")

    def handle(self, *args, **options):
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError("no such tenant")
        findings = 0
        for tenant in tenants:
            report = sealing.audit_verify_tenant(tenant=tenant)
            status = "ok" if report.ok else f"{len(report.findings)} finding(s)"
            self.stdout.write(
                f"{tenant.slug}: {report.seals_checked} seal(s), {report.rows_checked} row(s), "
                f"{report.pruned} pruned by retention: {status}"
            )
            for finding in report.findings:
                where = f" row {finding['id']}" if finding["id"] is not None else ""
                seal = f" seal #{finding['seal']}" if finding["seal"] is not None else ""
                detail = f": {finding['detail']}" if finding["detail"] else ""
                self.stdout.write(f"  {finding['kind']}{where}{seal}{detail}")
            findings += len(report.findings)
        if findings:
            raise CommandError(f"audit verification failed: {findings} finding(s)")

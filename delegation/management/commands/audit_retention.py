"""Apply each tenant's audit retention (see ``delegation.audit.retention``)."""

from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from delegation.audit import retention


class Command(BaseCommand):
    help = (
        "Remove audit rows past each tenant's retention, only when sealed and exported: "
        "drops whole monthly partitions on PostgreSQL, deletes rows on SQLite."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--exported-through",
            required=True,
            help="YYYY-MM-DD: the audit log has been exported (and kept) up to this date",
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):
        try:
            day = datetime.strptime(options["exported_through"], "%Y-%m-%d").date()
        except ValueError as exc:
            raise CommandError("--exported-through must be YYYY-MM-DD") from exc
        exported = datetime.combine(day, time.min, tzinfo=UTC)
        report = retention.audit_retention_run(
            now=timezone.now(), exported_through=exported, dry_run=options["dry_run"]
        )
        verb = "would remove" if options["dry_run"] else "removed"
        for item in report.dropped:
            self.stdout.write(f"{verb} {item}")
        for item, why in report.kept:
            self.stdout.write(f"kept {item}: {why}")
        self.stdout.write(f"{verb} {report.rows} row(s)")

"""Create the audit table's monthly partitions ahead (PostgreSQL; nothing to do on SQLite)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from delegation.audit import partitions


class Command(BaseCommand):
    help = "Create monthly audit partitions for this month and the next ones; list them."

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3)

    def handle(self, *args, **options):
        if not partitions.is_partitioned():
            self.stdout.write("the audit table is not partitioned (SQLite): nothing to do")
            return
        for name in partitions.partitions_ensure(
            now=timezone.now(), months_ahead=max(0, options["months_ahead"])
        ):
            self.stdout.write(f"created {name}")
        for part in partitions.partitions_list():
            self.stdout.write(f"{part.name}: {part.start:%Y-%m-%d} .. {part.end:%Y-%m-%d}")
        rows = partitions.default_partition_rows()
        if rows:
            self.stderr.write(f"{rows} row(s) in the DEFAULT partition: see docs/audit.md")

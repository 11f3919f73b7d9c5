"""Monthly partitions of the audit table on PostgreSQL (declarative range partitioning).

The table ``delegation_auditevent`` is partitioned by range on ``created_at``, one partition
per calendar month (UTC) named ``delegation_auditevent_pYYYYMM``, plus a DEFAULT partition
``delegation_auditevent_pdefault`` as a safety net for rows outside every month created so
far. ``partitions_ensure`` creates the months ahead (``audit_seal`` and ``audit_partitions``
call it) so the DEFAULT partition stays empty: PostgreSQL refuses to create a month's
partition while the DEFAULT partition holds rows of that month. On SQLite nothing here
applies (``is_partitioned`` is False) and retention deletes rows instead.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection

TABLE = "delegation_auditevent"
DEFAULT_PARTITION = f"{TABLE}_pdefault"
_MONTH_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")


@dataclass(frozen=True)
class Partition:
    """A monthly partition: rows with ``start <= created_at < end`` (UTC)."""

    name: str
    start: datetime
    end: datetime


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + (start.month - 1) + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"{TABLE}_p{start.year:04d}{start.month:02d}"


def create_month_sql(start: datetime) -> str:
    """DDL for the partition of the month beginning at ``start`` (idempotent)."""
    end = add_months(start, 1)
    return (
        f'CREATE TABLE IF NOT EXISTS "{partition_name(start)}" PARTITION OF "{TABLE}" '
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def is_partitioned(using=connection) -> bool:
    if using.vendor != "postgresql":
        return False
    with using.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partitions_list(using=connection) -> list[Partition]:
    """The monthly partitions, oldest first (the DEFAULT partition is not listed)."""
    with using.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = []
    for name in names:
        match = _MONTH_NAME.match(name)
        if match:
            start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
            found.append(Partition(name, start, add_months(start, 1)))
    return sorted(found, key=lambda p: p.start)


def partitions_ensure(
    *, now: datetime, months_ahead: int = 3, since: datetime | None = None, using=connection
) -> list[str]:
    """Create the partitions from ``since``'s month (default: the current month) through
    ``months_ahead`` months after the current one; return the names created.

    Raises ``django.db.Error`` when the DEFAULT partition already holds rows of a month to
    create (an operator then moves them; see docs/audit.md).
    """
    if not is_partitioned(using):
        return []
    existing = {p.name for p in partitions_list(using)}
    created = []
    start = month_start(since or now)
    last = add_months(month_start(now), months_ahead)
    with using.cursor() as cursor:
        month = start
        while month <= last:
            if partition_name(month) not in existing:
                cursor.execute(create_month_sql(month))
                created.append(partition_name(month))
            month = add_months(month, 1)
    return created


def default_partition_rows(using=connection) -> int:
    if not is_partitioned(using):
        return 0
    with using.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{DEFAULT_PARTITION}"')  # noqa: S608 - constant
        return cursor.fetchone()[0]


def partition_drop(partition: Partition, using=connection) -> None:
    """Detach and drop one monthly partition (the append-only trigger does not fire)."""
    with using.cursor() as cursor:
        # Deferred foreign-key checks of rows inserted in this same transaction (only ever the
        # case in tests) would make PostgreSQL refuse the DROP: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{partition.name}"')
        cursor.execute(f'DROP TABLE "{partition.name}"')

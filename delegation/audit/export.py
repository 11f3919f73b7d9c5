"""Streaming CSV and JSON Lines exports of a console filter, in constant memory.

The rows are read in keyset batches of ``BATCH`` (newest first, by ``(created_at, id)``),
each batch one indexed query; application names and user e-mails are resolved per batch in
one query each. Nothing accumulates: each batch is encoded and yielded, then dropped, so the
memory used does not grow with the number of rows exported.

CSV cells are made safe for spreadsheets (OWASP "CSV injection"): a text cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``.
"""

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from django.db import connection
from django.db.models import F, Func, TextField
from django.db.models.functions import Cast

from delegation.audit import selectors
from delegation.audit.selectors import AuditFilter, Cursor
from tenantauth.models import Tenant

BATCH = 5000
FIELDS = (
    "id",
    "created_at",
    "tenant_id",
    "type",
    "source_client_id",
    "target_client_id",
    "api_type",
    "scope",
    "user_id",
    "jti",
    "token_fingerprint",
    "expires_at",
    "error",
    "reason",
    "client_ip",
    "user_agent",
    "actor_id",
    "object_repr",
    "details",
)
COLUMNS = (
    "id",
    "created_at",
    "tenant",
    "type",
    "source_client_id",
    "source_name",
    "target_client_id",
    "target_name",
    "api_type",
    "scope",
    "user_id",
    "user_email",
    "jti",
    "token_fingerprint",
    "expires_at",
    "error",
    "reason",
    "client_ip",
    "user_agent",
    "actor_id",
    "object_repr",
    "details",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


_FORMULA_START = frozenset(FORMULA_PREFIXES)


def safe_cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (text cells only)."""
    if isinstance(value, str) and value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


# On PostgreSQL the timestamps come as ISO text from the server (parsing them into datetimes
# and formatting them again was a third of the export's time).
_PG_ISO = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
_SELECT = (
    "id",
    "created_at",
    "type",
    "source_client_id",
    "target_client_id",
    "api_type",
    "scope",
    "user_id",
    "jti",
    "token_fingerprint",
    "expires_at",
    "error",
    "reason",
    "client_ip",
    "user_agent",
    "actor_id",
    "object_repr",
    "details_text",
)
# Columns (by position in COLUMNS) that may hold text from outside: checked for formulas.
UNTRUSTED = tuple(
    COLUMNS.index(name)
    for name in (
        "tenant",
        "source_client_id",
        "source_name",
        "target_client_id",
        "target_name",
        "api_type",
        "scope",
        "user_id",
        "user_email",
        "jti",
        "reason",
        "user_agent",
        "object_repr",
        "details",
    )
)


def _iso_text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _iso(value)


def export_rows(*, tenants: list[Tenant], audit_filter: AuditFilter) -> Iterator[list[list]]:
    """Batches of export records (lists in ``COLUMNS`` order), tenant by tenant, newest
    first. Each batch is one keyset query of at most ``BATCH`` rows; timestamps are ISO 8601
    UTC text, ``details`` JSON text ('' when empty)."""
    postgres = connection.vendor == "postgresql"
    for tenant in tenants:
        base = selectors.audit_events_filter(tenants=[tenant], audit_filter=audit_filter)
        annotations = {"details_text": Cast("details", output_field=TextField())}
        if postgres:
            annotations["created_text"] = Func(
                F("created_at"), template=_PG_ISO, output_field=TextField()
            )
            annotations["expires_text"] = Func(
                F("expires_at"), template=_PG_ISO, output_field=TextField()
            )
        base = base.annotate(**annotations)
        select = list(_SELECT)
        if postgres:
            select[1], select[10] = "created_text", "expires_text"
        cursor: Cursor | None = None
        slug = tenant.slug
        while True:
            qs = base if cursor is None else selectors._older_than(base, cursor)
            ordered = qs.order_by("-created_at", "-id")
            rows = list(ordered.values_list(*select)[:BATCH])
            if not rows:
                break
            names = selectors.application_names(
                tenants=[tenant], client_ids={r[3] for r in rows} | {r[4] for r in rows}
            )
            names = {client_id: name for (_, client_id), name in names.items()}
            emails = selectors.user_emails(tenants=[tenant], user_ids={r[7] for r in rows})
            emails = {user_id: email for (_, user_id), email in emails.items()}
            yield [
                [
                    r[0],
                    _iso_text(r[1]),
                    slug,
                    r[2],
                    r[3],
                    names.get(r[3], ""),
                    r[4],
                    names.get(r[4], ""),
                    r[5],
                    r[6],
                    r[7],
                    emails.get(r[7], ""),
                    r[8],
                    r[9],
                    _iso_text(r[10]),
                    r[11],
                    r[12],
                    r[13] or "",
                    r[14],
                    r[15],
                    r[16],
                    "" if r[17] in (None, "{}") else r[17],
                ]
                for r in rows
            ]
            last = rows[-1]
            created = last[1]
            if isinstance(created, str):
                created = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            cursor = Cursor(created, last[0])
            if len(rows) < BATCH:
                break


def csv_stream(*, tenants: list[Tenant], audit_filter: AuditFilter) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180), header first, formula-safe cells; one chunk per batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode()
    start = _FORMULA_START
    for batch in export_rows(tenants=tenants, audit_filter=audit_filter):
        buffer.seek(0)
        buffer.truncate()
        for record in batch:
            for i in UNTRUSTED:
                value = record[i]
                if value and value[0] in start:
                    record[i] = "'" + value
        writer.writerows(batch)
        yield buffer.getvalue().encode()


def jsonl_stream(*, tenants: list[Tenant], audit_filter: AuditFilter) -> Iterator[bytes]:
    """JSON Lines: one JSON object per row (keys ``COLUMNS``, ``details`` an object); one
    chunk per batch."""
    for batch in export_rows(tenants=tenants, audit_filter=audit_filter):
        lines = []
        for record in batch:
            item = dict(zip(COLUMNS, record, strict=True))
            item["details"] = json.loads(item["details"]) if item["details"] else {}
            lines.append(json.dumps(item, ensure_ascii=False))
        yield ("\n".join(lines) + "\n").encode()

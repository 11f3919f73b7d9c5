"""Audit console at ten million rows on PostgreSQL: load, then time every console query.

    .venv/bin/python bench/audit.py [--rows 10000000] [--keep] [--export-rows 1000000]

Creates the database ``tenantauth_bench_audit`` (dropped first if it exists, and again at the
end unless ``--keep``), migrates it, creates three tenants (weights 60/30/10 %) with ten
applications and a thousand users each, measures what the console's indexes cost an insert,
then loads ``--rows`` audit rows over the past 365 days with one ``INSERT ... SELECT
generate_series`` per million rows (indexes dropped during the load and rebuilt after it,
then ANALYZE). It then times, through the selectors the views use, on the largest tenant:
the first page, a page deep into the past, each filter, a date range + target, a token
search, the count estimate, the chart's data query, and the CSV export (time to first byte
and rows/s). Query times are PostgreSQL's own ``EXPLAIN ANALYZE`` execution time of the SQL
the selector builds (plus the wall time of the selector call), and the plan's node types and
index names are printed. Targets: every page and query under 300 ms, export >= 50,000 rows/s.

Needs PostgreSQL on 127.0.0.1:5432 as user postgres (override with BENCH_PG_URL, the server
part only, e.g. ``postgres://postgres@127.0.0.1:5432``). Disk: about 8 GB at ten million
rows while it runs.
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "tenantauth_bench_audit"
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenantauth.settings")

import psycopg  # noqa: E402

TARGET_MS = 300.0
TARGET_EXPORT_RPS = 50_000


def admin_sql(statement: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def plan_nodes(plan: dict) -> list[str]:
    found = []

    def walk(node):
        label = node["Node Type"]
        if "Index Name" in node:
            label += f"({node['Index Name']})"
        found.append(label)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    # Partitions repeat the same node; keep the first of each kind, in order.
    seen, unique = set(), []
    for label in found:
        key = (
            label.split("(")[0] + "(" + label.split("(")[1].split("_p2")[0]
            if "(" in label
            else label
        )
        if key not in seen:
            seen.add(key)
            unique.append(label)
    return unique


RESULTS: list[tuple[str, float, float, str]] = []


def measure(name: str, queryset, call=None) -> None:
    """EXPLAIN ANALYZE the queryset (server time) and time ``call`` (wall time)."""
    raw = queryset.explain(analyze=True, format="json", buffers=True)
    plan = json.loads(raw)[0]
    server_ms = plan["Execution Time"] + plan.get("Planning Time", 0.0)
    wall_ms = 0.0
    if call is not None:
        started = time.perf_counter()
        call()
        wall_ms = (time.perf_counter() - started) * 1000
    nodes = ", ".join(plan_nodes(plan["Plan"]))
    RESULTS.append((name, server_ms, wall_ms, nodes))
    flag = "" if server_ms < TARGET_MS and wall_ms < TARGET_MS else "  <-- over target"
    print(f"{name:<34} server {server_ms:8.2f} ms  call {wall_ms:8.2f} ms{flag}")
    print(f"{'':<34} plan: {nodes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use an already loaded database")
    args = parser.parse_args()

    if not args.reuse:
        admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin_sql(f"CREATE DATABASE {DB_NAME}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from delegation.audit import export, partitions, selectors
    from delegation.audit.selectors import AuditFilter, Cursor
    from delegation.models import AuditEvent
    from tenantauth import services
    from tenantauth.models import Application, Connection, Tenant

    now = datetime.now(UTC).replace(microsecond=0)
    span_days = 365
    start = now - timedelta(days=span_days)
    try:
        if not args.reuse:
            call_command("migrate", verbosity=0)
            tenants = [
                services.tenant_create(slug=slug, name=f"Bench {slug}")
                for slug in ("bench-a", "bench-b", "bench-c")
            ]
            with connection.cursor() as cursor:
                for tenant in tenants:
                    for i in range(10):
                        services.application_create(tenant=tenant, name=f"app{i}")
                    conn_id = Connection.objects.get(tenant=tenant).pk
                    cursor.execute(
                        "INSERT INTO tenantauth_tenantuser (tenant_id, connection_id, user_id, "
                        "email, email_verified, name, nickname, picture, user_metadata, "
                        "app_metadata, blocked, password, created_at, updated_at) "
                        "SELECT %s, %s, 'auth0|' || %s || '-' || g, 'user' || g || '@' || %s "
                        "|| '.example', true, '', '', '', '{}', '{}', false, '!', now(), now() "
                        "FROM generate_series(1, 1000) g",
                        [tenant.pk, conn_id, tenant.slug, tenant.slug],
                    )
            partitions.partitions_ensure(now=now, since=start)
            insert_cost(tenants[0], AuditEvent, connection)
            load(args.rows, tenants, start, span_days, connection, AuditEvent)
        tenant = Tenant.objects.get(slug="bench-a")
        apps = list(Application.objects.filter(tenant=tenant).order_by("name"))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM delegation_auditevent WHERE tenant_id = %s", [tenant.pk]
            )
            print(f"\nbench-a holds {cursor.fetchone()[0]:,} of the audit rows")
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            print(f"database size {cursor.fetchone()[0]}\n")

        def page_qs(f, older=None):
            qs = selectors.audit_events_filter(tenants=[tenant], audit_filter=f)
            if older is not None:
                qs = selectors._older_than(qs, older)
            return qs.order_by("-created_at", "-id")[: selectors.PAGE_SIZE + 1]

        def page(name, f, older=None):
            measure(
                name,
                page_qs(f, older),
                lambda: selectors.audit_page(tenants=[tenant], audit_filter=f, older_than=older),
            )

        empty = AuditFilter()
        page("first page", empty)
        deep = Cursor(now - timedelta(days=300), 0)
        page("page 300 days back", empty, deep)
        first = selectors.audit_page(tenants=[tenant], audit_filter=empty)
        page("next page (older link)", empty, first.older)
        measure(
            "count estimate (EXPLAIN)",
            selectors.audit_events_filter(tenants=[tenant], audit_filter=empty)[:1],
            lambda: selectors.audit_count_estimate(
                selectors.audit_events_filter(tenants=[tenant], audit_filter=empty)
            ),
        )
        day = now - timedelta(days=100)
        filters = {
            "filter outcome=failure": AuditFilter(outcome="failure"),
            "filter event type=fd": AuditFilter(type="fd"),
            "filter source=app3": AuditFilter(source=apps[3].client_id),
            "filter target=app5": AuditFilter(target=apps[5].client_id),
            "filter api_type=aws": AuditFilter(api_type="aws"),
            "filter user": AuditFilter(user_id="auth0|bench-a-17"),
            "filter error=invalid_target": AuditFilter(error="invalid_target"),
            "filter error=unknown (no rows)": AuditFilter(error="server_error"),
            "filter date range (1 day)": AuditFilter(since=day, until=day + timedelta(days=1)),
            "date range + target": AuditFilter(
                since=day, until=day + timedelta(days=7), target=apps[5].client_id
            ),
            "date range + user + failure": AuditFilter(
                since=day - timedelta(days=60),
                until=day,
                user_id="auth0|bench-a-17",
                outcome="failure",
            ),
        }
        for name, f in filters.items():
            page(name, f)
        started = time.perf_counter()
        resolved = selectors.user_id_resolve(tenants=[tenant], value="user17@bench-a.example")
        print(
            f"{'user e-mail -> user_id':<34} call {(time.perf_counter() - started) * 1000:8.2f} ms"
            f" ({resolved})"
        )

        from tenantauth import crypto

        g = (args.rows // 20) * 10 + 1  # an sd row of bench-a in the middle of the table
        pasted = f"tok-{g}"
        row = AuditEvent.objects.get(tenant=tenant, token_fingerprint=crypto.fingerprint(pasted))
        measure(
            "token search (pasted token)",
            AuditEvent.objects.filter(tenant=tenant, token_fingerprint=row.token_fingerprint)[:10],
            lambda: selectors.audit_token_find(tenants=[tenant], value=pasted),
        )
        measure(
            "token search (jti)",
            AuditEvent.objects.filter(tenant=tenant, jti=row.jti)[:10],
            lambda: selectors.audit_token_find(tenants=[tenant], value=row.jti),
        )

        chart_default = AuditFilter()
        chart_30d_target = AuditFilter(since=now - timedelta(days=30), target=apps[5].client_id)
        for name, f in [
            ("chart (last 24 h)", chart_default),
            ("chart (30 days, target)", chart_30d_target),
        ]:
            measure(
                name,
                chart_queryset(selectors, tenant, f, now),
                lambda f=f: selectors.audit_chart(tenants=[tenant], audit_filter=f),
            )

        stream = export.csv_stream(tenants=[tenant], audit_filter=empty)
        started = time.perf_counter()
        next(stream)  # header
        next(stream)  # first batch
        first_byte = (time.perf_counter() - started) * 1000
        rows_out, size = export.BATCH, 0
        for chunk in stream:
            rows_out += export.BATCH
            size += len(chunk)
            if rows_out >= args.export_rows:
                break
        seconds = time.perf_counter() - started
        rate = rows_out / seconds
        print(
            f"{'CSV export':<34} first batch {first_byte:8.2f} ms, {rows_out:,} rows in "
            f"{seconds:.1f} s = {rate:,.0f} rows/s"
            + ("" if rate >= TARGET_EXPORT_RPS else "  <-- under target")
        )
        over = [r for r in RESULTS if r[1] >= TARGET_MS or r[2] >= TARGET_MS]
        print(f"\n{len(RESULTS)} queries; {len(over)} over {TARGET_MS:.0f} ms")
    finally:
        connection.close()
        if not args.keep:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def chart_queryset(selectors, tenant, f, now):
    from django.db.models import Count
    from django.db.models.functions import Trunc

    until = f.until or now
    since = f.since or until - selectors.CHART_DEFAULT_SPAN
    bounded = selectors.AuditFilter(**{**f.__dict__, "since": since, "until": until})
    return (
        selectors.audit_events_filter(tenants=[tenant], audit_filter=bounded)
        .filter(type__in=selectors.DELEGATION_TYPES)
        .annotate(bucket=Trunc("created_at", selectors.chart_bucket(until - since), tzinfo=UTC))
        .values("bucket", "tenant_id", "target_client_id", "type")
        .annotate(n=Count("id"))
        .order_by()
    )


def insert_cost(tenant, AuditEvent, connection, n: int = 3000) -> None:
    """Single-row autocommit INSERTs (as the delegation endpoint does), with the console's
    indexes and with only the primary key, on an empty table."""

    def run():
        started = time.perf_counter()
        for i in range(n):
            AuditEvent.objects.create(
                tenant=tenant,
                type="sd",
                source_client_id="s" * 32,
                target_client_id="t" * 32,
                api_type="app",
                scope="openid",
                user_id=f"auth0|{i}",
                jti=f"{i:032x}",
                token_fingerprint=f"{i:064x}",
                client_ip="127.0.0.1",
            )
        return (time.perf_counter() - started) / n * 1e6

    run()  # warm-up: connection, statement paths, partition metadata
    with_indexes = min(run(), run())
    index_defs = drop_indexes(connection)
    without = min(run(), run())
    restore_indexes(connection, index_defs)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE delegation_auditevent")
    print(
        f"insert (autocommit, one row): {with_indexes:.0f} µs with the console's "
        f"{len(index_defs)} indexes, {without:.0f} µs with the primary key only "
        f"(+{with_indexes - without:.0f} µs per delegation)"
    )


def drop_indexes(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'delegation_auditevent' "
            "AND indexname LIKE 'audit_tenant_%%'"
        )
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def restore_indexes(connection, definitions) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for definition in definitions:
            # pg_indexes shows a partitioned index as "ON ONLY <table>" (built on no
            # partition); without ONLY it is built on every partition.
            cursor.execute(definition.replace(" ON ONLY ", " ON "))


def load(rows, tenants, start, span_days, connection, AuditEvent) -> None:
    from tenantauth.models import Application

    apps = {
        t.pk: list(
            Application.objects.filter(tenant=t)
            .order_by("name")
            .values_list("client_id", flat=True)
        )
        for t in tenants
    }
    definitions = drop_indexes(connection)
    step = span_days * 86400.0 / rows
    chunk = 1_000_000
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        # Tenant weights 60/30/10 %; 10 % refusals with a spread of errors and reasons;
        # api_type mostly app; ids grow with created_at, as in production.
        case_tenant = (
            f"CASE WHEN g % 10 < 6 THEN {tenants[0].pk} WHEN g % 10 < 9 THEN {tenants[1].pk} "
            f"ELSE {tenants[2].pk} END"
        )
        app_array = {t: "ARRAY[" + ",".join(f"'{c}'" for c in ids) + "]" for t, ids in apps.items()}
        case_app = lambda expr: (  # noqa: E731
            "CASE "
            + " ".join(
                f"WHEN {case_tenant} = {t} THEN ({arr})[1 + ({expr})]"
                for t, arr in app_array.items()
            )
            + " END"
        )
        slug_case = " ".join(f"WHEN {case_tenant} = {t.pk} THEN '{t.slug}'" for t in tenants)
        for offset in range(0, rows, chunk):
            count = min(chunk, rows - offset)
            sql = f"""
                INSERT INTO delegation_auditevent (tenant_id, created_at, type, source_client_id,
                    target_client_id, api_type, scope, user_id, jti, token_fingerprint,
                    expires_at, error, reason, client_ip, user_agent, object_repr, details)
                SELECT {case_tenant},
                    %(start)s::timestamptz + make_interval(secs => g * %(step)s),
                    CASE WHEN g % 10 = 3 THEN 'fd' ELSE 'sd' END,
                    {case_app("(g / 7) % 10")},
                    {case_app("(g / 3) % 10")},
                    CASE WHEN g % 20 = 0 THEN 'aws' WHEN g % 20 < 3 THEN 'firebase' ELSE 'app' END,
                    'openid',
                    'auth0|' || CASE {slug_case} END || '-' || (1 + (g / 11) % 1000),
                    CASE WHEN g % 10 = 3 THEN '' ELSE md5(g::text) END,
                    CASE WHEN g % 10 = 3 THEN ''
                        ELSE encode(sha256(('tok-' || g)::bytea), 'hex') END,
                    CASE WHEN g % 10 = 3 THEN NULL ELSE %(start)s::timestamptz
                        + make_interval(secs => g * %(step)s + 3600) END,
                    CASE WHEN g % 10 <> 3 THEN '' WHEN g % 30 = 3 THEN 'invalid_target'
                        WHEN g % 30 = 13 THEN 'invalid_grant' ELSE 'too_many_requests' END,
                    CASE WHEN g % 10 <> 3 THEN '' WHEN g % 30 = 3 THEN 'not_in_allowlist'
                        WHEN g % 30 = 13 THEN 'jwt expired' ELSE 'rate limited' END,
                    ('10.' || (g % 250) || '.' || ((g / 250) % 250) || '.1')::inet,
                    'bench/1.0', '', '{{}}'::jsonb
                FROM generate_series(%(first)s, %(last)s) g
                """
            cursor.execute(
                sql.replace(" % ", " %% "),
                {"start": start, "step": step, "first": offset + 1, "last": offset + count},
            )
            print(
                f"  loaded {offset + count:,} rows ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('delegation_auditevent', 'id'), "
            "(SELECT max(id) FROM delegation_auditevent))"
        )
    # The ids must follow created_at as in production: they do, since rows were inserted in
    # g order. Rebuild the indexes in one pass each, then gather statistics.
    built = time.perf_counter()
    restore_indexes(connection, definitions)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE delegation_auditevent")
    print(
        f"loaded {rows:,} rows in {built - started:.0f} s; indexes and ANALYZE "
        f"{time.perf_counter() - built:.0f} s"
    )


if __name__ == "__main__":
    main()

"""Tamper evidence (RFC 6962 Merkle seals), the append-only trigger, partitions, retention."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client

from delegation.audit import canonical, merkle, partitions, sealing
from delegation.models import AuditEvent, AuditPrune, AuditSeal, AuditVerification
from tenantauth import services
from tests.real_parts import needs_postgres

LIST = "/admin/delegation/auditevent/"
T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def make_rows(tenant, n, *, start=T0, **fields):
    made = []
    for i in range(n):
        with time_machine.travel(start + timedelta(seconds=i), tick=False):
            made.append(
                AuditEvent.objects.create(
                    tenant=tenant,
                    type="sd",
                    user_id=f"auth0|u{i}",
                    jti=f"{i:032x}",
                    client_ip="198.51.100.4",
                    details={"b": [1, 2], "a": "é"},
                    **fields,
                )
            )
    return made


def seal(tenant, *, at=None, **kwargs):
    return sealing.audit_seal_tenant(tenant=tenant, now=at or T0 + timedelta(hours=1), **kwargs)


@pytest.fixture
def postgres(db):
    needs_postgres("the append-only trigger and partitions")


def as_attacker(sql, params=()):
    """Run SQL as someone who can bypass the append-only trigger (a superuser): on
    PostgreSQL with session_replication_role = replica, which skips ordinary triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


def verify_output(slug):
    from io import StringIO

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--tenant", slug, stdout=out)
    return out.getvalue()


# --- RFC 6962 hashing ------------------------------------------------------------------------
def _reference_mth(leaves):
    """RFC 6962 section 2.1, written as the recursive definition."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(
        b"\x01" + _reference_mth(leaves[:k]) + _reference_mth(leaves[k:])
    ).digest()


def test_merkle_tree_hash_is_rfc6962():
    """Empty tree = SHA-256(''); leaf = SHA-256(0x00 || d); every size up to 33 equals the
    recursive definition (split at the largest power of two below n)."""
    assert merkle.tree_hash([]).hex() == hashlib.sha256(b"").hexdigest()
    assert merkle.leaf_hash(b"").hex() == hashlib.sha256(b"\x00").hexdigest()
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(33)]
    for n in range(1, 34):
        assert merkle.tree_hash(leaves[:n]) == _reference_mth(leaves[:n]), n
    assert merkle.tree_hash(leaves[:3]) == merkle.node_hash(
        merkle.node_hash(leaves[0], leaves[1]), leaves[2]
    )


def test_canonical_bytes_cover_every_column(tenant_a):
    row = make_rows(tenant_a["tenant"], 1)[0]
    values = AuditEvent.objects.filter(pk=row.pk).values(*canonical.COLUMNS).get()
    data = canonical.canonical_bytes(values)
    assert set(canonical.COLUMNS) == {f.attname for f in AuditEvent._meta.concrete_fields}
    assert data.startswith(b'{"actor_id":null,"api_type":"","client_ip":"198.51.100.4"')
    assert b'"created_at":"2026-03-10T12:00:00.000000Z"' in data
    assert '"details":{"a":"é","b":[1,2]}'.encode() in data


# --- sealing ---------------------------------------------------------------------------------
def test_seal_chains_signs_and_verifies(tenant_a, tenant_b):
    make_rows(tenant_a["tenant"], 5)
    make_rows(tenant_b["tenant"], 2)
    first = seal(tenant_a["tenant"], batch=3)
    assert [(s.sequence, s.row_count) for s in first] == [(1, 3), (2, 2)]
    assert first[1].previous_hash == first[0].seal_hash and first[0].previous_hash == ""
    assert first[0].kid == tenant_a["tenant"].active_signing_key.kid
    make_rows(tenant_a["tenant"], 2, start=T0 + timedelta(minutes=5))
    later = seal(tenant_a["tenant"], at=T0 + timedelta(hours=2))
    assert later[0].sequence == 3 and later[0].previous_hash == first[1].seal_hash
    report = sealing.audit_verify_tenant(tenant=tenant_a["tenant"])
    assert report.ok and report.rows_checked == 7 and report.seals_checked == 3
    # Tenant B's rows are sealed separately.
    assert sealing.audit_verify_tenant(tenant=tenant_b["tenant"]).seals_checked == 0
    call_command("audit_seal")
    call_command("audit_verify")  # no finding: no exception


def test_rows_within_the_margin_wait(tenant_a):
    """Rows younger than the margin are not sealed; the range stops before the first one."""
    rows = make_rows(tenant_a["tenant"], 4, start=T0)
    sealed = seal(tenant_a["tenant"], at=T0 + timedelta(seconds=62))  # cutoff T0 + 2 s
    assert sealed[0].last_id == rows[1].id and sealed[0].row_count == 2


def test_a_key_rotation_keeps_old_seals_valid(tenant_a):
    make_rows(tenant_a["tenant"], 2)
    seal(tenant_a["tenant"])
    services.signing_key_rotate(tenant=tenant_a["tenant"], actor=None)
    assert sealing.audit_verify_tenant(tenant=tenant_a["tenant"]).ok


# --- tampering (any database: SQLite has no trigger; PostgreSQL: as a superuser) ------------
def _sealed_rows(tenant_a):
    rows = make_rows(tenant_a["tenant"], 6)
    seal(tenant_a["tenant"])
    return rows


def _console_status(tenant_a, row_id):
    client = Client()
    client.force_login(tenant_a["auditor"])
    response = client.get(LIST)
    for item in response.context["rows"]:
        if item["event"].pk == row_id:
            return item["seal"][0], response.content.decode()
    return None, response.content.decode()


def test_changed_user_is_detected_and_shown(tenant_a):
    rows = _sealed_rows(tenant_a)
    assert _console_status(tenant_a, rows[2].id)[0] == "sealed"
    as_attacker(
        "UPDATE delegation_auditevent SET user_id = %s WHERE id = %s", ["auth0|mallory", rows[2].id]
    )
    out = verify_output(tenant_a["tenant"].slug)
    assert f"changed row {rows[2].id}" in out
    status, page = _console_status(tenant_a, rows[2].id)
    assert status == "tampered"
    assert "Tampering found" in page and f"changed row {rows[2].id}" in page


def test_deleted_row_is_detected_and_shown(tenant_a):
    rows = _sealed_rows(tenant_a)
    as_attacker("DELETE FROM delegation_auditevent WHERE id = %s", [rows[3].id])
    out = verify_output(tenant_a["tenant"].slug)
    assert f"deleted row {rows[3].id}" in out
    page = _console_status(tenant_a, rows[0].id)[1]
    assert f"deleted row {rows[3].id}" in page


def test_forged_rows_are_detected_and_shown(tenant_a):
    """A row slipped into a sealed id range, and a back-dated row after the last seal."""
    rows = _sealed_rows(tenant_a)
    as_attacker("DELETE FROM delegation_auditevent WHERE id = %s", [rows[4].id])
    forged_in_range = AuditEvent(
        id=rows[4].id, tenant=tenant_a["tenant"], type="sd", user_id="auth0|forged"
    )
    with time_machine.travel(rows[4].created_at, tick=False):
        forged_in_range.save(force_insert=True)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        backdated = AuditEvent.objects.create(tenant=tenant_a["tenant"], type="sd", user_id="x")
    out = verify_output(tenant_a["tenant"].slug)
    assert f"changed row {rows[4].id}" in out
    assert f"inserted row {backdated.id}" in out
    assert _console_status(tenant_a, backdated.id)[0] == "tampered"
    assert _console_status(tenant_a, rows[4].id)[0] == "tampered"
    # A row with an id inside a sealed range that was never sealed.
    as_attacker("DELETE FROM delegation_auditevent WHERE id = %s", [rows[4].id])
    assert "deleted row" in verify_output(tenant_a["tenant"].slug)


def test_seal_forgery_is_detected(tenant_a):
    """Re-computing a seal after changing a row: the signature (tenant key) gives it away;
    breaking the chain is reported too."""
    rows = _sealed_rows(tenant_a)
    as_attacker("UPDATE delegation_auditevent SET reason = 'x' WHERE id = %s", [rows[0].id])
    stored = AuditSeal.objects.get(tenant=tenant_a["tenant"])
    values = list(
        AuditEvent.objects.filter(tenant=tenant_a["tenant"])
        .order_by("id")
        .values(*canonical.COLUMNS)
    )
    leaves = [canonical.row_leaf_hash(v) for v in values]
    stored.root_hash = merkle.tree_hash(leaves).hex()
    stored.leaves = b"".join(
        sealing.LEAF.pack(v["id"], sealing._micros(v["created_at"]), leaf)
        for v, leaf in zip(values, leaves, strict=True)
    )
    stored.seal_hash = hashlib.sha256(sealing.seal_body(stored)).hexdigest()
    stored.save()
    out = verify_output(tenant_a["tenant"].slug)
    assert "signature" in out and "changed" not in out
    stored.previous_hash = "0" * 64
    stored.save()
    assert "chain" in verify_output(tenant_a["tenant"].slug)


# --- PostgreSQL: the application role cannot UPDATE or DELETE ---------------------------------
@pytest.mark.postgres_only
def test_update_and_delete_are_refused_by_the_database(postgres, tenant_a):
    row = make_rows(tenant_a["tenant"], 1)[0]
    for sql in (
        "UPDATE delegation_auditevent SET user_id = 'x' WHERE id = %s",
        "DELETE FROM delegation_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [row.id])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).update(reason="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).delete()
    assert AuditEvent.objects.get(pk=row.pk).user_id == "auth0|u0"


@pytest.mark.postgres_only
@pytest.mark.parametrize("how", ["disable trigger", "replica role"])
def test_postgres_tamper_as_superuser_is_detected(postgres, tenant_a, how):
    """An attacker with superuser rights disables the trigger, changes a user, deletes a row
    and inserts a forged one: audit_verify finds all three and exits non-zero."""
    rows = _sealed_rows(tenant_a)
    with connection.cursor() as cursor:
        if how == "disable trigger":
            cursor.execute("ALTER TABLE delegation_auditevent DISABLE TRIGGER USER")
        else:
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE delegation_auditevent SET user_id = 'auth0|mallory' WHERE id = %s", [rows[1].id]
        )
        cursor.execute("DELETE FROM delegation_auditevent WHERE id = %s", [rows[2].id])
        cursor.execute(
            "INSERT INTO delegation_auditevent (tenant_id, created_at, type, source_client_id, "
            "target_client_id, api_type, scope, user_id, jti, token_fingerprint, error, reason, "
            "user_agent, object_repr, details) VALUES (%s, %s, 'sd', '', '', 'app', '', "
            "'auth0|forged', '', '', '', '', '', '', '{}') RETURNING id",
            [tenant_a["tenant"].pk, T0 + timedelta(seconds=30)],
        )
        forged = cursor.fetchone()[0]
        if how == "disable trigger":
            cursor.execute("ALTER TABLE delegation_auditevent ENABLE TRIGGER USER")
        else:
            cursor.execute("SET session_replication_role = DEFAULT")
    out = verify_output(tenant_a["tenant"].slug)
    assert f"changed row {rows[1].id}" in out
    assert f"deleted row {rows[2].id}" in out
    assert f"inserted row {forged}" in out
    verification = AuditVerification.objects.filter(tenant=tenant_a["tenant"]).first()
    assert not verification.ok and len(verification.findings) == 3
    assert _console_status(tenant_a, rows[1].id)[0] == "tampered"
    assert _console_status(tenant_a, forged)[0] == "tampered"


@pytest.mark.postgres_only
def test_table_is_partitioned_by_month(postgres):
    assert partitions.is_partitioned()
    names = [p.name for p in partitions.partitions_list()]
    now = datetime.now(UTC)
    assert partitions.partition_name(partitions.month_start(now)) in names
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'delegation_auditevent'::regclass AND contype = 'p'"
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, created_at)"
    created = partitions.partitions_ensure(now=now, months_ahead=6)
    assert len(created) == 3
    assert partitions.partitions_ensure(now=now, months_ahead=6) == []


# --- retention -------------------------------------------------------------------------------
def test_retention_needs_seal_and_export(tenant_a, tenant_b):
    """Rows go only past the tenant's retention, when sealed and exported; verify then
    counts them as pruned, not deleted."""
    old_start = datetime.now(UTC) - timedelta(days=200)
    if connection.vendor == "postgresql":
        partitions.partitions_ensure(now=datetime.now(UTC), since=old_start - timedelta(days=40))
    old = make_rows(tenant_a["tenant"], 3, start=old_start)
    recent = make_rows(tenant_a["tenant"], 2, start=datetime.now(UTC) - timedelta(days=5))
    tenant_b["tenant"].audit_retention_days = None
    tenant_b["tenant"].save()
    exported = datetime.now(UTC) - timedelta(days=30)
    from delegation.audit.retention import audit_retention_run

    # Not sealed yet: nothing goes.
    report = audit_retention_run(now=datetime.now(UTC), exported_through=exported)
    assert report.rows == 0 and AuditEvent.objects.filter(pk=old[0].pk).exists()
    sealing.audit_seal_tenant(tenant=tenant_a["tenant"])
    # Not exported that far: nothing goes.
    report = audit_retention_run(now=datetime.now(UTC), exported_through=old_start)
    assert report.rows == 0
    report = audit_retention_run(now=datetime.now(UTC), exported_through=exported)
    assert report.rows == 3, report
    assert not AuditEvent.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[r.pk for r in recent]).count() == 2
    assert AuditPrune.objects.exists()
    verified = sealing.audit_verify_tenant(tenant=tenant_a["tenant"])
    assert verified.ok and verified.pruned == 3


def test_retention_keeps_months_another_tenant_keeps(postgres, tenant_a, tenant_b):
    """PostgreSQL drops whole months: tenant B keeping its log forever keeps the month."""
    old_start = datetime.now(UTC) - timedelta(days=200)
    partitions.partitions_ensure(now=datetime.now(UTC), since=old_start - timedelta(days=40))
    make_rows(tenant_a["tenant"], 2, start=old_start)
    make_rows(tenant_b["tenant"], 2, start=old_start)
    tenant_b["tenant"].audit_retention_days = None
    tenant_b["tenant"].save()
    for t in (tenant_a, tenant_b):
        sealing.audit_seal_tenant(tenant=t["tenant"])
    from delegation.audit.retention import audit_retention_run

    report = audit_retention_run(
        now=datetime.now(UTC), exported_through=datetime.now(UTC) - timedelta(days=30)
    )
    assert report.rows == 0
    assert any("tenant-b keeps its audit log forever" in why for _, why in report.kept)


def test_retention_command_requires_exported_through(db):
    with pytest.raises(CommandError):
        call_command("audit_retention")
    with pytest.raises(CommandError):
        call_command("audit_retention", "--exported-through", "yesterday")
    call_command("audit_retention", "--exported-through", "2026-01-01", "--dry-run")

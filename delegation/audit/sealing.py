"""Sealing and verifying the audit log (RFC 6962-style tamper evidence).

A seal covers one tenant's rows with ids in ``(after_id, last_id]``: the next rows after the
previous seal, in id order, up to the first row created within ``margin`` of now (a row whose
insert is still in flight then cannot land inside a range already sealed) and at most
``batch`` rows. Its body (``seal_body``) holds the RFC 6962 tree hash over the rows'
canonical leaf hashes and the previous seal's hash; it is signed RS256 with the tenant's
active key. Sealing only reads the audit table (plain SELECTs, no locks) and writes
``AuditSeal`` rows, so it never blocks the delegation insert; two sealers of one tenant
collide on the unique (tenant, sequence) and the loser stops.

``audit_verify`` re-reads every sealed row and reports, per tenant: rows changed, deleted
(unless retention pruned them) or inserted out of order since their seal, seals whose leaves
no longer give their root, a broken chain and a bad signature.
"""

import base64
import bisect
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from delegation.audit import canonical, merkle
from delegation.models import AuditEvent, AuditPrune, AuditSeal, AuditVerification
from tenantauth import signing
from tenantauth.models import SigningKey, Tenant

DEFAULT_MARGIN = timedelta(seconds=60)
DEFAULT_BATCH = 10_000
LEAF = struct.Struct(">qq32s")  # id, created_at µs since the epoch, leaf hash: 48 bytes


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def seal_body(seal: AuditSeal) -> bytes:
    """The signed bytes of a seal: canonical JSON (sorted keys, no whitespace, UTF-8)."""
    body = {
        "canonical_version": canonical.VERSION,
        "tenant_id": seal.tenant_id,
        "sequence": seal.sequence,
        "after_id": seal.after_id,
        "last_id": seal.last_id,
        "row_count": seal.row_count,
        "first_created_at": _iso(seal.first_created_at),
        "last_created_at": _iso(seal.last_created_at),
        "root_hash": seal.root_hash,
        "previous_hash": seal.previous_hash,
        "sealed_at": _iso(seal.sealed_at),
        "cutoff": _iso(seal.cutoff),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def unpack_leaves(blob: bytes) -> list[tuple[int, int, bytes]]:
    """``[(id, created_at µs, leaf hash)]`` from a seal's ``leaves``."""
    return [LEAF.unpack_from(blob, offset) for offset in range(0, len(bytes(blob)), LEAF.size)]


def _rows(queryset):
    return queryset.order_by("id").values(*canonical.COLUMNS)


def _sign(tenant: Tenant, body: bytes) -> tuple[str, str]:
    key = tenant.active_signing_key
    if key is None:
        raise signing.KeyUnavailableError("tenant has no active signing key")
    signature = signing.rsa_private_key(key).sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode(), key.kid


def audit_seal_tenant(
    *,
    tenant: Tenant,
    now: datetime | None = None,
    margin: timedelta = DEFAULT_MARGIN,
    batch: int = DEFAULT_BATCH,
) -> list[AuditSeal]:
    """Seal every row of ``tenant`` older than ``now - margin`` not sealed yet.

    Returns the new seals (empty when nothing was due). Raises
    ``signing.KeyUnavailableError`` when the tenant has no usable signing key.
    """
    now = now or timezone.now()
    cutoff = now - margin
    tenant = Tenant.objects.select_related("active_signing_key").get(pk=tenant.pk)
    created = []
    while True:
        previous = AuditSeal.objects.filter(tenant=tenant).order_by("-sequence").first()
        after_id = previous.last_id if previous else 0
        # The range ends before the first row that is too new: rows are taken in id order.
        candidates = list(_rows(AuditEvent.objects.filter(tenant=tenant, id__gt=after_id))[:batch])
        rows = []
        for row in candidates:
            if row["created_at"] >= cutoff:
                break
            rows.append(row)
        if not rows:
            return created
        leaves = [canonical.row_leaf_hash(row) for row in rows]
        blob = b"".join(
            LEAF.pack(row["id"], _micros(row["created_at"]), leaf)
            for row, leaf in zip(rows, leaves, strict=True)
        )
        seal = AuditSeal(
            tenant=tenant,
            sequence=(previous.sequence + 1) if previous else 1,
            after_id=after_id,
            last_id=rows[-1]["id"],
            row_count=len(rows),
            first_created_at=min(r["created_at"] for r in rows),
            last_created_at=max(r["created_at"] for r in rows),
            leaves=blob,
            root_hash=merkle.tree_hash(leaves).hex(),
            previous_hash=previous.seal_hash if previous else "",
            sealed_at=now,
            cutoff=cutoff,
        )
        body = seal_body(seal)
        seal.seal_hash = hashlib.sha256(body).hexdigest()
        seal.signature, seal.kid = _sign(tenant, body)
        try:
            with transaction.atomic():
                seal.save()
        except IntegrityError:  # another sealer took this sequence number: let it finish
            return created
        created.append(seal)
        if len(candidates) < batch or len(rows) < len(candidates):
            return created


# --- verification ------------------------------------------------------------------------------
@dataclass
class VerifyReport:
    """What ``audit_verify_tenant`` found. ``findings``: dicts with ``kind`` (changed,
    deleted, inserted, root, chain, signature), ``id`` (row id or None), ``seal`` (sequence
    or None) and ``detail``."""

    tenant: Tenant
    seals_checked: int = 0
    rows_checked: int = 0
    pruned: int = 0
    findings: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, *, row_id=None, seal=None, detail: str = "") -> None:
        self.findings.append({"kind": kind, "id": row_id, "seal": seal, "detail": detail})


def _signature_ok(seal: AuditSeal, body: bytes) -> bool:
    stored = SigningKey.objects.filter(tenant_id=seal.tenant_id, kid=seal.kid).first()
    if stored is None:
        return False
    try:
        raw = base64.urlsafe_b64decode(seal.signature + "=" * (-len(seal.signature) % 4))
        signing.rsa_public_key(stored).verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _pruned_ranges(tenant: Tenant) -> list[tuple[datetime | None, datetime]]:
    return list(
        AuditPrune.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True)).values_list(
            "range_start", "range_end"
        )
    )


def _is_pruned(micros: int, ranges) -> bool:
    moment = _from_micros(micros)
    return any((start is None or start <= moment) and moment < end for start, end in ranges)


def audit_verify_tenant(*, tenant: Tenant, now: datetime | None = None) -> VerifyReport:
    """Check every seal of ``tenant`` and every row it covers; record the outcome.

    Reads the rows seal by seal (one id range each). Saves an ``AuditVerification`` and
    returns the ``VerifyReport``.
    """
    report = VerifyReport(tenant=tenant)
    pruned = _pruned_ranges(tenant)
    previous = None
    for seal in AuditSeal.objects.filter(tenant=tenant).order_by("sequence").iterator(10):
        report.seals_checked += 1
        body = seal_body(seal)
        if hashlib.sha256(body).hexdigest() != seal.seal_hash:
            report.add("chain", seal=seal.sequence, detail="seal hash does not match its body")
        expected = (
            (previous.sequence + 1, previous.last_id, previous.seal_hash)
            if previous
            else (1, seal.after_id, "")
        )
        if (seal.sequence, seal.after_id, seal.previous_hash) != expected:
            report.add("chain", seal=seal.sequence, detail="not linked to the previous seal")
        if not _signature_ok(seal, body):
            report.add("signature", seal=seal.sequence, detail=f"kid {seal.kid[:12]}")
        leaves = unpack_leaves(seal.leaves)
        if (
            merkle.tree_hash([leaf for _, _, leaf in leaves]).hex() != seal.root_hash
            or len(leaves) != seal.row_count
        ):
            report.add("root", seal=seal.sequence, detail="stored leaves do not give the root")
        sealed = {row_id: (micros, leaf) for row_id, micros, leaf in leaves}
        rows = AuditEvent.objects.filter(tenant=tenant, id__gt=seal.after_id, id__lte=seal.last_id)
        seen = set()
        for row in _rows(rows).iterator(chunk_size=2000):
            report.rows_checked += 1
            seen.add(row["id"])
            stored = sealed.get(row["id"])
            if stored is None:
                report.add("inserted", row_id=row["id"], seal=seal.sequence)
            elif stored[1] != canonical.row_leaf_hash(row):
                report.add("changed", row_id=row["id"], seal=seal.sequence)
        for row_id, (micros, _) in sealed.items():
            if row_id not in seen:
                if _is_pruned(micros, pruned):
                    report.pruned += 1
                else:
                    report.add("deleted", row_id=row_id, seal=seal.sequence)
        previous = seal
    if previous is not None:
        # Unsealed rows older than the last seal's cutoff were inserted after it, out of order.
        late = AuditEvent.objects.filter(
            tenant=tenant, id__gt=previous.last_id, created_at__lt=previous.cutoff
        ).values_list("id", flat=True)
        for row_id in late.order_by("id")[:1000]:
            report.add("inserted", row_id=row_id, detail="older than the last seal's cutoff")
    AuditVerification.objects.create(
        tenant=tenant,
        verified_at=now or timezone.now(),
        ok=report.ok,
        seals_checked=report.seals_checked,
        rows_checked=report.rows_checked,
        findings=report.findings[:1000],
    )
    return report


# --- per-row status for the console ------------------------------------------------------------
def row_seal_status(*, rows: list[AuditEvent]) -> dict[int, tuple[str, str]]:
    """``{row id: (status, detail)}`` for the rows of a page, computed now.

    status: "sealed" (its hash matches its seal), "not yet sealed", or "tampered" (changed
    since sealed, or inserted into / before an already sealed range). Reads the seals that
    cover the page's ids (one query per tenant on the page).
    """
    status: dict[int, tuple[str, str]] = {}
    by_tenant: dict[int, list[AuditEvent]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(row)
    for tenant_id, tenant_rows in by_tenant.items():
        low, high = min(r.id for r in tenant_rows), max(r.id for r in tenant_rows)
        seals = list(
            AuditSeal.objects.filter(tenant_id=tenant_id, last_id__gte=low, after_id__lt=high)
            .only("sequence", "after_id", "last_id", "leaves", "cutoff")
            .order_by("sequence")
        )
        last = (
            AuditSeal.objects.filter(tenant_id=tenant_id)
            .only("last_id", "cutoff", "sequence")
            .order_by("-sequence")
            .first()
        )
        unpacked = {s.sequence: unpack_leaves(s.leaves) for s in seals}
        for row in tenant_rows:
            if last is None or row.id > last.last_id:
                if last is not None and row.created_at < last.cutoff:
                    status[row.id] = ("tampered", "inserted after the log was sealed")
                else:
                    status[row.id] = ("not yet sealed", "")
                continue
            seal = next((s for s in seals if s.after_id < row.id <= s.last_id), None)
            leaves = unpacked.get(seal.sequence, []) if seal else []
            ids = [leaf[0] for leaf in leaves]
            at = bisect.bisect_left(ids, row.id)
            if at == len(ids) or ids[at] != row.id:
                status[row.id] = ("tampered", "inserted into a sealed range")
            elif leaves[at][2] != canonical.row_leaf_hash(
                {name: getattr(row, name) for name in canonical.COLUMNS}
            ):
                status[row.id] = ("tampered", f"changed since seal #{seal.sequence}")
            else:
                status[row.id] = ("sealed", f"seal #{seal.sequence}")
    return status

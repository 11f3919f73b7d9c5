"""Reads of the audit console: filtered keyset pages, estimates, names, the chart, a token.

Every read takes the tenants it may see explicitly (``tenants``: one tenant, or several for
platform staff viewing all tenants) and a validated ``AuditFilter``; nothing here reads
request parameters. Each filter maps to one index of ``AuditEvent`` (all start with the
tenant and end with ``(created_at, id)``), so a page is an ordered index range scan that
stops after ``size + 1`` rows, whatever the size of the table:

- pages are keyset-paginated by ``(created_at, id)`` (newest first), never OFFSET;
- the number of matching rows is an estimate (PostgreSQL: the planner's row estimate from
  ``EXPLAIN``; SQLite: a count capped at ``COUNT_CAP``), never ``COUNT(*)`` over the table;
- application names and user e-mails are resolved per page in one query each;
- the chart groups one bounded time range by (bucket, application, outcome).
"""

import base64
import binascii
import heapq
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc
from django.utils import timezone

from delegation.models import AuditEvent
from tenantauth import crypto, signing
from tenantauth.models import Application, SigningKey, Tenant, TenantUser

PAGE_SIZE = 50
COUNT_CAP = 10_000
DELEGATION_TYPES = (AuditEvent.Type.DELEGATION_SUCCESS, AuditEvent.Type.DELEGATION_FAILURE)
OUTCOME_TYPES = {
    "success": AuditEvent.Type.DELEGATION_SUCCESS,
    "failure": AuditEvent.Type.DELEGATION_FAILURE,
}


@dataclass(frozen=True)
class AuditFilter:
    """A validated console filter (see ``delegation.audit.forms.AuditFilterForm``).

    Datetimes are aware (UTC); ``since`` is inclusive, ``until`` exclusive. Empty strings mean
    "any". ``user_id`` is already resolved (an e-mail was looked up first).
    """

    since: datetime | None = None
    until: datetime | None = None
    outcome: str = ""  # "", "success", "failure"
    type: str = ""
    source: str = ""
    target: str = ""
    api_type: str = ""
    user_id: str = ""
    error: str = ""

    def is_empty(self) -> bool:
        return self == AuditFilter()


@dataclass(frozen=True)
class Cursor:
    """A keyset position: the ``(created_at, id)`` of a row."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.created_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}_{self.id}"

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        """Parse ``YYYYMMDDTHHMMSS.ffffffZ_<id>``; raises ValueError on anything else."""
        match = re.fullmatch(r"(\d{8}T\d{6}\.\d{6})Z_(\d{1,19})", value)
        if not match:
            raise ValueError("bad cursor")
        moment = datetime.strptime(match[1], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        return cls(moment, int(match[2]))


@dataclass
class Page:
    """One page of rows, newest first, and the cursors to the neighbouring pages (None: no
    such page)."""

    rows: list[AuditEvent]
    newer: Cursor | None
    older: Cursor | None


def audit_events_filter(*, tenants: list[Tenant], audit_filter: AuditFilter) -> QuerySet:
    """The rows of ``tenants`` matching ``audit_filter`` (unordered queryset, lazily run)."""
    f = audit_filter
    qs = AuditEvent.objects.filter(tenant__in=[t.pk for t in tenants])
    if len(tenants) == 1:
        qs = AuditEvent.objects.filter(tenant=tenants[0])
    if f.since is not None:
        qs = qs.filter(created_at__gte=f.since)
    if f.until is not None:
        qs = qs.filter(created_at__lt=f.until)
    if f.outcome:
        qs = qs.filter(type=OUTCOME_TYPES[f.outcome])
    if f.type:
        qs = qs.filter(type=f.type)
    if f.source:
        qs = qs.filter(source_client_id=f.source)
    if f.target:
        qs = qs.filter(target_client_id=f.target)
    if f.api_type:
        qs = qs.filter(api_type=f.api_type)
    if f.user_id:
        qs = qs.filter(user_id=f.user_id)
    if f.error:
        qs = qs.filter(error=f.error)
    return qs


def _older_than(qs: QuerySet, cursor: Cursor) -> QuerySet:
    # created_at <= c is the index range condition; the OR only trims ties of that instant.
    return qs.filter(
        Q(created_at__lte=cursor.created_at)
        & (Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.id))
    )


def _newer_than(qs: QuerySet, cursor: Cursor) -> QuerySet:
    return qs.filter(
        Q(created_at__gte=cursor.created_at)
        & (Q(created_at__gt=cursor.created_at) | Q(id__gt=cursor.id))
    )


def _one_tenant_page(qs, *, after, before, size) -> list[AuditEvent]:
    if before is not None:  # rows newer than ``before``, fetched oldest first
        rows = list(_newer_than(qs, before).order_by("created_at", "id")[: size + 1])
        return rows
    if after is not None:
        qs = _older_than(qs, after)
    return list(qs.order_by("-created_at", "-id")[: size + 1])


def audit_page(
    *,
    tenants: list[Tenant],
    audit_filter: AuditFilter,
    older_than: Cursor | None = None,
    newer_than: Cursor | None = None,
    size: int | None = None,
) -> Page:
    """One keyset page, newest first.

    ``older_than``: the page of rows just older than that cursor ("older" link);
    ``newer_than``: the page just newer ("newer" link); neither: the newest page. Each
    tenant's query reads at most ``size + 1`` rows from its index; for several tenants
    (platform staff, all tenants) the per-tenant pages are merged.
    """
    size = size or PAGE_SIZE
    rows: list[AuditEvent] = []
    for tenant in tenants:
        qs = audit_events_filter(tenants=[tenant], audit_filter=audit_filter)
        rows.extend(_one_tenant_page(qs, after=older_than, before=newer_than, size=size))
    if newer_than is not None:
        ordered = heapq.nsmallest(size + 1, rows, key=lambda r: (r.created_at, r.id))
        more = len(ordered) > size
        page = list(reversed(ordered[:size]))
        has_newer, has_older = more, True
    else:
        ordered = heapq.nlargest(size + 1, rows, key=lambda r: (r.created_at, r.id))
        more = len(ordered) > size
        page = ordered[:size]
        has_newer, has_older = older_than is not None, more
    if not page:
        return Page([], None, None)
    return Page(
        page,
        newer=Cursor(page[0].created_at, page[0].id) if has_newer else None,
        older=Cursor(page[-1].created_at, page[-1].id) if has_older else None,
    )


@dataclass(frozen=True)
class Estimate:
    """About how many rows match: ``value`` and whether it is exact (``exact``) or a lower
    bound (``at_least``)."""

    value: int
    exact: bool = False
    at_least: bool = False


def audit_count_estimate(qs: QuerySet) -> Estimate:
    """The planner's estimate on PostgreSQL (no rows read); on SQLite a count capped at
    ``COUNT_CAP`` (reads at most that many index entries)."""
    if connection.vendor == "postgresql":
        plan = json.loads(qs.explain(format="json"))
        return Estimate(int(plan[0]["Plan"]["Plan Rows"]))
    capped = qs.order_by()[: COUNT_CAP + 1].count()
    return Estimate(min(capped, COUNT_CAP), exact=capped <= COUNT_CAP, at_least=capped > COUNT_CAP)


def application_names(*, tenants: list[Tenant], client_ids) -> dict[tuple[int, str], str]:
    """``{(tenant_id, client_id): name}`` for the given client IDs, in one query."""
    ids = {c for c in client_ids if c}
    if not ids:
        return {}
    rows = Application.objects.filter(
        tenant__in=[t.pk for t in tenants], client_id__in=ids
    ).values_list("tenant_id", "client_id", "name")
    return {(t, c): n for t, c, n in rows}


def user_emails(*, tenants: list[Tenant], user_ids) -> dict[tuple[int, str], str]:
    """``{(tenant_id, user_id): email}`` for the given user IDs, in one query."""
    ids = {u for u in user_ids if u}
    if not ids:
        return {}
    rows = TenantUser.objects.filter(
        tenant__in=[t.pk for t in tenants], user_id__in=ids
    ).values_list("tenant_id", "user_id", "email")
    return {(t, u): e for t, u, e in rows}


def user_id_resolve(*, tenants: list[Tenant], value: str) -> str:
    """An e-mail or a ``user_id`` typed in the user filter, as a ``user_id``.

    An e-mail of a known user becomes its ``user_id``; anything else is taken as a
    ``user_id`` (the rows may outlive the user).
    """
    if "@" in value and "|" not in value:
        found = (
            TenantUser.objects.filter(tenant__in=[t.pk for t in tenants], email__iexact=value)
            .values_list("user_id", flat=True)
            .first()
        )
        if found:
            return found
    return value


# --- chart -------------------------------------------------------------------------------------
CHART_DEFAULT_SPAN = timedelta(days=1)
CHART_MAX_SPAN = timedelta(days=400)


def chart_bucket(span: timedelta) -> str:
    """The Trunc kind for a range: hours up to 3 days, days up to 120 days, else months."""
    if span <= timedelta(days=3):
        return "hour"
    if span <= timedelta(days=120):
        return "day"
    return "month"


@dataclass
class ChartData:
    """Counts per time bucket: ``buckets`` (ISO UTC starts), and ``series``: one per
    (application, outcome) with a count per bucket. ``since``/``until``: the range drawn."""

    since: datetime
    until: datetime
    bucket: str
    buckets: list[str] = field(default_factory=list)
    series: list[dict] = field(default_factory=list)


def audit_chart(
    *, tenants: list[Tenant], audit_filter: AuditFilter, now: datetime | None = None
) -> ChartData:
    """Issuances (``sd``) and failures (``fd``) per bucket and target application.

    The range is the filter's (bounded: a missing ``since`` means ``until`` minus one day, a
    missing ``until`` means now; at most ``CHART_MAX_SPAN``), so the query reads one index
    range of (tenant, created_at) or of the filter's own index, grouped by
    (bucket, target, type): ``date_trunc`` on PostgreSQL, Django's trunc function on SQLite.
    """
    now = now or timezone.now()
    until = audit_filter.until or now
    since = audit_filter.since or (until - CHART_DEFAULT_SPAN)
    since = max(since, until - CHART_MAX_SPAN)
    bounded = AuditFilter(**{**audit_filter.__dict__, "since": since, "until": until})
    bucket = chart_bucket(until - since)
    qs = (
        audit_events_filter(tenants=tenants, audit_filter=bounded)
        .filter(type__in=DELEGATION_TYPES)
        .annotate(bucket=Trunc("created_at", bucket, tzinfo=UTC))
        .values("bucket", "tenant_id", "target_client_id", "type")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[tuple[int, str, str], dict[str, int]] = {}
    seen_buckets = set()
    for row in qs:
        moment = row["bucket"]
        if isinstance(moment, str):  # some SQLite builds hand back text
            moment = datetime.fromisoformat(moment)
        key = moment.astimezone(UTC).isoformat()
        seen_buckets.add(key)
        counts.setdefault((row["tenant_id"], row["target_client_id"], row["type"]), {})[key] = row[
            "n"
        ]
    buckets = _bucket_starts(since, until, bucket) or sorted(seen_buckets)
    names = application_names(tenants=tenants, client_ids={k[1] for k in counts})
    series = []
    for (tenant_id, client_id, type_), per in sorted(counts.items()):
        name = names.get((tenant_id, client_id), client_id or "(none)")
        series.append(
            {
                "application": name,
                "client_id": client_id,
                "outcome": "issued" if type_ == AuditEvent.Type.DELEGATION_SUCCESS else "failed",
                "counts": [per.get(b, 0) for b in buckets],
                "total": sum(per.values()),
            }
        )
    return ChartData(since=since, until=until, bucket=bucket, buckets=buckets, series=series)


def _bucket_starts(since: datetime, until: datetime, bucket: str) -> list[str]:
    since = since.astimezone(UTC)
    if bucket == "hour":
        start, step = since.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)
    elif bucket == "day":
        start, step = since.replace(hour=0, minute=0, second=0, microsecond=0), timedelta(days=1)
    else:
        starts, moment = [], since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while moment < until:
            starts.append(moment.isoformat())
            moment = (moment + timedelta(days=32)).replace(day=1)
        return starts
    starts, moment = [], start
    while moment < until:
        starts.append(moment.isoformat())
        moment += step
    return starts


# --- finding a token -------------------------------------------------------------------------
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX32 = re.compile(r"[0-9a-f]{32}")


@dataclass
class TokenFinding:
    """What the console knows about a pasted value.

    ``kind``: how the value was read ("fingerprint", "jti", "token"); ``fingerprint``: the
    SHA-256 looked up; ``events``: matching rows (normally one); ``jwt_header``/``jwt_claims``:
    the decoded (unverified) JWT parts, if the value is a JWT; ``signature``: "valid",
    "invalid", "unknown key" or "" (not checked); ``signature_key``: which key was used;
    ``lifetime``: "valid", "expired", "not yet valid" or ""; ``note``: one sentence.
    """

    kind: str
    fingerprint: str = ""
    events: list[AuditEvent] = field(default_factory=list)
    jwt_header: dict | None = None
    jwt_claims: dict | None = None
    signature: str = ""
    signature_key: str = ""
    lifetime: str = ""
    expires_at: datetime | None = None
    note: str = ""


def _b64json(part: str) -> dict | None:
    try:
        padded = part + "=" * (-len(part) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return value if isinstance(value, dict) else None


def _lookup(tenants: list[Tenant], **where) -> list[AuditEvent]:
    found = []
    for tenant in tenants:  # one indexed lookup per tenant (tenant first in every index)
        found.extend(
            AuditEvent.objects.filter(tenant=tenant, **where).order_by("-created_at", "-id")[:10]
        )
    return found


def audit_token_find(*, tenants: list[Tenant], value: str, now: datetime | None = None):
    """Find the record of a pasted token, ``jti`` or SHA-256 fingerprint among ``tenants``.

    ``value`` is used in memory only (never stored or logged). A 64-hex value is a
    fingerprint, a 32-hex value a ``jti``; anything else is a credential, hashed with
    ``crypto.fingerprint`` as the issuing service did. For a JWT the header and claims are
    decoded, the signature is checked with the key that should have signed it (HS256: the
    target application's client secret; RS256: the tenant key named by ``kid``, retired keys
    included) and ``exp``/``nbf`` are compared with ``now``. Returns a ``TokenFinding``.
    """
    now = now or timezone.now()
    value = value.strip()
    if HEX64.fullmatch(value):
        finding = TokenFinding("fingerprint", fingerprint=value)
        finding.events = _lookup(tenants, token_fingerprint=value)
        finding.events += [e for e in _lookup(tenants, jti=value) if e not in finding.events]
    elif HEX32.fullmatch(value):
        finding = TokenFinding("jti")
        finding.events = _lookup(tenants, jti=value)
    else:
        finding = TokenFinding("token", fingerprint=crypto.fingerprint(value))
        finding.events = _lookup(tenants, token_fingerprint=finding.fingerprint)
        parts = value.split(".")
        if len(parts) == 3:
            finding.jwt_header, finding.jwt_claims = _b64json(parts[0]), _b64json(parts[1])
        if finding.jwt_header is not None and finding.jwt_claims is not None:
            _check_jwt(finding, tenants=tenants, token=value, now=now)
    if finding.events:
        event = finding.events[0]
        if finding.lifetime == "" and event.expires_at is not None:
            finding.expires_at = event.expires_at
            finding.lifetime = "valid" if now < event.expires_at else "expired"
        if finding.kind == "token":
            finding.note = "Issued by this service: the record below is this exact token."
    elif finding.kind == "token":
        jti = (finding.jwt_claims or {}).get("jti")
        same_jti = _lookup(tenants, jti=jti) if isinstance(jti, str) and jti else []
        if same_jti:
            finding.events = same_jti
            finding.note = (
                "Never issued as pasted: its jti belongs to the record below, but the token's "
                "bytes differ from the token issued (altered or re-signed)."
            )
        else:
            finding.note = "Never issued by this service (no record of this token here)."
    else:
        finding.note = f"No record with this {finding.kind} here."
    return finding


def _check_jwt(finding: TokenFinding, *, tenants, token: str, now: datetime) -> None:
    header, claims = finding.jwt_header, finding.jwt_claims
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if isinstance(exp, int | float):
        finding.expires_at = datetime.fromtimestamp(exp, tz=UTC)
        if now.timestamp() >= exp:
            finding.lifetime = "expired"
        elif isinstance(nbf, int | float) and now.timestamp() < nbf:
            finding.lifetime = "not yet valid"
        else:
            finding.lifetime = "valid"
    alg = header.get("alg")
    aud = claims.get("aud")
    event = finding.events[0] if finding.events else None
    tenant_ids = [event.tenant_id] if event else [t.pk for t in tenants]
    target_id = event.target_client_id if event else (aud if isinstance(aud, str) else "")
    key, label = None, ""
    if alg == "HS256" and target_id:
        app = Application.objects.filter(tenant__in=tenant_ids, client_id=target_id).first()
        if app is not None:
            try:
                key, label = signing.hs256_secret(app), f"client secret of {app.name}"
            except (signing.WeakKeyError, crypto.DecryptionError):
                key = None
    elif alg == "RS256" and isinstance(header.get("kid"), str):
        stored = SigningKey.objects.filter(tenant__in=tenant_ids, kid=header["kid"]).first()
        if stored is not None:
            key = signing.rsa_public_key(stored)
            label = f"tenant key {stored.kid[:12]}… ({stored.get_status_display()})"
    if key is None:
        finding.signature = "unknown key"
        finding.signature_key = f"no key of this tenant matches alg {alg!s:.10}"
        return
    try:
        jwt.decode(
            token,
            key,
            algorithms=[alg],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iat": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidTokenError:
        finding.signature = "invalid"
    else:
        finding.signature = "valid"
    finding.signature_key = label

"""The audit console (issue 11): list, filters, keyset pages, detail, token search, export,
chart; scoped to the tenant, read-only, 400 on bad input. Runs on SQLite and PostgreSQL."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from delegation.audit import export
from delegation.models import AuditEvent
from tenantauth import services
from tenantauth.models import Application, Membership
from tests.delegation.helpers import body_for, id_token_for, post_json

LIST = "/admin/delegation/auditevent/"
FIND = LIST + "find/"
EXPORT = LIST + "export/"
CHART = LIST + "chart/"
CHART_JSON = LIST + "chart.json"
T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def make_event(tenant, *, at=None, **fields):
    fields.setdefault("type", AuditEvent.Type.DELEGATION_SUCCESS)
    with time_machine.travel(at or T0, tick=False):
        return AuditEvent.objects.create(tenant=tenant, **fields)


def issue(client, setup, target="apiC", **params):
    """A real delegation through the endpoint; returns (token, its sd row)."""
    source = setup["appA"]
    token = id_token_for(setup["tenant"], source, setup["user"])
    response = post_json(
        client, setup["tenant"], body_for(source, token, target=setup[target].client_id, **params)
    )
    assert response.status_code == 200, response.content
    issued = response.json()["id_token"]
    return issued, AuditEvent.objects.filter(type="sd").order_by("-id").first()


@pytest.fixture
def auditor(tenant_a):
    client = Client()
    client.force_login(tenant_a["auditor"])
    return client


@pytest.fixture
def rows_a(tenant_a):
    t = tenant_a
    made = []
    for i in range(7):
        made.append(
            make_event(
                t["tenant"],
                at=T0 + timedelta(minutes=i),
                source_client_id=t["appA"].client_id if i % 2 else t["appB"].client_id,
                target_client_id=t["apiC"].client_id,
                api_type="app" if i != 3 else "firebase",
                user_id=t["user"].user_id,
                jti=f"{i:032x}",
                token_fingerprint=f"{i:064x}",
                client_ip="203.0.113.7",
            )
        )
    made.append(
        make_event(
            t["tenant"],
            at=T0 + timedelta(minutes=10),
            type=AuditEvent.Type.DELEGATION_FAILURE,
            source_client_id=t["appA"].client_id,
            target_client_id=t["apiC"].client_id,
            api_type="app",
            user_id=t["user"].user_id,
            error="invalid_target",
            reason="not_in_allowlist",
        )
    )
    return made


def shown_ids(response) -> list[int]:
    return [r["event"].pk for r in response.context["rows"]]


# --- list ------------------------------------------------------------------------------------
def test_list_shows_names_user_reason_and_second_precision(auditor, tenant_a, rows_a):
    """Source and target by name with the client ID on hover, the user's e-mail and user_id,
    the error code with the specific rule, the IP, and the time to the second (UTC in the
    <time datetime> attribute and on hover)."""
    response = auditor.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert shown_ids(response) == [r.pk for r in reversed(rows_a)]
    assert f'title="{tenant_a["apiC"].client_id}">apiC<' in page
    assert f'title="{tenant_a["appA"].client_id}">appA<' in page
    assert tenant_a["user"].email in page and tenant_a["user"].user_id in page
    assert "invalid_target" in page and "not_in_allowlist" in page
    assert "203.0.113.7" in page
    assert 'datetime="2026-03-10T12:10:00.000000Z"' in page
    assert 'title="2026-03-10 12:10:00 UTC"' in page
    assert "matching event" in page


def test_list_queries_do_not_grow_with_rows(auditor, tenant_a):
    """Names and e-mails are resolved with one query each per page, never per row."""

    def queries_for(n):
        for i in range(n):
            make_event(
                tenant_a["tenant"],
                at=T0 + timedelta(seconds=i),
                source_client_id=tenant_a["appA"].client_id,
                target_client_id=tenant_a["apiC"].client_id,
                user_id=f"auth0|user{i}",
            )
        with CaptureQueriesContext(connection) as captured:
            assert auditor.get(LIST).status_code == 200
        return len(captured)

    few = queries_for(2)
    many = queries_for(40)
    assert many == few


@pytest.mark.parametrize(
    ("param", "value", "expect"),
    [
        ("outcome", "failure", {7}),
        ("outcome", "success", {0, 1, 2, 3, 4, 5, 6}),
        ("type", "fd", {7}),
        ("source", "appB", {0, 2, 4, 6}),
        ("target", "apiC", {0, 1, 2, 3, 4, 5, 6, 7}),
        ("api_type", "firebase", {3}),
        ("error", "invalid_target", {7}),
        ("user", "email", {0, 1, 2, 3, 4, 5, 6, 7}),
        ("user", "user_id", {0, 1, 2, 3, 4, 5, 6, 7}),
        ("user", "auth0|nobody", set()),
    ],
)
def test_each_filter(auditor, tenant_a, rows_a, param, value, expect):
    """Every declared filter selects exactly its rows; a user is found by e-mail or id."""
    if param in ("source", "target"):
        value = tenant_a[value].client_id
    if value == "email":
        value = tenant_a["user"].email
    if value == "user_id":
        value = tenant_a["user"].user_id
    response = auditor.get(LIST, {param: value})
    assert response.status_code == 200
    assert set(shown_ids(response)) == {rows_a[i].pk for i in expect}


def test_date_time_range_in_the_viewers_zone(auditor, rows_a):
    """From/To are read in the viewer's zone (tz): 13:02-13:04 in Paris (UTC+1 in March)
    is 12:02-12:04 UTC; From is inclusive, To exclusive."""
    response = auditor.get(
        LIST, {"since": "2026-03-10T13:02", "until": "2026-03-10T13:04", "tz": "Europe/Paris"}
    )
    assert set(shown_ids(response)) == {rows_a[2].pk, rows_a[3].pk}
    utc = auditor.get(LIST, {"since": "2026-03-10T12:02:00", "until": "2026-03-10T12:04:00"})
    assert set(shown_ids(utc)) == {rows_a[2].pk, rows_a[3].pk}


def test_keyset_pages_newer_and_older(auditor, tenant_a, monkeypatch):
    """Pages of 50 by (created_at, id): rows of one instant are split correctly, older and
    newer links walk the whole log without gaps or repeats."""
    monkeypatch.setattr("delegation.audit.selectors.PAGE_SIZE", 3)
    made = [make_event(tenant_a["tenant"], at=T0 + timedelta(seconds=i // 3)) for i in range(8)]
    expected = [e.pk for e in sorted(made, key=lambda e: (e.created_at, e.pk), reverse=True)]
    seen, response, pages = [], auditor.get(LIST), []
    while True:
        assert response.status_code == 200
        pages.append(response)
        seen += shown_ids(response)
        older = response.context["older_query"]
        if not older:
            break
        response = auditor.get(LIST + "?" + older)
    assert seen == expected and len(pages) == 3
    back = auditor.get(LIST + "?" + pages[-1].context["newer_query"])
    assert shown_ids(back) == shown_ids(pages[-2])
    assert not pages[0].context["newer_query"]


@pytest.mark.parametrize(
    "query",
    [
        "outcome=maybe",
        "type=nope",
        "source=not-a-client",
        "api_type=%00",
        "error=server_error%00",
        "user=auth0%7Cx%00y",
        "user=a%0Db",
        "since=yesterday",
        "since=2026-13-01",
        "tz=Mars/Olympus",
        "older=1234",
        "older=20260310T120000.000000Z_1&newer=20260310T120000.000000Z_1",
        "outcome=success&outcome=failure",
        "password__regex=.*",
        "client_secret_fingerprint__startswith=a",
        "q=%00",
        "format=csv",
        "since=2026-03-10T12:00&until=2026-03-10T11:00",
    ],
)
def test_bad_input_is_400(auditor, rows_a, query):
    """Undeclared, repeated, malformed or control-character parameters answer 400 on the
    list, the chart and its data; nothing reaches the ORM."""
    for url in (LIST, CHART, CHART_JSON):
        if query == "format=csv" and url != LIST:
            continue
        response = auditor.get(f"{url}?{query}")
        assert response.status_code == 400, (url, query)
        assert "not_in_allowlist" not in response.content.decode()


def test_no_count_over_the_table(auditor, rows_a):
    """A page load never runs an unbounded COUNT(*) (PostgreSQL: EXPLAIN estimate; SQLite:
    a capped count), and never a DISTINCT over the audit table."""
    with CaptureQueriesContext(connection) as captured:
        assert auditor.get(LIST).status_code == 200
    audit_sql = [q["sql"] for q in captured if "delegation_auditevent" in q["sql"]]
    for sql in audit_sql:
        assert "DISTINCT" not in sql.upper()
        if "COUNT(" in sql.upper():
            assert "LIMIT" in sql.upper()


# --- refusal reasons -------------------------------------------------------------------------
def test_refusal_reasons_reach_the_console(client, auditor, tenant_a):
    """A refused target shows the rule that decided, while the client got invalid_target."""
    t = tenant_a
    Application.objects.filter(pk=t["apiC"].pk).update(allowed_clients=[t["appB"].client_id])
    token = id_token_for(t["tenant"], t["appA"], t["user"])
    response = post_json(
        client, t["tenant"], body_for(t["appA"], token, target=t["apiC"].client_id)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    page = auditor.get(LIST, {"error": "invalid_target"}).content.decode()
    assert "not_in_allowlist" in page


# --- detail ----------------------------------------------------------------------------------
def test_detail_shows_record_and_changes_table(tenant_a):
    """An admin change shows before/after as a table; the auditor sees names, and links only
    to pages it may open."""
    admin = tenant_a["admin"]
    services.tenant_update(tenant=tenant_a["tenant"], actor=admin, delegation_rate_limit=25)
    event = AuditEvent.objects.get(type="settings_changed")
    client = Client()
    client.force_login(tenant_a["auditor"])
    response = client.get(f"{LIST}{event.pk}/change/")
    assert response.status_code == 200
    changes = response.context["changes"]
    assert {"field": "delegation_rate_limit", "before": 10, "after": 25} in changes
    page = response.content.decode()
    assert 'id="audit-changes"' in page and ">25<" in page and ">10<" in page
    assert 'name="_save"' not in page
    # The actor: an auditor cannot open platform accounts, so no link.
    assert admin.username in page
    assert "/admin/auth/user/" not in page


def test_detail_links_follow_the_readers_permissions(tenant_a, rows_a):
    """Links to the source, target and user appear only when the reader may open them: the
    tenant's admin may open applications, its auditor may not (tenantauth.roles) and sees the
    name without a link."""
    url = f"{LIST}{rows_a[7].pk}/change/"
    app_url = f"/admin/tenantauth/application/{tenant_a['apiC'].pk}/change/"
    admin = Client()
    admin.force_login(tenant_a["admin"])
    assert app_url in admin.get(url).content.decode()
    auditor = Client()
    auditor.force_login(tenant_a["auditor"])
    page = auditor.get(url).content.decode()
    assert app_url not in page and "apiC" in page


def test_detail_refuses_changes(tenant_a, rows_a, auditor):
    event = rows_a[0]
    assert auditor.post(f"{LIST}{event.pk}/change/", {"reason": "x"}).status_code == 403
    assert auditor.get(f"{LIST}{event.pk}/delete/").status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


# --- find a token ----------------------------------------------------------------------------
def _find(client, value):
    return client.post(FIND, {"token": value})


def test_find_hs256_token_issued_by_the_endpoint(client, tenant_a, auditor, caplog):
    """A pasted delegation token finds its record; header and claims are shown, the signature
    verifies with apiC's secret, it is within its lifetime; the token is neither echoed,
    logged nor cached."""
    caplog.set_level("DEBUG")
    token, row = issue(client, tenant_a)
    response = _find(auditor, token)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    finding = response.context["finding"]
    assert [e.pk for e in finding.events] == [row.pk]
    assert finding.jwt_header["alg"] == "HS256"
    assert finding.jwt_claims["jti"] == row.jti
    assert finding.signature == "valid" and "apiC" in finding.signature_key
    assert finding.lifetime == "valid"
    page = response.content.decode()
    assert token not in page and token not in caplog.text
    assert row.jti in page  # the decoded claims


def test_find_by_jti_and_fingerprint(client, tenant_a, auditor):
    token, row = issue(client, tenant_a)
    for value in (row.jti, row.token_fingerprint):
        finding = _find(auditor, value).context["finding"]
        assert [e.pk for e in finding.events] == [row.pk]


def test_find_rs256_token_signed_by_a_retired_key(client, tenant_a, auditor):
    """RS256: verified with the tenant key named by kid, also after that key was retired."""
    Application.objects.filter(pk=tenant_a["apiC"].pk).update(jwt_signature_algorithm="RS256")
    token, row = issue(client, tenant_a)
    services.signing_key_rotate(tenant=tenant_a["tenant"], actor=None)
    finding = _find(auditor, token).context["finding"]
    assert finding.events[0].pk == row.pk
    assert finding.signature == "valid" and "Retired" in finding.signature_key


def test_find_expired_and_never_issued_and_altered(client, tenant_a, auditor):
    token, row = issue(client, tenant_a)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=3)):
        assert _find(auditor, token).context["finding"].lifetime == "expired"
    # A token we never issued (signed with apiC's real secret even): no record.
    forged = jwt.encode(
        {"sub": "x", "aud": tenant_a["apiC"].client_id, "exp": 4102444800, "jti": "f" * 32},
        tenant_a["apiC"].client_secret(),
        algorithm="HS256",
    )
    response = _find(auditor, forged)
    assert "Never issued" in response.content.decode()
    assert response.context["finding"].events == []
    # Same jti as a real token, other claims: found by jti, flagged, signature invalid.
    header, claims, _ = token.split(".")
    decoded = jwt.decode(token, options={"verify_signature": False})
    decoded["sub"] = "auth0|someone-else"
    altered = jwt.encode(decoded, "not-the-secret-" * 3, algorithm="HS256")
    finding = _find(auditor, altered).context["finding"]
    assert finding.events[0].pk == row.pk and "bytes differ" in finding.note
    assert finding.signature == "invalid"
    # Non-JWT credentials (a SAS string) are found by fingerprint.
    sas = "sv=2021-08-06&sr=b&sig=abc%2Bdef&se=2030-01-01T00%3A00%3A00Z&sp=r"
    from tenantauth import crypto

    make_event(tenant_a["tenant"], api_type="azure_blob", token_fingerprint=crypto.fingerprint(sas))
    assert _find(auditor, sas).context["finding"].events


def test_find_needs_post_with_csrf(tenant_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_a["auditor"])
    assert client.post(FIND, {"token": "a" * 64}).status_code == 403
    page = client.get(FIND)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert client.get(FIND, {"token": "a" * 64}).status_code == 400
    assert _find(Client(), "a" * 64).status_code == 302  # anonymous: login


def test_find_rejects_control_characters(auditor):
    response = _find(auditor, "abc\x00def")
    assert response.status_code == 400
    assert "abc" not in response.content.decode().split("token-search")[1].split("</form>")[0]


# --- export ----------------------------------------------------------------------------------
def _read(response) -> bytes:
    return b"".join(response.streaming_content)


def test_csv_export_of_the_filter_is_formula_safe_and_audited(auditor, tenant_a, rows_a):
    make_event(
        tenant_a["tenant"],
        at=T0 + timedelta(minutes=20),
        type="fd",
        source_client_id='=HYPERLINK("http://evil")',
        user_id="+1-cmd",
        reason="@SUM(A1)",
        error="invalid_client",
        user_agent="\tTAB",
        api_type="-2+3",
    )
    response = auditor.get(EXPORT, {"format": "csv", "outcome": "failure"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "no-store" in response["Cache-Control"]
    rows = list(csv.DictReader(io.StringIO(_read(response).decode())))
    assert len(rows) == 2
    bad = next(r for r in rows if r["error"] == "invalid_client")
    assert bad["source_client_id"] == '\'=HYPERLINK("http://evil")'
    assert bad["user_id"] == "'+1-cmd" and bad["reason"] == "'@SUM(A1)"
    assert bad["user_agent"] == "'\tTAB" and bad["api_type"] == "'-2+3"
    good = next(r for r in rows if r["error"] == "invalid_target")
    assert good["source_name"] == "appA" and good["target_name"] == "apiC"
    assert good["user_email"] == tenant_a["user"].email
    exported = AuditEvent.objects.get(type="audit_exported")
    assert exported.actor_id == tenant_a["auditor"].pk
    assert exported.details == {"format": "csv", "filter": {"outcome": "failure"}}


def test_jsonl_export(auditor, tenant_a, rows_a):
    response = auditor.get(EXPORT, {"format": "jsonl", "api_type": "firebase"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in _read(response).decode().splitlines()]
    assert [item["id"] for item in lines] == [rows_a[3].pk]
    assert lines[0]["target_name"] == "apiC" and lines[0]["details"] == {}
    assert lines[0]["created_at"].startswith("2026-03-10T12:03:00")


def test_export_walks_every_batch(auditor, tenant_a, monkeypatch):
    """Keyset batches cover every row once, also when rows share a timestamp."""
    monkeypatch.setattr(export, "BATCH", 4)
    made = [make_event(tenant_a["tenant"], at=T0 + timedelta(seconds=i // 3)) for i in range(11)]
    response = auditor.get(EXPORT, {"format": "csv", "type": "sd"})
    rows = list(csv.DictReader(io.StringIO(_read(response).decode())))
    assert sorted(int(r["id"]) for r in rows) == sorted(e.pk for e in made)


def test_export_bad_format_is_400(auditor):
    assert auditor.get(EXPORT).status_code == 400
    assert auditor.get(EXPORT, {"format": "xlsx"}).status_code == 400
    assert auditor.get(EXPORT, {"format": "csv", "older": "x"}).status_code == 400
    assert not AuditEvent.objects.filter(type="audit_exported").exists()


# --- chart -----------------------------------------------------------------------------------
def test_chart_counts_per_bucket_application_and_outcome(auditor, tenant_a, rows_a):
    params = {"since": "2026-03-10T11:00", "until": "2026-03-10T14:00"}
    data = auditor.get(CHART_JSON, params).json()
    assert data["bucket"] == "hour"
    assert data["buckets"][:2] == ["2026-03-10T11:00:00+00:00", "2026-03-10T12:00:00+00:00"]
    series = {(s["application"], s["outcome"]): s["counts"] for s in data["series"]}
    assert series == {("apiC", "issued"): [0, 7, 0], ("apiC", "failed"): [0, 1, 0]}
    page = auditor.get(CHART, params)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="audit-chart-data" type="application/json"' in html
    assert 'id="audit-chart-table"' in html and "<script>" not in html
    assert "vendor/chartjs/chart.umd.min.js" in html


def test_chart_range_is_bounded(auditor, rows_a):
    data = auditor.get(CHART_JSON, {"since": "2000-01-01T00:00"}).json()
    since = datetime.fromisoformat(data["since"])
    until = datetime.fromisoformat(data["until"])
    assert until - since <= timedelta(days=400) and data["bucket"] == "month"


# --- scope: cross-tenant, non-member, platform staff ------------------------------------------
@pytest.fixture
def b_rows(tenant_b):
    t = tenant_b
    return [
        make_event(
            t["tenant"],
            source_client_id=t["appA"].client_id,
            target_client_id=t["apiC"].client_id,
            user_id=t["user"].user_id,
            jti="b" * 32,
            token_fingerprint="b" * 64,
            reason="B-ONLY-REASON",
        )
    ]


def b_markers(tenant_b):
    return [
        tenant_b["appA"].client_id,
        tenant_b["apiC"].client_id,
        tenant_b["user"].user_id,
        tenant_b["user"].email,
        "b" * 32,
        "B-ONLY-REASON",
    ]


def every_read(client, tenant_b, b_rows):
    """Every console page, export and data endpoint, also aimed at B's values."""
    b = b_rows[0]
    responses = [
        client.get(LIST),
        client.get(f"{LIST}{b.pk}/change/"),
        client.get(f"{LIST}{b.pk}/history/"),
        client.get(FIND),
        client.get(EXPORT, {"format": "csv"}),
        client.get(EXPORT, {"format": "jsonl"}),
        client.get(CHART),
        client.get(CHART_JSON),
        client.get(CHART_JSON, {"since": "2026-01-01T00:00", "until": "2026-06-01T00:00"}),
    ]
    return responses


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_cross_tenant_auditor_sees_nothing_of_the_other_tenant(tenant_a, tenant_b, b_rows):
    """Tenant A's auditor, through every page, export and data endpoint (token search and
    chart data included), sees nothing of tenant B."""
    client = Client()
    client.force_login(tenant_a["auditor"])
    for response in every_read(client, tenant_b, b_rows):
        assert response.status_code in (200, 302, 400, 404), response.status_code
        body = _body(response)
        assert not [m for m in b_markers(tenant_b) if m in body], response.request
    # B's jti and fingerprint pasted into A's token search (the fingerprint is echoed): no
    # record; B's user typed into A's user filter (echoed in the box): no rows.
    for value in ("b" * 32, "b" * 64):
        response = client.post(FIND, {"token": value})
        assert response.context["finding"].events == [] and response.context["rows"] == []
        assert "B-ONLY-REASON" not in response.content.decode()
    for value in (tenant_b["user"].email, tenant_b["user"].user_id):
        assert client.get(LIST, {"user": value}).context["rows"] == []
    # B's source filter is not a choice in A: 400, not B's rows.
    assert client.get(LIST, {"source": tenant_b["appA"].client_id}).status_code == 400
    finding = client.post(FIND, {"token": "b" * 64}).context["finding"]
    assert finding.events == []


@pytest.fixture(params=["no membership", "not staff", "inactive"])
def outsider(request, db, tenant_a):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        "outsider", password="x-password-123", is_staff=request.param != "not staff"
    )
    if request.param != "no membership":
        services.membership_create(
            tenant=tenant_a["tenant"], user=user, role=Membership.Role.AUDITOR
        )
    if request.param == "inactive":
        user.is_active = False
        user.save()
    return user


def test_non_members_get_the_login_page_and_no_data(outsider, tenant_a, tenant_b, rows_a, b_rows):
    client = Client()
    client.force_login(outsider)
    markers = b_markers(tenant_b) + [tenant_a["apiC"].client_id, "not_in_allowlist"]
    for response in every_read(client, tenant_b, b_rows) + [
        client.get(f"{LIST}{rows_a[0].pk}/change/")
    ]:
        assert response.status_code in (302, 403), response.status_code
        if response.status_code == 302:
            assert response["Location"].startswith("/admin/login/")
        assert not [m for m in markers if m in _body(response)]
    assert not AuditEvent.objects.filter(type="audit_exported").exists()


def test_platform_staff_reads_across_tenants_with_tenant_shown(
    staff_user, tenant_a, tenant_b, rows_a, b_rows
):
    client = Client()
    client.force_login(staff_user)
    response = client.get(LIST)
    assert response.status_code == 200 and response.context["all_tenants"]
    ids = set(shown_ids(response))
    assert b_rows[0].pk in ids and rows_a[0].pk in ids
    assert "tenant-b" in response.content.decode()
    assert client.post(FIND, {"token": "b" * 64}).context["finding"].events[0].pk == b_rows[0].pk
    rows = list(csv.DictReader(io.StringIO(_body(client.get(EXPORT, {"format": "csv"})))))
    assert {r["tenant"] for r in rows} == {"tenant-a", "tenant-b"}

"""An auditor works the audit console in Chromium: filter, find a pasted token, export CSV,
see the chart; tenant B's auditor sees none of it. Screenshots go to /tmp on failure."""

import csv
import io
import json
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from delegation.models import AuditEvent
from tests.conftest import ADMIN_PASSWORD
from tests.delegation.helpers import GRANT_JWT_BEARER, id_token_for

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp")


@contextmanager
def screenshot_on_failure(page, name):
    try:
        yield
    except BaseException:
        page.screenshot(path=str(SHOTS / f"audit_{name}_failure.png"), full_page=True)
        raise


def login(page, base, username):
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def delegate(base, setup, target="apiC"):
    """A real delegation over HTTP; returns the issued token."""
    source = setup["appA"]
    response = requests.post(
        f"{base}/t/{setup['tenant'].slug}/delegation",
        json={
            "client_id": source.client_id,
            "grant_type": GRANT_JWT_BEARER,
            "id_token": id_token_for(setup["tenant"], source, setup["user"]),
            "target": setup[target].client_id,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


@pytest.fixture
def paris_page(chromium):
    """A 1366 px wide page in the Europe/Paris zone, collecting CSP errors and page errors."""
    context = chromium.new_context(
        viewport={"width": 1366, "height": 900}, timezone_id="Europe/Paris", accept_downloads=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = []
    page.on(
        "console",
        lambda m: (
            page.problems.append(m.text)
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    yield page
    context.close()


def test_auditor_filters_finds_a_token_exports_and_sees_the_chart(
    live_server, transactional_db, tenant_a, tenant_b, paris_page
):
    page, base = paris_page, live_server.url
    t = tenant_a
    token = delegate(base, t)
    for _ in range(3):
        delegate(base, t)
    # A refusal with its rule.
    requests.post(
        f"{base}/t/{t['tenant'].slug}/delegation",
        json={
            "client_id": t["appA"].client_id,
            "grant_type": GRANT_JWT_BEARER,
            "id_token": id_token_for(t["tenant"], t["appA"], t["user"]),
            "target": "no-such-target",
        },
        timeout=10,
    )
    row = AuditEvent.objects.filter(type="sd").order_by("id").first()

    login(page, base, t["auditor"].username)
    with screenshot_on_failure(page, "list"):
        page.goto(f"{base}/admin/delegation/auditevent/")
        rows = page.locator("#audit-rows tbody tr.audit-row")
        assert rows.count() == 5
        # Local time (Paris) to the second, UTC on hover, names with client ID on hover.
        first_time = page.locator("#audit-rows time.audit-time").first
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first_time.inner_text())
        assert first_time.get_attribute("title").endswith(" UTC")
        assert page.locator("#audit-zone").inner_text() == "Europe/Paris"
        assert page.locator(f"span[title='{t['apiC'].client_id}']").first.inner_text() == "apiC"
        assert "target_unknown" in page.locator("#audit-rows").inner_text()
        # Fits 1366 px: no horizontal scrolling.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, width
        page.screenshot(path=str(SHOTS / "audit_console_1366.png"), full_page=True)

        # Filter: outcome refused.
        page.select_option("#id_outcome", "failure")
        page.click("#audit-filter button[type=submit]")
        page.wait_for_url(re.compile(r"outcome=failure"))
        assert page.locator("#audit-rows tbody tr.audit-row").count() == 1
        assert "tz=Europe%2FParis" in page.url
        page.select_option("#id_outcome", "success")
        page.select_option("#id_target", t["apiC"].client_id)
        page.click("#audit-filter button[type=submit]")
        page.wait_for_url(re.compile(r"target="))
        assert page.locator("#audit-rows tbody tr.audit-row").count() == 4

    with screenshot_on_failure(page, "find"):
        page.click("#find-token-link")
        page.fill("#id_token", token)
        page.click("#token-search button[type=submit]")
        page.wait_for_selector("#token-finding")
        assert "Issued by this service" in page.locator("#finding-note").inner_text()
        assert "valid" in page.locator("#finding-signature").inner_text()
        assert "valid" in page.locator("#finding-lifetime").inner_text()
        assert row.jti in page.locator("#finding-claims").inner_text()
        assert page.locator("#id_token").input_value() == ""
        assert token not in page.content()
        page.screenshot(path=str(SHOTS / "audit_find_token.png"), full_page=True)
        # A token we never issued.
        page.fill("#id_token", token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
        page.click("#token-search button[type=submit]")
        page.wait_for_selector("#token-finding")
        note = page.locator("#finding-note").inner_text()
        assert "Never issued" in note

    with screenshot_on_failure(page, "export"):
        page.goto(f"{base}/admin/delegation/auditevent/?outcome=success")
        with page.expect_download() as download_info:
            page.click("#export-csv")
        content = Path(download_info.value.path()).read_text()
        exported = list(csv.DictReader(io.StringIO(content)))
        assert len(exported) == 4
        assert {r["target_name"] for r in exported} == {"apiC"}
        assert AuditEvent.objects.filter(type="audit_exported").count() == 1

    with screenshot_on_failure(page, "chart"):
        page.goto(f"{base}/admin/delegation/auditevent/")
        page.click("#chart-link")
        page.wait_for_selector("body[data-chart-ready='1']")
        assert page.locator("#audit-chart").is_visible()
        assert "apic: issued" in page.locator("#audit-chart-table").inner_text().lower()
        data = json.loads(page.locator("#audit-chart-data").text_content())
        issued = next(s for s in data["series"] if s["outcome"] == "issued")
        assert issued["total"] == 4
        page.screenshot(path=str(SHOTS / "audit_chart.png"), full_page=True)
    assert not page.problems, page.problems


def test_chart_table_without_javascript(live_server, transactional_db, tenant_a, chromium):
    """Without JavaScript the chart page shows its table (the fallback)."""
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    delegate(live_server.url, tenant_a)
    login(page, live_server.url, tenant_a["auditor"].username)
    page.goto(f"{live_server.url}/admin/delegation/auditevent/chart/")
    assert not page.locator("#audit-chart").is_visible()
    assert "apic: issued" in page.locator("#audit-chart-table").inner_text().lower()
    context.close()


def test_other_tenants_auditor_sees_nothing(
    live_server, transactional_db, tenant_a, tenant_b, paris_page
):
    """Tenant B's auditor: list, token search (with A's real token), chart and its data,
    export: none of tenant A's rows, names or IDs."""
    page, base = paris_page, live_server.url
    token = delegate(base, tenant_a)
    a_marks = [tenant_a["apiC"].client_id, tenant_a["appA"].client_id, tenant_a["user"].user_id]
    login(page, base, tenant_b["auditor"].username)
    with screenshot_on_failure(page, "cross_tenant"):
        page.goto(f"{base}/admin/delegation/auditevent/")
        assert page.locator("#audit-rows tbody tr.audit-row").count() == 0
        page.goto(f"{base}/admin/delegation/auditevent/find/")
        page.fill("#id_token", token)
        page.click("#token-search button[type=submit]")
        page.wait_for_selector("#token-finding")
        assert "Never issued" in page.locator("#finding-note").inner_text()
        assert page.locator("#token-finding #audit-rows").count() == 0
        for url in ("chart/", "chart.json", "export/?format=csv", "export/?format=jsonl"):
            body = page.request.get(f"{base}/admin/delegation/auditevent/{url}").text()
            assert not [m for m in a_marks if m in body], url
        page.goto(f"{base}/admin/delegation/auditevent/chart/")
        assert not [m for m in a_marks if m in page.content()]

"""A tenant admin works through the admin in a real browser (Chromium via Playwright)."""

import re

import pytest

from delegation.models import AuditEvent
from tenantauth import services
from tenantauth.models import Application, Membership
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def _login(page, base_url, username):
    page.goto(f"{base_url}/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def _client_ids_shown(page) -> set[str]:
    return set(re.findall(r"\b[A-Za-z0-9]{32}\b", page.inner_text("#result_list")))


def test_tenant_admin_configures_apic_reveals_secret_and_switches_tenant(
    live_server, transactional_db, tenant_a, tenant_b, browser_page
):
    """Log in; see only tenant A's applications; edit apiC's Allowed APPs / APIs (an unknown
    id is refused, valid ids are saved); reveal the client secret (audited); switch to
    tenant B with the header switcher and see only B's applications."""
    page, base = browser_page, live_server.url
    admin = tenant_a["admin"]
    services.membership_create(tenant=tenant_b["tenant"], user=admin, role=Membership.Role.ADMIN)
    a_ids = {tenant_a[n].client_id for n in ("appA", "appB", "apiC")}
    b_ids = {tenant_b[n].client_id for n in ("appA", "appB", "apiC")}

    _login(page, base, admin.username)
    switcher = page.locator("#tenant-switcher")
    assert switcher.is_visible()
    assert page.locator("#tenant-select option:checked").inner_text() == "tenant-a"
    assert page.locator("#tenant-select option").all_inner_texts() == ["tenant-a", "tenant-b"]

    # Only tenant A's applications.
    page.goto(f"{base}/admin/tenantauth/application/")
    assert _client_ids_shown(page) == a_ids

    # apiC > Settings > Advanced Settings > OAuth > Allowed APPs / APIs.
    page.get_by_role("link", name="apiC").click()
    page.wait_for_url(re.compile(r"/admin/tenantauth/application/\d+/change/"))
    page.get_by_role("tab", name="OAuth", exact=True).click()
    allowed = page.locator("#id_allowed_clients_text")
    assert allowed.is_visible()

    allowed.fill(f"{tenant_a['appA'].client_id}\nno-such-client")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    error = page.locator(".errorlist")
    assert "Select a valid choice" in error.first.inner_text()
    api_c = Application.objects.get(pk=tenant_a["apiC"].pk)
    assert api_c.allowed_clients == [tenant_a["appA"].client_id, tenant_a["appB"].client_id]

    # The tab with the error is open, so the field is visible at once.
    assert page.locator("#id_allowed_clients_text").is_visible()
    page.locator("#id_allowed_clients_text").fill(tenant_a["appB"].client_id)
    page.uncheck(f"input[name=allowed_clients_picked][value='{tenant_a['appA'].client_id}']")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/tenantauth/application/")
    assert "was changed successfully" in page.locator(".messagelist").inner_text()
    api_c.refresh_from_db()
    assert api_c.allowed_clients == [tenant_a["appB"].client_id]
    assert AuditEvent.objects.filter(tenant=tenant_a["tenant"], type="allowlist_changed").exists()

    # Reveal the client secret in place: shown, recorded.
    page.goto(f"{base}/admin/tenantauth/application/{api_c.pk}/change/")
    page.click("#reveal-secret")
    page.locator("#client-secret-value:not(.secret-mask)").wait_for()
    assert page.inner_text("#client-secret-value").strip() == api_c.client_secret()
    event = AuditEvent.objects.get(type="secret_revealed")
    assert (event.actor_id, event.tenant_id) == (admin.pk, tenant_a["tenant"].pk)

    # Switch to tenant B.
    page.goto(f"{base}/admin/tenantauth/application/")
    page.select_option("#tenant-select", label="tenant-b")
    page.click("#tenant-switcher button[type=submit]")
    page.wait_for_url(f"{base}/admin/tenantauth/application/")
    assert page.locator("#tenant-select option:checked").inner_text() == "tenant-b"
    assert _client_ids_shown(page) == b_ids

    assert not page.problems, page.problems

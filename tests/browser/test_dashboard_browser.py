"""The tenant admin's dashboard in Chromium (Playwright) against the live server: an admin
builds an API end to end, an auditor reads without changing, tenant B's admin sees nothing of
tenant A, and every page also works without JavaScript. Failed tests leave screenshots in
test-artifacts/ (see conftest). ``UPDATE_SCREENSHOTS=1`` writes the README's screenshots of each
tab to docs/screens/."""

import base64
import os
import re
import secrets
from pathlib import Path

import pytest
from django.urls import reverse

from addons import services as addon_services
from delegation.models import AuditEvent
from tenantauth.models import Application
from tests.addons.conftest import AZURITE_KEY, default_values
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


def login(page, base, user):
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def change_url(base, app) -> str:
    return base + reverse("admin:tenantauth_application_change", args=[app.pk])


def tab(page, name):
    return page.get_by_role("tab", name=name, exact=True)


def wait_until(page, expression: str, seconds: float = 10):
    """Poll a JavaScript expression from here: ``page.wait_for_function`` evaluates strings
    with ``eval`` in the page, which our CSP (rightly) forbids."""
    for _ in range(int(seconds * 20)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"still false after {seconds} s: {expression}")


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_admin_builds_an_api_reveals_copies_rotates_tries_and_deletes(
    live_server, transactional_db, tenant_a, new_page
):
    """A tenant admin creates an API, picks appA by name for its Allowed APPs / APIs,
    reveals, copies and rotates its secret, tries an allowed and a refused delegation,
    works the tabs with the keyboard, and deletes appA, which the allow-lists reference."""
    page, base = new_page(**CLIPBOARD), live_server.url
    app_a, app_b = tenant_a["appA"], tenant_a["appB"]
    login(page, base, tenant_a["admin"])

    # --- create the API ---------------------------------------------------------------
    page.goto(base + reverse("admin:tenantauth_application_add"))
    page.fill("#id_name", "billing-api")
    page.select_option("#id_app_type", "resource_server")
    assert page.locator("#id_callback_urls_text").is_hidden()  # an API has none
    page.fill("#id_jwt_lifetime_seconds", "1800")
    assert page.inner_text("#id_jwt_lifetime_seconds_duration") == "= 30 minutes"
    assert page.locator("#id_jwt_lifetime_seconds_warning").is_hidden()
    page.fill("#id_jwt_lifetime_seconds", "7200")
    assert page.locator("#id_jwt_lifetime_seconds_warning").is_visible()
    page.fill("#id_jwt_lifetime_seconds", "1800")

    # Advanced Settings > OAuth: pick appA by its name.
    tab(page, "OAuth").click()
    page.fill("#id_allowed_clients_add", "appA")
    page.press("#id_allowed_clients_add", "Enter")  # ticks appA, does not submit
    box = page.locator(f"input[name=allowed_clients_picked][value='{app_a.client_id}']")
    assert box.is_checked()
    assert "Ticked: appA" in page.inner_text("#allowed-clients-status")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/tenantauth/application/\d+/change/"))
    api = Application.objects.get(tenant=tenant_a["tenant"], name="billing-api")
    assert api.allowed_clients == [app_a.client_id]
    assert api.app_type == "resource_server" and api.jwt_lifetime_seconds == 1800
    created = AuditEvent.objects.get(type="application_created", details__client_id=api.client_id)
    assert created.details["allowed_clients"] == [app_a.client_id]

    # --- reveal, copy, rotate the secret -----------------------------------------------
    page.click("#reveal-secret")
    wait_until(
        page, "!document.getElementById('client-secret-value').classList.contains('secret-mask')"
    )
    assert page.inner_text("#client-secret-value") == api.client_secret()
    page.click("#copy-secret")
    assert clipboard(page) == api.client_secret()
    page.click("#copy-secret ~ a#rotate-secret, #rotate-secret")
    page.click("#confirm-rotate")
    page.wait_for_selector("#client-secret")
    new_secret = Application.objects.get(pk=api.pk).client_secret()
    assert new_secret != api.client_secret()
    assert page.inner_text("#client-secret") == new_secret
    page.get_by_role("button", name="Copy client secret").click()
    assert clipboard(page) == new_secret
    assert AuditEvent.objects.filter(type="secret_rotated").count() == 1

    # --- the tabs by keyboard, and the copy buttons of the Endpoints tab ---------------
    page.goto(change_url(base, api))
    tab(page, "Settings").focus()
    page.keyboard.press("ArrowRight")
    assert tab(page, "Add-ons").get_attribute("aria-selected") == "true"
    assert page.evaluate("document.activeElement.textContent") == "Add-ons"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("End")
    assert tab(page, "Delegation").get_attribute("aria-selected") == "true"
    assert page.locator("#callers").inner_text().startswith("appA")
    page.keyboard.press("Home")
    assert tab(page, "Settings").get_attribute("aria-selected") == "true"
    assert page.locator("#delegation").is_hidden()
    tab(page, "Endpoints").click()
    page.locator("#tab-endpoints .copy-button").last.click()
    assert clipboard(page) == f"{tenant_a['tenant'].issuer}delegation"

    # --- Add-ons tab: switch an add-on on and fill its form (the whole story, with errors:
    # tests/browser/test_addons_tab_browser.py) -------------------------------------------------
    tab(page, "Add-ons").click()
    page.get_by_role("switch", name="Enable Windows Azure Mobile Services").check()
    page.fill("#id_wams-master_key", "m" * 40)
    page.click("#addon-wams-save")
    page.wait_for_url(re.compile(r"/change/#addon-wams$"))
    assert " ".join(page.inner_text("#addon-wams-state").split()) == (
        "On Configured. Master key: set"
    )
    assert AuditEvent.objects.filter(type="addon_changed", details__addon="wams").count() == 1

    # --- an error opens its tab and takes the focus ---------------------------------------
    tab(page, "Settings").click()
    tab(page, "OAuth").click()
    page.fill("#id_allowed_clients_add", "no-such-app")
    page.click("input[name=_save]")
    page.wait_for_selector("#id_allowed_clients_add_error")
    assert tab(page, "OAuth").get_attribute("aria-selected") == "true"
    wait_until(page, "document.activeElement.id === 'id_allowed_clients_add'")
    assert "No application of this tenant is named no-such-app" in page.inner_text(
        "#id_allowed_clients_add_error"
    )

    # --- try it: allowed, then refused ---------------------------------------------------
    page.goto(change_url(base, api))
    page.click("#try-it-link")
    page.select_option("#id_source", label=f"appA ({app_a.client_id})")
    page.fill("#id_user", "user@")
    wait_until(page, "document.querySelectorAll('#id_user_options option').length > 0")
    assert page.locator("#id_user_options option").first.get_attribute("value") == (
        tenant_a["user"].email
    )
    page.fill("#id_user", tenant_a["user"].email)
    page.fill("#id_scope", "openid email")
    page.select_option("#id_api_type", "app")  # omitted would mean the add-on switched on
    page.click("#try-it-submit")
    page.wait_for_selector("#try-it-result")
    assert page.inner_text("#result-heading") == "Allowed"
    assert page.inner_text("#try-it-explanation") == (
        "allowed: appA is in billing-api's Allowed APPs / APIs"
    )
    claims = page.inner_text("#preview-claims")
    assert f'"aud": "{api.client_id}"' in claims and tenant_a["user"].email in claims
    assert "None." in page.inner_text("#preview-signature")
    assert page.evaluate("document.activeElement.id") == "try-it-result"

    page.select_option("#id_source", label=f"appB ({app_b.client_id})")
    page.click("#try-it-submit")
    page.wait_for_selector("#try-it-result")
    assert page.inner_text("#result-heading") == "Refused"
    assert page.inner_text("#try-it-explanation") == (
        "refused: appB is not in billing-api's Allowed APPs / APIs"
    )
    assert page.locator("#preview-claims").count() == 0
    previews = AuditEvent.objects.filter(type="delegation_preview").order_by("id")
    assert [e.details["allowed"] for e in previews] == [True, False]
    assert not AuditEvent.objects.filter(type="sd").exists()

    # --- delete appA, which apiC and billing-api list -------------------------------------
    page.goto(change_url(base, app_a))
    page.click("a.deletelink")
    referenced = page.inner_text("#referenced-by")
    assert "apiC" in referenced and "billing-api" in referenced
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/tenantauth/application/")
    assert not Application.objects.filter(pk=app_a.pk).exists()
    assert Application.objects.get(pk=api.pk).allowed_clients == []
    assert Application.objects.get(pk=tenant_a["apiC"].pk).allowed_clients == [app_b.client_id]
    assert not page.problems, page.problems


def test_auditor_reads_but_cannot_change(live_server, transactional_db, tenant_a, new_page):
    """The auditor opens what the roles table lets auditors read, without any control that
    changes something (no save, reveal, rotate or try it); direct URLs are refused."""
    page, base = new_page(), live_server.url
    api_c = tenant_a["apiC"]
    login(page, base, tenant_a["auditor"])
    response = page.goto(change_url(base, api_c))
    refused = []
    if response.status == 200:
        assert page.locator("input[name=_save]").count() == 0
        for control in ("#reveal-secret", "#rotate-secret", "#try-it-link", "a.deletelink"):
            assert page.locator(control).count() == 0, control
        tab(page, "OAuth").click()
        assert "appA" in page.inner_text("#tab-oauth")
    else:
        assert response.status == 403
        refused.append(change_url(base, api_c))
    for name in ("tryit", "rotatesecret"):
        url = base + reverse(f"admin:tenantauth_application_{name}", args=[api_c.pk])
        assert page.goto(url).status == 403
        refused.append(url)
    assert not AuditEvent.objects.filter(
        type__in=["delegation_preview", "secret_revealed"]
    ).exists()
    # The refused pages (and the console's note on each) are the only problems.
    assert sorted(p for p in page.problems if p.startswith("403 ")) == sorted(
        f"403 {url}" for url in refused
    )
    unexpected = [p for p in page.problems if "403" not in p]
    assert not unexpected, unexpected


def test_tenant_b_admin_sees_nothing_of_tenant_a(
    live_server, transactional_db, tenant_a, tenant_b, new_page
):
    """Through pages, suggestions and the try-it panel, tenant B's admin meets none of
    tenant A's names, client IDs, users or keys."""
    page, base = new_page(), live_server.url
    markers = [
        tenant_a["appA"].client_id,
        tenant_a["appB"].client_id,
        tenant_a["apiC"].client_id,
        tenant_a["user"].email,
        tenant_a["user"].user_id,
        "tenant-a",
        "Tenant TENANT-A",
    ]

    def assert_clean():
        content = page.content()
        assert not [m for m in markers if m in content], page.url

    login(page, base, tenant_b["admin"])
    a_api = tenant_a["apiC"]
    for url in [
        change_url(base, a_api),
        base + reverse("admin:tenantauth_application_tryit", args=[a_api.pk]),
        base + reverse("admin:tenantauth_application_tryitusers", args=[a_api.pk]) + "?q=user",
        base + reverse("admin:tenantauth_application_delete", args=[a_api.pk]),
        base + reverse("admin:tenantauth_application_certificate", args=[a_api.pk]),
        base + reverse("admin:tenantauth_tenantuser_change", args=[tenant_a["user"].pk]),
        base + "/admin/tenantauth/application/?q=appA",
        base + "/admin/tenantauth/membership/",
    ]:
        page.goto(url)
        assert_clean()

    # B's own apiC page: its datalist and lists name B's applications only.
    page.goto(change_url(base, tenant_b["apiC"]))
    tab(page, "OAuth").click()
    options = page.locator("#id_allowed_clients_add_options option")
    assert sorted(options.evaluate_all("os => os.map(o => o.value)")) == sorted(
        [tenant_b["appA"].client_id, tenant_b["appB"].client_id]
    )
    assert_clean()

    # B's try-it panel: A's user is unknown; suggestions never offer A's users.
    page.goto(base + reverse("admin:tenantauth_application_tryit", args=[tenant_b["apiC"].pk]))
    page.fill("#id_user", "user@tenant-a")
    page.wait_for_timeout(600)  # the suggestion request (200 ms debounce) has come back
    assert page.locator("#id_user_options option").count() == 0
    page.fill("#id_user", tenant_a["user"].email)
    page.click("#try-it-submit")
    assert "No user of this tenant" in page.inner_text("#id_user_error")
    content = page.content().replace(tenant_a["user"].email, "")  # the typed value is echoed
    assert not [m for m in markers if m in content]


def test_pages_work_without_javascript(live_server, transactional_db, tenant_a, new_page):
    """With JavaScript off every tab is a section with its heading, the form saves, the
    first field with an error has the focus, and the reveal button shows the secret."""
    page, base = new_page(java_script_enabled=False), live_server.url
    api_c, app_a = tenant_a["apiC"], tenant_a["appA"]
    login(page, base, tenant_a["admin"])
    page.goto(change_url(base, api_c))
    for heading in ("Settings", "OAuth", "Grant Types", "Endpoints", "Certificates"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
    for heading in ("Add-ons", "Delegation"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
    assert page.locator(".copy-button").first.is_hidden()  # nothing to copy with

    page.fill("#id_allowed_clients_add", "nothing-named-so")
    page.click("input[name=_save]")
    page.wait_for_selector("#id_allowed_clients_add_error")
    wait_until(page, "document.activeElement.id === 'id_allowed_clients_add'")

    page.fill("#id_allowed_clients_add", "")
    page.uncheck(f"input[name=allowed_clients_picked][value='{tenant_a['appB'].client_id}']")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/tenantauth/application/")
    assert Application.objects.get(pk=api_c.pk).allowed_clients == [app_a.client_id]

    page.goto(change_url(base, api_c))
    page.click("#reveal-secret")
    page.wait_for_selector("#client-secret")
    assert page.inner_text("#client-secret") == api_c.client_secret()
    assert not page.problems, page.problems


TABS = [
    ("settings", None, "Settings"),
    ("oauth", "Settings", "OAuth"),
    ("grant-types", "Settings", "Grant Types"),
    ("endpoints", "Settings", "Endpoints"),
    ("certificates", "Settings", "Certificates"),
    ("addons", None, "Add-ons"),
    ("delegation", None, "Delegation"),
]


def test_screenshot_of_each_tab(live_server, transactional_db, tenant_a, new_page):
    """Each tab of apiC's page (and the try-it panel) is visible in turn; the screenshots go
    to test-artifacts/screens/, or with UPDATE_SCREENSHOTS=1 to docs/screens/ for the README."""
    target = ROOT / (
        "docs/screens" if os.environ.get("UPDATE_SCREENSHOTS") else "test-artifacts/screens"
    )
    target.mkdir(parents=True, exist_ok=True)
    page, base = new_page(viewport={"width": 1100, "height": 800}), live_server.url
    login(page, base, tenant_a["admin"])
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    api_c = tenant_a["apiC"]
    # Two add-ons on apiC (the Add-ons shot shows one card's form opened).
    sb_key = base64.b64encode(secrets.token_bytes(32)).decode()
    for addon, addon_secrets in [
        ("azure_blob", {"storage_access_key": AZURITE_KEY}),
        ("azure_sb", {"sas_key": sb_key}),
    ]:
        settings, _ = default_values(addon, {"sb_key": sb_key})
        addon_services.addon_configure(
            tenant=tenant_a["tenant"],
            application=api_c,
            addon=addon,
            enabled=True,
            settings=settings,
            secrets=addon_secrets,
            actor=tenant_a["admin"],
        )
    for name, parent, label in TABS:
        page.goto(change_url(base, api_c))
        if parent:
            tab(page, parent).click()
        tab(page, label).click()
        assert tab(page, label).get_attribute("aria-selected") == "true"
        if name == "addons":
            page.locator("#addon-azure_sb summary").click()
        # An Advanced Settings tab: only that part of the page (the rest is the Settings shot).
        shot = page.locator(".ta-advanced" if parent else "#content")
        shot.screenshot(path=str(target / f"application-{name}.png"))
    page.goto(base + reverse("admin:tenantauth_application_tryit", args=[api_c.pk]))
    page.fill("#id_user", tenant_a["user"].email)
    page.fill("#id_scope", "openid email")
    page.click("#try-it-submit")
    page.wait_for_selector("#try-it-result")
    page.locator("#content").screenshot(path=str(target / "try-it.png"))
    assert not page.problems, page.problems

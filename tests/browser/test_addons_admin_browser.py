"""A tenant admin switches Azure Blob Storage on for apiC in Chromium: choose the add-on, fill
its form, see the error next to a bad field (the typed key not echoed), fix it, save."""

import re

import pytest

from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tests.addons.conftest import AZURITE_KEY
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_admin_switches_azure_blob_on_in_chromium(
    live_server,
    transactional_db,
    tenant_a,
    tenant_b,
    browser_page,  # noqa: F811
):
    page, base = browser_page, live_server.url
    page.goto(f"{base}/admin/")
    page.fill("#id_username", tenant_a["admin"].username)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    page.get_by_role("link", name="Add-on configurations").click()
    page.wait_for_url(f"{base}/admin/addons/addonconfiguration/")
    page.get_by_role("link", name="Add add-on configuration").click()
    options = page.locator("#id_application option").all_inner_texts()
    assert not [o for o in options if tenant_b["apiC"].client_id in o]
    page.select_option("#id_application", label=str(tenant_a["apiC"]))
    page.select_option("#id_addon", label="Azure Blob Storage")
    page.click("#addon-choice input[type=submit]")
    page.wait_for_url(re.compile(r"/configure/\d+/azure_blob/$"))

    page.check("#id_enabled")
    page.fill("#id_account_name", "devstoreaccount1")
    page.fill("#id_container_name", "uploads")
    page.fill("#id_blob_name", "report.txt")
    page.check("#id_blob_write")
    page.fill("#id_storage_access_key", "not-base64-at-all!")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    row = page.locator(".form-row.field-storage_access_key")
    assert "errors" in row.get_attribute("class")
    assert "not valid base64" in row.locator(".errorlist").inner_text()
    assert page.input_value("#id_storage_access_key") == ""  # never echoed back
    assert page.input_value("#id_container_name") == "uploads"  # the rest is kept
    assert not AddonConfiguration.objects.exists()
    page.screenshot(path="/tmp/admin_addon_azure_blob_error.png", full_page=True)

    page.fill("#id_storage_access_key", AZURITE_KEY)
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/addons/addonconfiguration/")
    assert "Azure Blob Storage on apiC" in page.locator(".messagelist").inner_text()
    assert "storage_access_key: set" in page.locator("#result_list").inner_text()
    assert AZURITE_KEY[:16] not in page.content()

    config = AddonConfiguration.objects.get()
    assert config.enabled and config.tenant_id == tenant_a["tenant"].pk
    assert config.settings["blob_write"] is True
    assert config.secret_values() == {"storage_access_key": AZURITE_KEY}
    assert AuditEvent.objects.filter(type="addon_changed", actor=tenant_a["admin"]).count() == 1

    # Reopen: the secret is "set", not shown; saving without retyping it keeps it.
    page.get_by_role("link", name=str(tenant_a["apiC"])).click()
    page.wait_for_url(re.compile(r"/addonconfiguration/\d+/change/$"))
    assert page.input_value("#id_storage_access_key") == ""
    assert "Currently set" in page.locator(".field-storage_access_key .help").inner_text()
    page.uncheck("#id_blob_write")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/addons/addonconfiguration/")
    config.refresh_from_db()
    assert config.settings["blob_write"] is False
    assert config.secret_values() == {"storage_access_key": AZURITE_KEY}
    assert not page.problems, page.problems

"""The Add-ons tab in Chromium (Playwright) against the live server: a tenant admin switches
Azure Blob Storage on from the keyboard, fills its card, meets the error next to a bad key (the
key not echoed, the field focused), fixes it, saves, reopens the page (on, key "set"), and a
client's /delegation call with api_type azure_blob then gets the SAS the Azure SDK would make
from what was typed. The same card also works with JavaScript off. Failed tests leave
screenshots in test-artifacts/ (see conftest)."""

import re
import secrets as pysecrets
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
from azure.storage.blob import BlobSasPermissions

from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tests.addons.conftest import AZURITE_KEY
from tests.addons.test_aws import moto_sts  # noqa: F401 - fixture
from tests.addons.test_azure_blob import _sdk_factory
from tests.browser.test_dashboard_browser import change_url, login, tab, wait_until
from tests.delegation.helpers import body_for, id_token_for

pytestmark = pytest.mark.browser


def state(page, addon) -> str:
    return " ".join(page.inner_text(f"#addon-{addon}-state").split())


def test_admin_switches_azure_blob_on_in_the_addons_tab(
    live_server, transactional_db, tenant_a, new_page
):
    page, base = new_page(), live_server.url
    api_c, app_a = tenant_a["apiC"], tenant_a["appA"]
    login(page, base, tenant_a["admin"])
    page.goto(change_url(base, api_c))
    tab(page, "Add-ons").click()
    card = page.locator("#addon-azure_blob")
    switch = page.get_by_role("switch", name="Enable Azure Blob Storage")
    assert not switch.is_checked()
    assert state(page, "azure_blob") == "Not configured Storage access key: not set"
    assert card.locator("#id_azure_blob-account_name").is_hidden()  # the card is collapsed

    # Reached and switched on from the keyboard (Tab from the tab list, focus visible): the
    # configuration of an add-on not configured yet opens.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_azure_blob-enabled":
            break
    assert page.evaluate("document.activeElement.id") == "id_azure_blob-enabled"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Space")
    assert switch.is_checked()
    assert card.locator("#id_azure_blob-account_name").is_visible()
    page.fill("#id_azure_blob-account_name", "devstoreaccount1")
    page.fill("#id_azure_blob-container_name", "uploads")
    page.fill("#id_azure_blob-blob_name", "report.txt")
    page.check("#id_azure_blob-blob_write")
    bad_key = "not-base64-" + pysecrets.token_urlsafe(24)
    page.fill("#id_azure_blob-storage_access_key", bad_key)
    card.get_by_role("button", name="Save Azure Blob Storage").click()

    # The error, next to its field, on the Add-ons tab, the card open, the field focused.
    page.wait_for_selector("#id_azure_blob-storage_access_key_error")
    assert tab(page, "Add-ons").get_attribute("aria-selected") == "true"
    wait_until(page, "document.activeElement.id === 'id_azure_blob-storage_access_key'")
    assert "not valid base64" in page.inner_text("#id_azure_blob-storage_access_key_error")
    assert "errors" in card.locator(".form-row.field-storage_access_key").get_attribute("class")
    assert page.input_value("#id_azure_blob-storage_access_key") == ""  # never echoed
    assert bad_key[:12] not in page.content() and bad_key[-12:] not in page.content()
    assert page.input_value("#id_azure_blob-container_name") == "uploads"  # the rest is kept
    assert switch.is_checked()
    assert not AddonConfiguration.objects.exists()

    # Fixed and saved: back on the card, with the message.
    page.fill("#id_azure_blob-storage_access_key", AZURITE_KEY)
    card.get_by_role("button", name="Save Azure Blob Storage").click()
    page.wait_for_url(re.compile(r"/change/#addon-azure_blob$"))
    assert "Azure Blob Storage on apiC: Created; Enabled" in page.inner_text(".messagelist")
    assert tab(page, "Add-ons").get_attribute("aria-selected") == "true"
    config = AddonConfiguration.objects.get(tenant=tenant_a["tenant"], addon="azure_blob")
    assert config.enabled and config.secret_values() == {"storage_access_key": AZURITE_KEY}
    event = AuditEvent.objects.get(type="addon_changed")
    assert event.actor_id == tenant_a["admin"].pk

    # Reopened: on, the key "set" and not in the page.
    page.goto(change_url(base, api_c))
    tab(page, "Add-ons").click()
    assert page.get_by_role("switch", name="Enable Azure Blob Storage").is_checked()
    assert state(page, "azure_blob") == "On Configured. Storage access key: set"
    assert AZURITE_KEY[:12] not in page.content()
    page.locator("#addon-azure_blob summary").click()
    assert page.input_value("#id_azure_blob-storage_access_key") == ""
    assert "Currently set" in page.inner_text("#id_azure_blob-storage_access_key_helptext")

    # A client of the tenant now gets a SAS: the one the SDK makes from what was typed.
    tenant = tenant_a["tenant"]
    token = id_token_for(tenant, app_a, tenant_a["user"])
    body = body_for(app_a, token, target=api_c.client_id, api_type="azure_blob")
    answer = httpx.post(f"{base}/t/{tenant.slug}/delegation", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    sas = answer.json()["azure_blob_sas"]
    fields = parse_qs(sas)
    assert fields["sr"] == ["b"] and fields["sp"] == ["rw"] and fields["spr"] == ["https"]
    expiry = datetime.strptime(fields["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert sas == _sdk_factory().generate_blob(
        "uploads",
        "report.txt",
        permission=BlobSasPermissions(read=True, write=True),
        expiry=expiry,
        protocol="https",
    )
    assert AuditEvent.objects.get(type="sd").api_type == "azure_blob"
    assert not page.problems, page.problems


def test_addons_tab_works_without_javascript(live_server, transactional_db, tenant_a, new_page):
    """JavaScript off: the tab is a section, the card's configuration opens natively
    (<details>), the switch is a checkbox, an error comes back focused (autofocus) next to
    its field, and the fixed form saves."""
    page, base = new_page(java_script_enabled=False), live_server.url
    api_c = tenant_a["apiC"]
    login(page, base, tenant_a["admin"])
    page.goto(change_url(base, api_c))
    assert page.get_by_role("heading", name="Add-ons", exact=True).is_visible()
    assert page.locator("#id_wams-master_key").is_hidden()
    page.click("#addon-wams summary")
    page.check("#id_wams-enabled")
    page.fill("#id_wams-master_key", "too-short")
    page.click("#addon-wams-save")
    page.wait_for_selector("#id_wams-master_key_error")
    wait_until(page, "document.activeElement.id === 'id_wams-master_key'")
    assert "at least 32" in page.inner_text("#id_wams-master_key_error")
    assert page.input_value("#id_wams-master_key") == ""
    assert not AddonConfiguration.objects.exists()

    master_key = pysecrets.token_urlsafe(32)
    page.fill("#id_wams-master_key", master_key)
    page.click("#addon-wams-save")
    page.wait_for_url(re.compile(r"/change/#addon-wams$"))
    assert state(page, "wams") == "On Configured. Master key: set"
    assert master_key[:12] not in page.content()
    assert AddonConfiguration.objects.get(addon="wams").secret_values() == {
        "master_key": master_key
    }
    assert not page.problems, page.problems


def test_admin_configures_aws_and_salesforce_cards(
    live_server,
    transactional_db,
    tenant_a,
    new_page,
    moto_sts,  # noqa: F811 - the fixture imported above
    settings,
):
    """The AWS card: a malformed ARN in the allowed-roles list comes back next to its field;
    fixed and saved (the list kept one per line); a client then gets STS credentials from
    moto through the live server. The Salesforce card: with private networks off (as in
    production) a loopback token URL is refused next to its field and nothing is saved."""
    page, base = new_page(), live_server.url
    api_c, app_a = tenant_a["apiC"], tenant_a["appA"]
    login(page, base, tenant_a["admin"])
    page.goto(change_url(base, api_c))
    tab(page, "Add-ons").click()
    card = page.locator("#addon-aws")
    page.get_by_role("switch", name="Enable Amazon Web Services").check()
    page.fill("#id_aws-role", "arn:aws:iam::123456789012:role/tenantauth-demo")
    page.fill("#id_aws-principal", "arn:aws:iam::123456789012:saml-provider/tenantauth")
    page.fill("#id_aws-sts_endpoint_url", moto_sts)
    page.check("#id_aws-allow_overrides")
    page.fill("#id_aws-allowed_roles", "arn:aws:iam::123456789012:role/readonly\nnot-an-arn")
    card.get_by_role("button", name="Save Amazon Web Services").click()
    page.wait_for_selector("#id_aws-allowed_roles_error")
    wait_until(page, "document.activeElement.id === 'id_aws-allowed_roles'")
    assert "Not an IAM role ARN" in page.inner_text("#id_aws-allowed_roles_error")
    assert not AddonConfiguration.objects.exists()

    page.fill("#id_aws-allowed_roles", "arn:aws:iam::123456789012:role/readonly")
    card.get_by_role("button", name="Save Amazon Web Services").click()
    page.wait_for_url(re.compile(r"/change/#addon-aws$"))
    config = AddonConfiguration.objects.get(tenant=tenant_a["tenant"], addon="aws")
    assert config.enabled and config.settings["sts_endpoint_url"] == moto_sts
    assert config.settings["allowed_roles"] == ["arn:aws:iam::123456789012:role/readonly"]
    page.locator("#addon-aws summary").click()
    assert page.input_value("#id_aws-allowed_roles") == "arn:aws:iam::123456789012:role/readonly"

    tenant = tenant_a["tenant"]
    token = id_token_for(tenant, app_a, tenant_a["user"])
    body = body_for(app_a, token, target=api_c.client_id, api_type="aws")
    answer = httpx.post(f"{base}/t/{tenant.slug}/delegation", json=body, timeout=20)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["Credentials"]) >= {"AccessKeyId", "SessionToken", "Expiration"}

    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    page.goto(change_url(base, api_c))
    tab(page, "Add-ons").click()
    sf = page.locator("#addon-salesforce_api")
    page.get_by_role("switch", name="Enable Salesforce API").check()
    page.fill("#id_salesforce_api-consumer_key", "3MVG9-consumer")
    page.fill("#id_salesforce_api-token_url", "https://127.0.0.1:8443/services/oauth2/token")
    sf.get_by_role("button", name="Save Salesforce API").click()
    page.wait_for_selector("#id_salesforce_api-token_url_error")
    assert "private, loopback or link-local" in page.inner_text(
        "#id_salesforce_api-token_url_error"
    )
    assert not AddonConfiguration.objects.filter(addon="salesforce_api").exists()
    assert not [p for p in page.problems if not p.startswith("200")], page.problems

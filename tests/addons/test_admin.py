"""The add-on admin pages: scoped to the tenant, admins configure, auditors read, nobody ever
sees a secret (page, response, log, history, audit), another tenant's rows are never shown
or touched."""

import base64
import logging
import secrets as pysecrets

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tests.addons.conftest import AZURITE_KEY, default_values
from tests.delegation.helpers import delegate
from tests.tenantauth.helpers import form_data

BASE = "/admin/addons/addonconfiguration"


def configure_url(app, addon):
    return f"{BASE}/configure/{app.pk}/{addon}/"


def secret_runs(secret: str) -> set[str]:
    """Every run of 8 characters of a secret (PEM armour and line breaks left out)."""
    body = "".join(line for line in secret.splitlines() if not line.startswith("-----")).replace(
        " ", ""
    )
    return {body[i : i + 8] for i in range(max(1, len(body) - 7))}


def assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        leaked = [run for run in secret_runs(secret) if run in text]
        assert not leaked, f"a run of a secret appears: {leaked[:3]}"


@pytest.fixture
def admin(client, tenant_a):
    client.force_login(tenant_a["admin"])
    return client


@pytest.fixture
def all_secrets(keys):
    return [
        AZURITE_KEY,
        keys["sb_key"],
        keys["wams_master_key"],
        keys["rsa_pem"],
        keys["firebase_secret"],
    ]


def test_admin_adds_azure_blob_through_the_chooser(admin, tenant_a, keys):
    """Add: choose the application and the add-on, fill its form, save: the row exists,
    enabled, its secret encrypted; the history line and the audit event name fields only."""
    response = admin.get(f"{BASE}/add/")
    assert response.status_code == 200 and b'id="addon-choice"' in response.content
    chosen = admin.get(f"{BASE}/add/", {"application": tenant_a["apiC"].pk, "addon": "azure_blob"})
    assert chosen["Location"] == configure_url(tenant_a["apiC"], "azure_blob")
    page = admin.get(chosen["Location"])
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    data = form_data(page, "addon-form")
    settings, _ = default_values("azure_blob", keys)
    data.update(
        enabled="on",
        account_name=settings["account_name"],
        container_name="uploads",
        blob_name="report.txt",
        storage_access_key=AZURITE_KEY,
    )
    saved = admin.post(chosen["Location"], data)
    assert saved.status_code == 302 and saved["Location"] == f"{BASE}/"
    config = AddonConfiguration.objects.get(tenant=tenant_a["tenant"], addon="azure_blob")
    assert config.enabled and config.application_id == tenant_a["apiC"].pk
    assert config.secret_values() == {"storage_access_key": AZURITE_KEY}
    assert config.settings["https_only"] is True and config.settings["blob_read"] is True
    entry = LogEntry.objects.get(object_id=str(config.pk))
    assert (
        entry.get_change_message()
        == "Created; Enabled; Changed "
        + ", ".join(sorted(config.settings))
        + "; Replaced storage_access_key."
    )
    event = AuditEvent.objects.get(type="addon_changed")
    assert event.actor_id == tenant_a["admin"].pk and event.details["addon"] == "azure_blob"
    # The delegation works with what the admin saved.
    assert "azure_blob_sas" in delegate(admin, tenant_a, api_type="azure_blob").json()


def test_errors_are_shown_on_the_field_and_nothing_is_saved(admin, tenant_a, all_secrets):
    """A bad account key: the page comes back with the error on that field, the typed key is
    not echoed, nothing is saved."""
    page = admin.get(configure_url(tenant_a["apiC"], "azure_blob"))
    data = form_data(page, "addon-form")
    typed = base64.b64encode(pysecrets.token_bytes(32)).decode()  # 32 bytes: too short
    data.update(
        enabled="on",
        account_name="devstoreaccount1",
        container_name="uploads",
        storage_access_key=typed,
    )
    response = admin.post(configure_url(tenant_a["apiC"], "azure_blob"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "must decode to 64 bytes" in html
    assert 'class="form-row errors field-storage_access_key"' in html
    assert_no_secret(html, [typed, *all_secrets])
    assert not AddonConfiguration.objects.exists()


@pytest.mark.parametrize("addon", ["firebase", "azure_blob", "azure_sb", "layer", "wams"])
def test_secrets_never_in_pages_history_audit_logs_or_responses(
    admin, tenant_a, configure, keys, all_secrets, caplog, addon
):
    """After configuring and using an add-on, no run of 8 characters of any secret appears in
    the list page, its form (GET, and POST with an error), the history page, the LogEntry
    messages, the audit details, the log output, or the delegation answers' bodies beyond
    the credential itself."""
    caplog.set_level(logging.DEBUG)
    firebase_legacy = addon == "firebase"
    if firebase_legacy:
        configure(
            tenant_a,
            addon,
            token_format="legacy",
            client_email="",
            private_key_id="",
            secrets={"secret": keys["firebase_secret"]},
        )
    config = configure(tenant_a, addon)  # switches back for firebase: the secret is dropped
    pages = [
        admin.get(f"{BASE}/"),
        admin.get(f"{BASE}/?q=apiC"),
        admin.get(f"{BASE}/{config.pk}/change/"),
        admin.get(configure_url(tenant_a["apiC"], addon)),
        admin.get(f"{BASE}/{config.pk}/history/"),
    ]
    data = form_data(pages[3], "addon-form")
    assert all(
        not v
        for k, v in data.items()
        if k in ("private_key", "secret", "storage_access_key", "sas_key", "master_key")
    )
    data["enabled"] = "on"
    first_setting = next(iter(k for k in data if k not in ("csrfmiddlewaretoken", "enabled")))
    pages.append(
        admin.post(configure_url(tenant_a["apiC"], addon), {**data, first_setting: "\x00"})
    )
    saved = admin.post(configure_url(tenant_a["apiC"], addon), data, follow=True)
    assert saved.status_code == 200
    pages.append(saved)
    params = {"nonce": "n-1"} if addon == "layer" else {}
    answer = delegate(admin, tenant_a, api_type=addon, **params)
    assert answer.status_code == 200
    texts = [p.content.decode() for p in pages]
    texts += [str(e.change_message) for e in LogEntry.objects.all()]
    texts += [str(e.details) + e.object_repr for e in AuditEvent.objects.all()]
    texts.append(caplog.text)
    texts.append(
        str(AddonConfiguration.objects.filter(pk=config.pk).values("settings", "secret_names")[0])
    )
    for text in texts:
        assert_no_secret(text, all_secrets)
    assert "set" in pages[3].content.decode()


def test_auditor_cannot_read_or_change_configurations(client, tenant_a, configure, keys):
    """An auditor reads the audit log only (tenantauth.roles): the add-on pages are 403, a
    POST changes nothing, and no secret reaches the refusal."""
    config = configure(tenant_a, "azure_sb")
    client.force_login(tenant_a["auditor"])
    assert client.get(f"{BASE}/").status_code == 403
    page = client.get(configure_url(tenant_a["apiC"], "azure_sb"))
    assert page.status_code == 403
    assert_no_secret(page.content.decode(), [keys["sb_key"]])
    data = {
        "enabled": "",
        "namespace": "changed-ns",
        "entity_path": "x",
        "sas_key_name": "k",
        "expiration": "5",
    }
    assert client.post(configure_url(tenant_a["apiC"], "azure_sb"), data).status_code == 403
    assert client.get(f"{BASE}/add/").status_code == 403
    config.refresh_from_db()
    assert config.enabled and config.settings["namespace"] == "tenantauth-demo"


def test_other_tenants_configurations_are_invisible_and_untouchable(
    admin, tenant_a, tenant_b, configure
):
    """A01/A02/A13 for add-ons: B's rows are not listed; B's change, history and configure
    URLs show nothing of B and change nothing; the chooser refuses B's application."""
    b_config = configure(tenant_b, "azure_sb", namespace="tenant-b-namespace")
    markers = ["tenant-b-namespace", tenant_b["apiC"].client_id]
    before = AddonConfiguration.objects.filter(pk=b_config.pk).values()[0]
    responses = [
        admin.get(f"{BASE}/", follow=True),
        admin.get(f"{BASE}/{b_config.pk}/change/", follow=True),
        admin.get(f"{BASE}/{b_config.pk}/history/", follow=True),
        admin.get(configure_url(tenant_b["apiC"], "azure_sb")),
        admin.post(
            configure_url(tenant_b["apiC"], "azure_sb"),
            {
                "enabled": "",
                "namespace": "pwned-namespace",
                "entity_path": "x",
                "sas_key_name": "k",
                "expiration": "5",
            },
        ),
        admin.get(f"{BASE}/add/", {"application": tenant_b["apiC"].pk, "addon": "wams"}),
    ]
    assert responses[3].status_code == responses[4].status_code == 403
    assert "Select a valid choice" in responses[5].content.decode()
    for response in responses:
        text = response.content.decode()
        assert not [m for m in markers if m in text]
    assert AddonConfiguration.objects.filter(pk=b_config.pk).values()[0] == before
    assert AddonConfiguration.objects.count() == 1


@pytest.mark.parametrize("who", ["anonymous", "non_member", "non_staff"])
def test_non_members_get_the_login_page(client, tenant_a, configure, django_user_model, who):
    configure(tenant_a, "wams")
    if who != "anonymous":
        user = django_user_model.objects.create_user(
            f"someone-{who}", password="x" * 16, is_staff=who == "non_member"
        )
        client.force_login(user)
    for url in (f"{BASE}/", f"{BASE}/add/", configure_url(tenant_a["apiC"], "wams")):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    response = client.post(configure_url(tenant_a["apiC"], "wams"), {"enabled": "on"})
    assert response.status_code == 302
    assert AddonConfiguration.objects.get().enabled


def test_post_without_csrf_token_is_refused(tenant_a, configure):
    configure(tenant_a, "wams", enabled=False)
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_a["admin"])
    response = client.post(
        configure_url(tenant_a["apiC"], "wams"),
        {"enabled": "on", "uid_attribute": "user_id", "lifetime_in_seconds": "60"},
    )
    assert response.status_code == 403
    assert not AddonConfiguration.objects.get().enabled


def test_no_delete(admin, tenant_a, configure):
    """Switching off is how an add-on stops; rows are not deleted from the admin."""
    config = configure(tenant_a, "wams")
    response = admin.post(f"{BASE}/{config.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AddonConfiguration.objects.filter(pk=config.pk).exists()


@pytest.mark.parametrize(
    "query",
    ["secrets_ciphertext__startswith=gAAAA", "secrets_ciphertext__regex=.", "secrets_ciphertext=x"],
)
def test_changelist_refuses_lookups_on_the_ciphertext(admin, tenant_a, configure, query):
    """A11: a filter on the ciphertext column is refused (400), never a row count."""
    configure(tenant_a, "wams")
    response = admin.get(f"{BASE}/?{query}")
    assert response.status_code == 400

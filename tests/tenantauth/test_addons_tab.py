# The add-on fixtures (keys, configure) are imported from tests/addons/conftest.py, so using
# them as test arguments "redefines" the imported names.
# ruff: noqa: F811
"""The Add-ons tab of the application page, without JavaScript: every test here posts a card's
form as a browser without scripts would. A card per registered add-on (any spec in
``addons.registry.SPECS``, without a change to the page), its switch, its state and its own
form; saving through the add-on configure view and ``addons.services.addon_configure``
(validated, encrypted, audited); errors back on the tab next to their field; secrets never in
the page; CSRF; the roles table (admins and staff change, auditors never open the page);
tenant B and non-members neither see nor change anything of tenant A."""

import base64
import hashlib
import logging
import re
import secrets as pysecrets
from html.parser import HTMLParser

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from addons import registry
from addons.forms import AddonForm
from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tests.addons.conftest import (  # noqa: F401 - fixtures
    AZURITE_KEY,
    configure,
    default_values,
    keys,
    rsa_pem,
)
from tests.addons.test_admin import assert_no_secret
from tests.delegation.helpers import delegate
from tests.tenantauth.helpers import form_data

pytestmark = pytest.mark.django_db

TAB_FIELD = "_addons_tab"


def change_url(app) -> str:
    return reverse("admin:tenantauth_application_change", args=[app.pk])


def configure_url(app, addon) -> str:
    return reverse("admin:addons_addonconfiguration_configure", args=[app.pk, addon])


def card_data(page, addon) -> dict:
    """The card's form as the page renders it (what a browser would post unchanged)."""
    return form_data(page, f"addon-{addon}-form")


def card_html(html: str, addon: str) -> str:
    start = html.index(f'<section class="ta-card ta-addon" id="addon-{addon}"')
    return html[start : html.index("</section>", start)]


def state_text(html: str, addon: str) -> str:
    state = re.search(
        rf'<p class="ta-addon-state" id="addon-{addon}-state">(.*?)</p>', html, re.S
    ).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", state).split())


@pytest.fixture
def admin(client, tenant_a, tenant_b):
    client.force_login(tenant_a["admin"])
    return client


def azure_blob_post(page, **changes) -> dict:
    data = card_data(page, "azure_blob")
    data.update(
        enabled="on",
        account_name="devstoreaccount1",
        container_name="uploads",
        blob_name="report.txt",
        blob_write="on",
        storage_access_key=AZURITE_KEY,
    )
    data.update(changes)
    return data


# --- the cards ----------------------------------------------------------------------------
class _Cards(HTMLParser):
    """Per card: its form's action, its switch and the labels of its controls."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cards: dict[str, dict] = {}
        self._card = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "ta-addon" in (attrs.get("class") or ""):
            self._card = attrs["id"].removeprefix("addon-")
            self.cards[self._card] = {"inputs": [], "labels": set(), "forms": []}
        elif self._card is None:
            return
        card = self.cards[self._card]
        if tag == "form":
            card["forms"].append(attrs)
        elif tag == "label" and attrs.get("for"):
            card["labels"].add(attrs["for"])
        elif tag in ("input", "textarea", "select"):
            card["inputs"].append({"tag": tag, **attrs})

    def handle_endtag(self, tag):
        if tag == "section":
            self._card = None


def test_a_card_per_registered_addon(admin, tenant_a):
    """Every add-on of the registry has its card, in the registry's order: its name, a
    labelled checkbox with role=switch, "Not configured", one form posting to its configure
    view with the CSRF token, and its own form's fields with their labels, secrets empty."""
    api_c = tenant_a["apiC"]
    html = admin.get(change_url(api_c)).content.decode()
    parser = _Cards()
    parser.feed(html)
    assert list(parser.cards) == list(registry.SPECS)
    for api_type, spec in registry.SPECS.items():
        card = parser.cards[api_type]
        name = re.escape(spec.display_name)
        assert re.search(rf'<h3 id="addon-{api_type}-name">{name}</h3>', html)
        assert [f["action"] for f in card["forms"]] == [configure_url(api_c, api_type)]
        by_name = {i.get("name"): i for i in card["inputs"]}
        switch = by_name["enabled"]
        assert switch["type"] == "checkbox" and switch["role"] == "switch"
        assert switch["id"] in card["labels"] and "checked" not in switch
        assert f"Enable {spec.display_name}</label>" in card_html(html, api_type)
        assert by_name["csrfmiddlewaretoken"]["value"]
        assert by_name[TAB_FIELD]["type"] == "hidden"
        fields = set(spec.form_class.SETTINGS) | set(spec.form_class.SECRETS)
        assert fields <= set(by_name), fields - set(by_name)
        for name in spec.form_class.SECRETS:
            assert not by_name[name].get("value"), name
        visible = [i for i in card["inputs"] if i.get("type") not in ("hidden",)]
        assert all(i["id"] in card["labels"] or i.get("aria-label") for i in visible if i.get("id"))
        assert state_text(html, api_type).startswith("Not configured")
    # One page, many forms: no id twice.
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


class ExampleForm(AddonForm):
    api_type = "example_service"
    SETTINGS = ("endpoint",)
    SECRETS = ("api_key",)

    endpoint = forms.URLField(label="Endpoint", assume_scheme="https")
    api_key = forms.CharField(
        label="API key", widget=forms.PasswordInput(render_value=False), min_length=16
    )


def test_a_newly_registered_addon_gets_its_card_and_saves(admin, tenant_a, monkeypatch):
    """The tab reads the registry: an add-on registered later (as i9's AWS, Salesforce, SAP)
    gets its card and saves through the same path, without a change to the page."""
    spec = registry.AddonSpec("example_service", "Example Service", ExampleForm, minter=None)
    monkeypatch.setitem(registry.SPECS, "example_service", spec)
    api_c = tenant_a["apiC"]
    page = admin.get(change_url(api_c))
    html = page.content.decode()
    assert '<h3 id="addon-example_service-name">Example Service</h3>' in html
    assert state_text(html, "example_service") == "Not configured API key: not set"
    data = card_data(page, "example_service")
    data.update(enabled="on", endpoint="https://api.example.com/", api_key="k" * 20)
    response = admin.post(configure_url(api_c, "example_service"), data)
    assert response["Location"] == change_url(api_c) + "#addon-example_service"
    config = AddonConfiguration.objects.get(addon="example_service")
    assert config.enabled and config.secret_values() == {"api_key": "k" * 20}
    html = admin.get(change_url(api_c)).content.decode()
    assert state_text(html, "example_service") == "On Configured. API key: set"


def test_state_says_on_off_and_set_never_a_value_length_or_fingerprint(
    admin, tenant_a, configure, keys
):
    """The state line: on/off, configured, each secret "set" or "not set", nothing else about
    a secret (the whole line is compared)."""
    configure(tenant_a, "azure_sb")
    configure(tenant_a, "wams", enabled=False)
    configure(tenant_a, "firebase")
    html = admin.get(change_url(tenant_a["apiC"])).content.decode()
    assert state_text(html, "azure_sb") == "On Configured. SAS key: set"
    assert state_text(html, "wams") == "Off Configured. Master key: set"
    assert state_text(html, "firebase") == "On Configured. Private key: set · Secret: not set"
    assert state_text(html, "layer") == "Not configured Private key: not set"
    for secret in (keys["sb_key"], keys["wams_master_key"], keys["rsa_pem"]):
        assert hashlib.sha256(secret.encode()).hexdigest()[:8] not in html
    assert_no_secret(html, [keys["sb_key"], keys["wams_master_key"], keys["rsa_pem"]])
    # The switch shows the stored state.
    assert re.search(r'<input(?=[^>]*id="id_azure_sb-enabled")[^>]*checked', html)
    assert not re.search(r'<input(?=[^>]*id="id_wams-enabled")[^>]*checked', html)


# --- saving ------------------------------------------------------------------------------
def test_switch_on_fill_and_save_through_the_tab(admin, tenant_a):
    """The card's form, posted as rendered plus what the admin typed: saved through the
    service (enabled, secret encrypted, one addon_changed audit event by the admin, a
    history line naming fields only), back on the card; /delegation then answers it."""
    api_c = tenant_a["apiC"]
    page = admin.get(change_url(api_c))
    response = admin.post(configure_url(api_c, "azure_blob"), azure_blob_post(page))
    assert response.status_code == 302
    assert response["Location"] == change_url(api_c) + "#addon-azure_blob"
    config = AddonConfiguration.objects.get(tenant=tenant_a["tenant"], addon="azure_blob")
    assert config.enabled and config.application_id == api_c.pk
    assert config.settings["blob_write"] is True and config.settings["container_name"] == "uploads"
    assert config.secret_values() == {"storage_access_key": AZURITE_KEY}
    assert AZURITE_KEY not in config.secrets_ciphertext
    event = AuditEvent.objects.get(type="addon_changed")
    assert event.actor_id == tenant_a["admin"].pk and event.details["addon"] == "azure_blob"
    assert event.details["secrets"] == {"storage_access_key": "replaced"}
    assert "Replaced storage_access_key" in LogEntry.objects.get().get_change_message()

    back = admin.get(response["Location"]).content.decode()
    assert "Azure Blob Storage on apiC: Created; Enabled" in back  # the message
    assert state_text(back, "azure_blob") == "On Configured. Storage access key: set"
    assert_no_secret(back, [AZURITE_KEY])
    assert "azure_blob_sas" in delegate(admin, tenant_a, api_type="azure_blob").json()


def test_blank_secret_keeps_the_stored_one_typed_replaces_it(admin, tenant_a, keys):
    """Saving a card with its secret field left blank keeps the stored secret (and the audit
    names no secret); typing a new one replaces it (audited as "replaced")."""
    api_c = tenant_a["apiC"]
    admin.post(configure_url(api_c, "azure_blob"), azure_blob_post(admin.get(change_url(api_c))))
    data = card_data(admin.get(change_url(api_c)), "azure_blob")
    assert data["storage_access_key"] == "" and data["enabled"] == "on"
    data["container_name"] = "invoices"
    assert admin.post(configure_url(api_c, "azure_blob"), data).status_code == 302
    config = AddonConfiguration.objects.get(addon="azure_blob")
    assert config.settings["container_name"] == "invoices"
    assert config.secret_values() == {"storage_access_key": AZURITE_KEY}
    kept = AuditEvent.objects.filter(type="addon_changed").latest("id")
    assert kept.details["settings"] == {"container_name": ["uploads", "invoices"]}
    assert "secrets" not in kept.details

    new_key = base64.b64encode(pysecrets.token_bytes(64)).decode()
    data = card_data(admin.get(change_url(api_c)), "azure_blob")
    data["storage_access_key"] = new_key
    assert admin.post(configure_url(api_c, "azure_blob"), data).status_code == 302
    config.refresh_from_db()
    assert config.secret_values() == {"storage_access_key": new_key}
    replaced = AuditEvent.objects.filter(type="addon_changed").latest("id")
    assert replaced.details == {
        "addon": "azure_blob",
        "client_id": api_c.client_id,
        "secrets": {"storage_access_key": "replaced"},
    }


def test_switching_off_keeps_the_configuration(admin, tenant_a, configure):
    """The switch off, saved: the add-on is off (and /delegation refuses it), its settings
    and secret stay."""
    config = configure(tenant_a, "azure_sb")
    data = card_data(admin.get(change_url(tenant_a["apiC"])), "azure_sb")
    data.pop("enabled")
    assert admin.post(configure_url(tenant_a["apiC"], "azure_sb"), data).status_code == 302
    config.refresh_from_db()
    assert not config.enabled and config.secret_names == ["sas_key"]
    assert delegate(admin, tenant_a, api_type="azure_sb").json()["error"] == "invalid_target"
    html = admin.get(change_url(tenant_a["apiC"])).content.decode()
    assert state_text(html, "azure_sb") == "Off Configured. SAS key: set"


class _Row(HTMLParser):
    """The form-row of one field: its classes, and the order of errors and control in it."""

    def __init__(self, field_id):
        super().__init__(convert_charrefs=True)
        self.field_id = field_id
        self.rows: list[dict] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "form-row" in (attrs.get("class") or "").split():
            self.rows.append({"class": attrs["class"], "order": [], "control": None})
            self._depth = 1
            return
        if not self._depth:
            return
        if tag == "div":
            self._depth += 1
        row = self.rows[-1]
        if tag == "ul" and "errorlist" in (attrs.get("class") or ""):
            row["order"].append(("errors", attrs.get("id")))
        if attrs.get("id") == self.field_id:
            row["order"].append(("control", self.field_id))
            row["control"] = attrs

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1


def test_a_refused_save_comes_back_on_the_tab_next_to_the_field(admin, tenant_a):
    """A bad account key: the answer is the application page, the card open, the error right
    above its field (aria-invalid, linked by aria-describedby, autofocus), the typed key not
    echoed, the other typed values kept, the settings form unbound and posting to its own URL,
    nothing saved or audited."""
    api_c = tenant_a["apiC"]
    typed = "not-base64-at-all!" + pysecrets.token_urlsafe(16)
    page = admin.get(change_url(api_c))
    response = admin.post(
        configure_url(api_c, "azure_blob"),
        azure_blob_post(page, storage_access_key=typed, container_name="kept-container"),
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert f'<form action="{change_url(api_c)}" method="post" id="application_form"' in html
    assert 'class="errornote"' not in html.split('id="addons"')[0]  # the settings form: no error
    card = card_html(html, "azure_blob")
    assert 'id="addon-azure_blob-config" open>' in card
    for other in registry.SPECS:
        if other != "azure_blob":
            assert "open>" not in card_html(html, other).split("<summary>")[0]
    field_id = "id_azure_blob-storage_access_key"
    parser = _Row(field_id)
    parser.feed(card)
    row = next(r for r in parser.rows if r["control"])
    assert "errors" in row["class"].split()
    assert row["order"] == [("errors", f"{field_id}_error"), ("control", field_id)]
    control = row["control"]
    assert control["aria-invalid"] == "true" and "autofocus" in control
    assert f"{field_id}_error" in control["aria-describedby"]
    assert control.get("value") in (None, "")
    assert "not valid base64" in card
    assert typed[:8] not in html and typed[-8:] not in html
    assert 'value="kept-container"' in card
    assert not AddonConfiguration.objects.exists()
    assert not AuditEvent.objects.filter(type="addon_changed").exists()


def test_a_form_wide_error_is_shown_in_the_card(admin, tenant_a):
    """An error of the form as a whole (no permission chosen) is shown at the top of the
    card's configuration, and the card's first setting takes the focus."""
    api_c = tenant_a["apiC"]
    data = azure_blob_post(admin.get(change_url(api_c)))
    for name in ("blob_read", "blob_write", "container_read"):
        data.pop(name, None)
    html = admin.post(configure_url(api_c, "azure_blob"), data).content.decode()
    card = card_html(html, "azure_blob")
    assert "Choose at least one blob permission" in card
    assert re.search(r'<input(?=[^>]*id="id_azure_blob-account_name")[^>]*autofocus', card)
    assert not AddonConfiguration.objects.exists()


# --- secrets never in the page ------------------------------------------------------------
@pytest.mark.parametrize("addon", list(registry.SPECS))
def test_no_secret_in_the_tab_after_save_and_after_a_refused_save(
    admin, tenant_a, keys, caplog, addon
):
    """Every add-on: after saving its card with every secret typed, and after a refused save
    with every secret typed anew, no run of 8 characters of any of those secrets appears in
    the tab's HTML (nor in the history, audit details or log output)."""
    caplog.set_level(logging.DEBUG)
    api_c = tenant_a["apiC"]
    settings, typed_secrets = default_values(addon, keys)
    form_class = registry.SPECS[addon].form_class
    page = admin.get(change_url(api_c))
    data = card_data(page, addon)
    data.update({k: v for k, v in settings.items() if not isinstance(v, bool)})
    for name, value in settings.items():
        if value is True:
            data[name] = "on"
        elif value is False:
            data.pop(name, None)
    data.update(typed_secrets, enabled="on")
    saved = admin.post(configure_url(api_c, addon), data)
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    after_save = admin.get(saved["Location"]).content.decode()

    # A refused save: every secret field typed anew, one setting made invalid.
    fresh = {name: "Zq" + pysecrets.token_urlsafe(40) for name in form_class.SECRETS}
    bad = card_data(admin.get(change_url(api_c)), addon)
    bad.update(fresh)
    first_setting = next(n for n in form_class.SETTINGS if n in bad)
    bad[first_setting] = "\x00"
    refused = admin.post(configure_url(api_c, addon), bad)
    assert refused.status_code == 200
    after_refusal = refused.content.decode()
    assert 'class="errorlist' in card_html(after_refusal, addon)
    stored = AddonConfiguration.objects.get(addon=addon).secret_values()
    assert stored == {name: value.strip() for name, value in typed_secrets.items()}

    every_secret = [*typed_secrets.values(), *fresh.values()]
    texts = [after_save, after_refusal, caplog.text]
    texts += [str(e.change_message) for e in LogEntry.objects.all()]
    texts += [str(e.details) + e.object_repr for e in AuditEvent.objects.all()]
    for text in texts:
        assert_no_secret(text, every_secret)
    if form_class.SECRETS:  # AWS and Salesforce sign with the tenant key: no secret to show
        assert "set</strong>" in card_html(after_save, addon)


# --- who may -------------------------------------------------------------------------------
def test_csrf_is_enforced_on_the_cards(tenant_a):
    """With CSRF checks on, a card's post without the token is refused and saves nothing;
    the same post with the page's token is saved."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_a["admin"])
    api_c = tenant_a["apiC"]
    page = client.get(change_url(api_c))
    data = card_data(page, "wams")
    data.update(enabled="on", master_key=pysecrets.token_urlsafe(32))
    token = data.pop("csrfmiddlewaretoken")
    refused = client.post(configure_url(api_c, "wams"), data)
    assert refused.status_code == 403
    assert not AddonConfiguration.objects.exists()
    accepted = client.post(configure_url(api_c, "wams"), {**data, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert AddonConfiguration.objects.get(addon="wams").enabled


def test_auditor_cannot_open_the_tab_or_post_a_card(client, tenant_a, configure):
    """Auditors read the audit log only: the application page (its Add-ons tab) is 403, and
    a card's post is 403 and changes nothing."""
    config = configure(tenant_a, "azure_sb")
    client.force_login(tenant_a["auditor"])
    assert client.get(change_url(tenant_a["apiC"])).status_code == 403
    data = {TAB_FIELD: "1", "namespace": "changed-namespace", "entity_path": "x"}
    assert client.post(configure_url(tenant_a["apiC"], "azure_sb"), data).status_code == 403
    config.refresh_from_db()
    assert config.enabled and config.settings["namespace"] == "tenantauth-demo"


def test_platform_staff_configure_through_the_tab(client, tenant_a, staff_user):
    """Platform staff may change add-ons (roles table): the same card, the same path."""
    client.force_login(staff_user)
    api_c = tenant_a["apiC"]
    data = card_data(client.get(change_url(api_c)), "wams")
    data.update(enabled="on", master_key=pysecrets.token_urlsafe(32))
    response = client.post(configure_url(api_c, "wams"), data)
    assert response["Location"] == change_url(api_c) + "#addon-wams"
    assert AuditEvent.objects.get(type="addon_changed").actor_id == staff_user.pk


def test_tenant_b_admin_neither_sees_nor_changes_tenant_a_addons(
    client, tenant_a, tenant_b, configure
):
    """B's admin: A's application page and its cards' URLs (GET and a card's POST, also
    with a refused form) answer 403 with nothing of A, nothing of A changes; B's own tab
    shows B's state only."""
    a_config = configure(tenant_a, "azure_sb", namespace="tenant-a-namespace")
    before = AddonConfiguration.objects.filter(pk=a_config.pk).values()[0]
    client.force_login(tenant_b["admin"])
    a_api = tenant_a["apiC"]
    markers = ["tenant-a-namespace", a_api.client_id, "tenant-a"]
    card = card_data(client.get(change_url(tenant_b["apiC"])), "azure_sb")
    card.update(
        enabled="",
        namespace="pwned-namespace",
        entity_path="x",
        sas_key_name="k",
        sas_key=base64.b64encode(b"k" * 32).decode(),
    )
    # A's application page: Django's "does not exist" answer, as for any object not in scope.
    page = client.get(change_url(a_api), follow=True)
    assert page.redirect_chain == [(reverse("admin:index"), 302)]
    responses = [
        client.get(configure_url(a_api, "azure_sb")),
        client.post(configure_url(a_api, "azure_sb"), card),
        client.post(configure_url(a_api, "azure_sb"), {**card, "namespace": "\x00"}),
        client.post(configure_url(a_api, "wams"), {**card, "master_key": "x" * 40}),
    ]
    assert [r.status_code for r in responses] == [403] * len(responses)
    for response in [page, *responses]:
        text = response.content.decode()
        assert not [m for m in markers if m in text]
    assert AddonConfiguration.objects.filter(pk=a_config.pk).values()[0] == before
    assert AddonConfiguration.objects.count() == 1
    own = client.get(change_url(tenant_b["apiC"])).content.decode()
    assert state_text(own, "azure_sb") == "Not configured SAS key: not set"
    assert not [m for m in markers if m in own]


@pytest.mark.parametrize("who", ["anonymous", "non_member", "non_staff"])
def test_non_members_get_the_login_page(client, tenant_a, configure, django_user_model, who):
    """Without a membership the tab and its cards' posts lead to the login page and change
    nothing."""
    config = configure(tenant_a, "wams")
    if who != "anonymous":
        user = django_user_model.objects.create_user(
            f"someone-{who}", password="x" * 16, is_staff=who == "non_member"
        )
        client.force_login(user)
    api_c = tenant_a["apiC"]
    response = client.get(change_url(api_c))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    posted = client.post(configure_url(api_c, "wams"), {TAB_FIELD: "1", "enabled": ""})
    assert posted.status_code == 302 and "/admin/login/" in posted["Location"]
    config.refresh_from_db()
    assert config.enabled


def test_the_stand_alone_page_links_to_the_card(admin, tenant_a, configure):
    """The stand-alone configure page still works (its own tests: tests/addons/test_admin.py)
    and points to the application's card."""
    configure(tenant_a, "wams")
    page = admin.get(configure_url(tenant_a["apiC"], "wams")).content.decode()
    assert f'href="{change_url(tenant_a["apiC"])}#addon-wams" id="application-tab-link"' in page

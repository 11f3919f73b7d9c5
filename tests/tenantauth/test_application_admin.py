"""The application page (tabs, fields that follow the type, Allowed APPs / APIs by name,
endpoints, certificates, delegation lists) and deleting applications, without JavaScript: every
test here is a plain form post, as a browser without scripts would send it."""

import json
import re
from html.parser import HTMLParser

import pytest
from cryptography import x509
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from delegation.models import AuditEvent
from tenantauth import services, signing
from tenantauth.models import Application, SigningKey
from tests.tenantauth.helpers import form_data

pytestmark = pytest.mark.django_db


def change_url(app) -> str:
    return reverse("admin:tenantauth_application_change", args=[app.pk])


@pytest.fixture
def admin_client(client, tenant_a, tenant_b):
    client.force_login(tenant_a["admin"])
    return client


def _save(client, app, **changes):
    data = form_data(client.get(change_url(app)), "application_form")
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    data["_save"] = "Save"
    return client.post(change_url(app), data)


# --- the page -----------------------------------------------------------------------------
def test_every_tab_is_a_section_with_its_heading(admin_client, tenant_a):
    """Without JavaScript the tabs are sections, each with its heading, in one page; the
    script that makes them tabs is served from this site (CSP script-src 'self')."""
    content = admin_client.get(change_url(tenant_a["apiC"])).content.decode()
    for panel, heading in [
        ("settings", "Settings"),
        ("tab-oauth", "OAuth"),
        ("tab-grant-types", "Grant Types"),
        ("tab-endpoints", "Endpoints"),
        ("tab-certificates", "Certificates"),
        ("addons", "Add-ons"),
        ("delegation", "Delegation"),
    ]:
        assert re.search(
            rf'<section class="ta-tab-panel" id="{panel}" aria-labelledby="{panel}-heading">\s*'
            rf'<h\d class="ta-tab-heading" id="{panel}-heading">{heading}</h\d>',
            content,
        ), panel
    assert 'src="/static/tenantauth/admin.js"' in content
    assert "<script>" not in content  # no inline script (CSP)


def test_api_shows_no_callback_urls_and_keeps_them(admin_client, tenant_a):
    """An API's page has no callback or logout URL fields; saving it keeps what is stored."""
    api_c = tenant_a["apiC"]
    Application.objects.filter(pk=api_c.pk).update(callback_urls=["https://kept.example/cb"])
    content = admin_client.get(change_url(api_c)).content.decode()
    assert 'name="callback_urls_text"' not in content
    assert 'name="allowed_logout_urls_text"' not in content
    assert 'name="allowed_origins_text"' in content
    assert _save(admin_client, api_c).status_code == 302
    assert Application.objects.get(pk=api_c.pk).callback_urls == ["https://kept.example/cb"]
    web = admin_client.get(change_url(tenant_a["appA"])).content.decode()
    assert 'name="callback_urls_text"' in web


def test_changing_to_an_api_with_callback_urls_is_a_clear_error(admin_client, tenant_a):
    """Without JavaScript nothing hides the callback field: the form says why, saves nothing."""
    app_a = tenant_a["appA"]
    response = _save(admin_client, app_a, app_type="resource_server")
    assert response.status_code == 200
    assert "An API is never signed in to" in response.content.decode()
    assert Application.objects.get(pk=app_a.pk).app_type == "regular_web"


@pytest.mark.parametrize("app_type", ["spa", "native"])
def test_public_client_offers_no_hs256(admin_client, tenant_a, app_type):
    """A public client's page offers RS256 only, and posting HS256 anyway is refused."""
    app_a = tenant_a["appA"]
    response = _save(admin_client, app_a, app_type=app_type, jwt_signature_algorithm="HS256")
    assert response.status_code == 200
    assert "must use RS256" in response.content.decode()
    assert Application.objects.get(pk=app_a.pk).app_type == "regular_web"

    assert (
        _save(admin_client, app_a, app_type=app_type, jwt_signature_algorithm="RS256").status_code
        == 302
    )
    page = admin_client.get(change_url(app_a)).content.decode()
    select = re.search(r'<select name="jwt_signature_algorithm".*?</select>', page, re.S).group(0)
    assert 'value="RS256"' in select and 'value="HS256"' not in select


@pytest.mark.parametrize(
    ("seconds", "duration", "warned"),
    [(36000, "= 10 hours", True), (3600, "= 1 hour", False), (5400, "= 1 hour 30 minutes", True)],
)
def test_jwt_expiration_shown_as_duration_with_warning(
    admin_client, tenant_a, seconds, duration, warned
):
    """The lifetime is also shown as a duration; above one hour a warning is visible."""
    api_c = tenant_a["apiC"]
    Application.objects.filter(pk=api_c.pk).update(jwt_lifetime_seconds=seconds)
    content = admin_client.get(change_url(api_c)).content.decode()
    output = re.search(r'<output class="jwt-duration"[^>]*>([^<]*)</output>', content).group(1)
    assert output == duration
    warning = re.search(
        r'<p class="jwt-warning" id="id_jwt_lifetime_seconds_warning"( hidden)?>', content
    )
    assert (warning.group(1) is None) is warned


def test_endpoints_tab_lists_every_tenant_url(admin_client, tenant_a):
    """Every tenant endpoint is listed with its full URL (and a copy button), and each URL
    is served by this site."""
    tenant = tenant_a["tenant"]
    content = admin_client.get(change_url(tenant_a["apiC"])).content.decode()
    section = content[content.index('id="tab-endpoints"') : content.index('id="tab-certificates"')]
    urls = re.findall(r'<code id="endpoint-\d+">([^<]+)</code>', section)
    expected = [
        "",
        "authorize",
        "oauth/token",
        "dbconnections/signup",
        "userinfo",
        ".well-known/openid-configuration",
        ".well-known/jwks.json",
        "delegation",
        "v2/logout",
        "oidc/logout",
    ]
    assert sorted(urls) == sorted(tenant.issuer + path for path in expected)
    assert section.count('class="copy-button"') == len(urls)
    for url in urls[1:]:
        path = url.removeprefix("http://127.0.0.1:8000")
        assert admin_client.get(path).status_code != 404, url


def test_certificates_tab_shows_a_certificate_of_the_active_key(admin_client, tenant_a):
    """The certificate parses, wraps the tenant's active public key, and is the same on every
    view; the JWKS shown is the published one."""
    tenant = tenant_a["tenant"]
    api_c = tenant_a["apiC"]
    content = admin_client.get(change_url(api_c)).content.decode()
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", content, re.S)
    cert = x509.load_pem_x509_certificate(pem.group(0).encode())
    active = SigningKey.objects.get(tenant=tenant, status="active")
    assert signing.public_jwk(cert.public_key()) == {
        k: active.public_jwk[k] for k in ("kty", "n", "e")
    }
    assert active.kid in content
    download = admin_client.get(
        reverse("admin:tenantauth_application_certificate", args=[api_c.pk])
    )
    assert download.content.decode() == pem.group(0) + "\n"
    jwks = json.loads(
        re.search(r'<pre id="jwks-value"[^>]*>(.*?)</pre>', content, re.S)
        .group(1)
        .replace("&quot;", '"')
    )
    assert jwks == admin_client.get(f"/t/{tenant.slug}/.well-known/jwks.json").json()
    assert "PRIVATE" not in content


def test_delegation_tab_names_callers_and_callees(admin_client, tenant_a):
    """apiC: appA and appB may call it (by name, linked); appB lists appA only... and a
    listed-but-refused pair says why."""
    app_a, app_b, api_c = tenant_a["appA"], tenant_a["appB"], tenant_a["apiC"]
    services.application_update(application=app_b, allowed_clients=[app_a.client_id])
    services.application_update(application=app_a, oidc_conformant=True)
    content = admin_client.get(change_url(api_c)).content.decode()
    callers = content[content.index('id="callers"') : content.index('id="callees-heading"')]
    assert f'<a href="{change_url(app_a)}">appA</a>' in callers
    assert f'<a href="{change_url(app_b)}">appB</a>' in callers
    assert "refused: appA is OIDC conformant" in callers
    assert "No application lists apiC." in content

    content = admin_client.get(change_url(app_a)).content.decode()
    callees = content[content.index('id="callees"') :]
    assert "apiC" in callees and "appB" in callees


# --- Allowed APPs / APIs ------------------------------------------------------------------
def test_allowed_clients_by_checkbox_name_and_paste_are_merged(admin_client, tenant_a):
    """A ticked application, a name typed in "Add by name" and client IDs pasted with CRLF
    line endings make one list of client IDs."""
    app_a, app_b, api_c = tenant_a["appA"], tenant_a["appB"], tenant_a["apiC"]
    extra = services.application_create(tenant=tenant_a["tenant"], name="Reporting API")
    other = services.application_create(tenant=tenant_a["tenant"], name="other")
    response = _save(
        admin_client,
        api_c,
        allowed_clients_picked=[app_a.client_id],
        allowed_clients_add="reporting api",
        allowed_clients_text=f"{other.client_id}\r\n{app_b.client_id},\r\n",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    stored = Application.objects.get(pk=api_c.pk).allowed_clients
    assert set(stored) == {app_a.client_id, extra.client_id, other.client_id, app_b.client_id}


def test_unknown_name_is_an_error_next_to_its_field(admin_client, tenant_a, tenant_b):
    """A name that is no application of this tenant (tenant B's included) is an error on the
    "Add by name" field, which gets the focus; nothing is saved."""
    api_c = tenant_a["apiC"]
    Application.objects.filter(tenant=tenant_b["tenant"], name="appB").update(name="only-in-b")
    response = _save(admin_client, api_c, allowed_clients_add="only-in-b")
    content = response.content.decode()
    assert response.status_code == 200
    error = re.search(
        r'<ul class="errorlist" id="id_allowed_clients_add_error">(.*?)</ul>', content
    )
    assert "No application of this tenant is named only-in-b" in error.group(1)
    field = re.search(r'<input[^>]*name="allowed_clients_add"[^>]*>', content).group(0)
    assert "autofocus" in field and 'aria-invalid="true"' in field
    assert "id_allowed_clients_add_error" in field  # aria-describedby names the error
    assert Application.objects.get(pk=api_c.pk).allowed_clients == api_c.allowed_clients


def test_datalist_suggests_only_this_tenants_applications(admin_client, tenant_a, tenant_b):
    """Typing a name suggests its client ID: the datalist holds A's applications only."""
    content = admin_client.get(change_url(tenant_a["apiC"])).content.decode()
    datalist = re.search(
        r'<datalist id="id_allowed_clients_add_options">(.*?)</datalist>', content
    ).group(1)
    assert f'<option value="{tenant_a["appA"].client_id}" label="appA">' in datalist
    for name in ("appA", "appB", "apiC"):
        assert tenant_b[name].client_id not in content


def test_same_list_in_other_order_or_line_endings_is_no_change(admin_client, tenant_a):
    """Re-entering the allow-list with CRLF line endings, in another order, partly pasted
    instead of ticked, is no change: no audit event, no history entry naming it."""
    app_a, app_b, api_c = tenant_a["appA"], tenant_a["appB"], tenant_a["apiC"]
    before = Application.objects.get(pk=api_c.pk).allowed_clients
    response = _save(
        admin_client,
        api_c,
        allowed_clients_picked=[app_b.client_id],
        allowed_clients_text=f"{app_b.client_id}\r\n{app_a.client_id}\r\n",
    )
    assert response.status_code == 302
    assert Application.objects.get(pk=api_c.pk).allowed_clients == before
    assert not AuditEvent.objects.filter(type="allowlist_changed").exists()
    entry = LogEntry.objects.get(object_id=str(api_c.pk))
    assert "Allowed APPs" not in entry.get_change_message()


def test_real_change_is_audited_once(admin_client, tenant_a):
    """Control: dropping appB is one allowlist_changed event and a history entry."""
    app_a, api_c = tenant_a["appA"], tenant_a["apiC"]
    assert _save(admin_client, api_c, allowed_clients_picked=[app_a.client_id]).status_code == 302
    event = AuditEvent.objects.get(type="allowlist_changed")
    assert event.details["allowed_clients"][1] == [app_a.client_id]
    assert (
        "Allowed APPs / APIs" in LogEntry.objects.get(object_id=str(api_c.pk)).get_change_message()
    )


# --- create and delete --------------------------------------------------------------------
def test_create_is_audited_with_its_initial_allow_list(admin_client, tenant_a):
    """Adding an application records application_created with its allow-list."""
    page = admin_client.get(reverse("admin:tenantauth_application_add"))
    data = form_data(page, "application_form")
    data.update(
        name="billing-api",
        app_type="resource_server",
        allowed_clients_add="appA",
        _save="Save",
    )
    data.pop("callback_urls_text", None)
    response = admin_client.post(reverse("admin:tenantauth_application_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    app = Application.objects.get(tenant=tenant_a["tenant"], name="billing-api")
    event = AuditEvent.objects.get(type="application_created", details__client_id=app.client_id)
    assert event.actor == tenant_a["admin"]
    assert event.details["allowed_clients"] == [tenant_a["appA"].client_id]


def test_delete_page_lists_referencing_apps_and_delete_removes_entries(admin_client, tenant_a):
    """appA's delete page names apiC (whose list holds appA); confirming deletes appA, drops
    it from apiC's list in the same transaction, and records both."""
    app_a, app_b, api_c = tenant_a["appA"], tenant_a["appB"], tenant_a["apiC"]
    url = reverse("admin:tenantauth_application_delete", args=[app_a.pk])
    page = admin_client.get(url).content.decode()
    referenced = page[page.index('id="referenced-by"') :]
    assert f'<a href="{change_url(api_c)}">apiC</a>' in referenced
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Application.objects.filter(pk=app_a.pk).exists()
    assert Application.objects.get(pk=api_c.pk).allowed_clients == [app_b.client_id]
    deleted = AuditEvent.objects.get(type="application_deleted")
    assert deleted.details["removed_from_allowlists"] == [
        {"client_id": api_c.client_id, "name": "apiC"}
    ]
    assert AuditEvent.objects.filter(
        type="allowlist_changed", details__client_id=api_c.client_id
    ).exists()


def test_delete_that_would_open_a_target_to_all_is_refused(admin_client, tenant_a):
    """On a tenant that reads an empty list as "all", deleting apiC's only listed caller
    would open apiC to every application: the page says so, a POST is refused."""
    app_a, api_c = tenant_a["appA"], tenant_a["apiC"]
    services.application_update(application=api_c, allowed_clients=[app_a.client_id])
    services.tenant_update(tenant=tenant_a["tenant"], empty_allowlist_means_all=True)
    url = reverse("admin:tenantauth_application_delete", args=[app_a.pk])
    page = admin_client.get(url).content.decode()
    assert "would become empty" in page and 'name="post"' not in page
    refused = admin_client.post(url, {"post": "yes"})  # Django shows the page again
    assert refused.status_code == 200 and "would become empty" in refused.content.decode()
    assert Application.objects.filter(pk=app_a.pk).exists()
    assert Application.objects.get(pk=api_c.pk).allowed_clients == [app_a.client_id]


def test_bulk_delete_removes_every_entry(admin_client, tenant_a):
    """The list's delete action goes through the same service: apiC's list is emptied."""
    app_a, app_b, api_c = tenant_a["appA"], tenant_a["appB"], tenant_a["apiC"]
    response = admin_client.post(
        reverse("admin:tenantauth_application_changelist"),
        {"action": "delete_selected", "_selected_action": [app_a.pk, app_b.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert Application.objects.get(pk=api_c.pk).allowed_clients == []
    assert AuditEvent.objects.filter(type="application_deleted").count() == 2


# --- small things that were broken --------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "placeholder"),
    [
        ("admin:tenantauth_tenant_change", "/t/&lt;slug&gt;/"),
        ("admin:tenantauth_tenantuser_change", "auth0|&lt;id&gt;"),
    ],
)
def test_help_texts_show_their_placeholders(admin_client, tenant_a, url, placeholder):
    """Help texts are escaped: a placeholder such as /t/<slug>/ shows literally."""
    obj = tenant_a["tenant"] if "tenant_change" in url else tenant_a["user"]
    content = admin_client.get(reverse(url, args=[obj.pk])).content.decode()
    assert placeholder in content


def test_reveal_answers_json_to_the_page_script(admin_client, tenant_a):
    """The page's script asks for JSON: the secret comes back uncached, the reveal audited."""
    api_c = tenant_a["apiC"]
    response = admin_client.post(
        reverse("admin:tenantauth_application_revealsecret", args=[api_c.pk]),
        HTTP_ACCEPT="application/json",
    )
    assert response.json() == {"client_secret": api_c.client_secret()}
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(type="secret_revealed").count() == 1


def test_recent_actions_link_only_to_pages_the_reader_may_open(client, tenant_a, tenant_b):
    """An admin of A and B changes an application in A, then works in B: the index lists the
    action without a link (the object is not in B); back in A, the link is there."""
    admin = tenant_a["admin"]
    services.membership_create(tenant=tenant_b["tenant"], user=admin)
    client.force_login(admin)
    _save(client, tenant_a["apiC"], name="apiC-renamed")
    link = f'href="{change_url(tenant_a["apiC"])}"'
    assert link in client.get(reverse("admin:index")).content.decode()
    client.post(reverse("admin:switch_tenant"), {"tenant": tenant_b["tenant"].pk})
    index = client.get(reverse("admin:index")).content.decode()
    assert "apiC-renamed" in index and link not in index


class _Inputs(HTMLParser):
    """Form controls of a page and the ids that a ``<label for>`` names."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self._label_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self._label_depth += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if attrs.get("type") in ("hidden", "submit", "button", "reset", "image"):
                return
            self.controls.append({**attrs, "_in_label": self._label_depth > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


@pytest.mark.parametrize(
    "page",
    [
        "application-change",
        "application-add",
        "try-it",
        "rotate",
        "membership-add",
        "tenantuser-add",
        "tenantuser-password",
        "import-key",
        "tenant-change",
    ],
)
def test_every_input_has_a_label(admin_client, tenant_a, page):
    """Each visible control of the dashboard's forms has a label (for=, wrapping or aria)."""
    api_c, user, tenant = tenant_a["apiC"], tenant_a["user"], tenant_a["tenant"]
    url = {
        "application-change": change_url(api_c),
        "application-add": reverse("admin:tenantauth_application_add"),
        "try-it": reverse("admin:tenantauth_application_tryit", args=[api_c.pk]),
        "rotate": reverse("admin:tenantauth_application_rotatesecret", args=[api_c.pk]),
        "membership-add": reverse("admin:tenantauth_membership_add"),
        "tenantuser-add": reverse("admin:tenantauth_tenantuser_add"),
        "tenantuser-password": reverse("admin:tenantauth_tenantuser_password", args=[user.pk]),
        "import-key": reverse("admin:tenantauth_tenant_importkey", args=[tenant.pk]),
        "tenant-change": reverse("admin:tenantauth_tenant_change", args=[tenant.pk]),
    }[page]
    response = admin_client.get(url)
    assert response.status_code == 200
    parser = _Inputs()
    parser.feed(response.content.decode())
    assert parser.controls
    unlabelled = [
        c.get("name") or c.get("id")
        for c in parser.controls
        if not (
            c["_in_label"]
            or c.get("id") in parser.label_for
            or c.get("aria-label")
            or c.get("aria-labelledby")
        )
    ]
    assert not unlabelled, unlabelled

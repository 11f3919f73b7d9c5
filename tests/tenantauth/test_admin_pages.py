"""Every page of every registered admin, walked from ``admin.site._registry`` so that a new
admin is covered without editing this file.

For each model and each of its pages (list, add, change, delete, history, and the admin's own
extra URLs such as reveal, rotate or try it):

* tenant A's admin opens it without an error: 200, or 403 exactly where the admin's
  permissions (the roles table) say no; a GET of a POST-only URL goes back to its page (302),
  never a bare 405;
* tenant A's auditor reads what the permissions let auditors read, and nothing shows a save
  button or changes anything (POSTs are refused);
* an account without membership is sent to the login page;
* tenant B's admin sees nothing of tenant A's rows.

Every POST form found on those pages is also sent without its CSRF token: 403, nothing changed.
"""

from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tenantauth.admin import TenantScopedModelAdmin
from tenantauth.models import Application, Membership, SigningKey, Tenant, TenantUser
from tests.conftest import ADMIN_PASSWORD
from tests.tenantauth.helpers import snapshot

pytestmark = pytest.mark.django_db

STANDARD_VIEWS = ("changelist", "add", "change", "delete", "history")


def _registry():
    """The tenant-scoped admins (every admin but platform staff's own, see below)."""
    return sorted(
        (
            (model, model_admin)
            for model, model_admin in admin.site._registry.items()
            if model._meta.app_label != "auth"
        ),
        key=lambda item: item[0]._meta.label,
    )


MODELS = [model for model, _ in _registry()]
MODEL_IDS = [model._meta.label_lower for model in MODELS]
# Platform accounts and groups (Django's own admins) belong to no tenant: platform staff only.
PLATFORM_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "auth"),
    key=lambda model: model._meta.label,
)


def _custom_urls(model_admin) -> list[str]:
    """Names of an admin's own object URLs (``<int:pk>/...``), beyond Django's standard ones."""
    info = (model_admin.opts.app_label, model_admin.opts.model_name)
    standard = {f"{info[0]}_{info[1]}_{view}" for view in STANDARD_VIEWS}
    return [
        url.name
        for url in model_admin.get_urls()
        if url.name and url.name not in standard and "<int:pk>" in str(url.pattern)
    ]


CUSTOM = [(model, name) for model, model_admin in _registry() for name in _custom_urls(model_admin)]
CUSTOM_IDS = [f"{model._meta.model_name}:{name}" for model, name in CUSTOM]


def _row_in(model, tenant):
    """One row of ``model`` that belongs to ``tenant``."""
    model_admin = admin.site._registry[model]
    lookup = model_admin.tenant_lookup
    rows = model._default_manager.filter(**{lookup: tenant.pk if lookup == "pk" else tenant})
    row = rows.order_by("pk").first()
    assert row is not None, (
        f"no {model._meta.label} row in the test tenant: create one in the fixture below"
    )
    return row


@pytest.fixture
def rows(tenant_a, tenant_b):
    """Tenant A's and B's rows of every registered model (audit rows made by the services)."""
    for setup in (tenant_a, tenant_b):
        AuditEvent.objects.create(
            tenant=setup["tenant"], type="fd", reason=f"marker-{setup['tenant'].slug}"
        )
        AddonConfiguration.objects.create(
            tenant=setup["tenant"], application=setup["apiC"], addon="wams"
        )
    return {
        "a": {model: _row_in(model, tenant_a["tenant"]) for model in MODELS},
        "b": {model: _row_in(model, tenant_b["tenant"]) for model in MODELS},
    }


def _url(model, view, obj=None) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    return reverse(name, args=[obj.pk] if view in ("change", "delete", "history") else [])


def _markers(setup) -> list[str]:
    """Strings found only in one tenant's data."""
    return [
        setup["tenant"].slug,
        setup["appA"].client_id,
        setup["apiC"].client_id,
        setup["user"].email,
        setup["user"].user_id,
        SigningKey.objects.filter(tenant=setup["tenant"]).first().kid,
        f"marker-{setup['tenant'].slug}",
    ]


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("view", STANDARD_VIEWS)
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_admin_opens_every_page(tenant_a, rows, model, view):
    """Tenant A's admin: list, change and history always open (200); add and delete open
    exactly when the admin's permissions allow (else 403). Never a 500."""
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, TenantScopedModelAdmin), "every admin must be tenant-scoped"
    client = _login(tenant_a["admin"])
    obj = rows["a"][model]
    response = client.get(_url(model, view, obj))
    request = response.wsgi_request
    expected = {
        "changelist": True,
        "change": True,
        "history": True,
        "add": model_admin.has_add_permission(request),
        "delete": model_admin.has_delete_permission(request, obj),
    }[view]
    assert response.status_code == (200 if expected else 403), response.content[:300]
    if response.status_code == 200:
        assert not [m for m in _markers_b() if m in response.content.decode()]


def _markers_b():
    tenant = Tenant.objects.get(slug="tenant-b")
    return [
        "tenant-b",
        *Application.objects.filter(tenant=tenant).values_list("client_id", flat=True),
        *TenantUser.objects.filter(tenant=tenant).values_list("email", flat=True),
        "marker-tenant-b",
    ]


@pytest.mark.parametrize("view", STANDARD_VIEWS)
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_auditor_reads_only(tenant_a, rows, model, view):
    """Tenant A's auditor: pages open exactly where the roles table lets auditors read (else
    403), and no page offers to save, add or delete; the admin's permissions never let an
    auditor change anything."""
    model_admin = admin.site._registry[model]
    client = _login(tenant_a["auditor"])
    obj = rows["a"][model]
    response = client.get(_url(model, view, obj))
    request = response.wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    may_read = model_admin.has_view_permission(request, None if view == "changelist" else obj)
    expected = 200 if view in ("changelist", "change", "history") and may_read else 403
    assert response.status_code == expected, (response.status_code, response.content[:300])
    if response.status_code == 200:
        content = response.content.decode()
        assert 'name="_save"' not in content
        assert 'name="_continue"' not in content


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_auditor_posts_change_nothing(tenant_a, rows, model):
    """An auditor's POST to a change or delete page is refused; the row stays as it was."""
    client = _login(tenant_a["auditor"])
    obj = rows["a"][model]
    before = snapshot(obj)
    change = client.post(_url(model, "change", obj), {"name": "changed", "_save": "Save"})
    delete = client.post(_url(model, "delete", obj), {"post": "yes"})
    assert change.status_code == 403
    assert delete.status_code == 403
    assert snapshot(obj) == before


@pytest.mark.parametrize("is_staff", [True, False])
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_non_member_gets_the_login_page(tenant_a, rows, model, is_staff):
    """An account that is a member of no tenant is sent to the login page by every page."""
    outsider = get_user_model().objects.create_user(
        "outsider", password=ADMIN_PASSWORD, is_staff=is_staff
    )
    client = _login(outsider)
    obj = rows["a"][model]
    urls = [_url(model, view, obj) for view in STANDARD_VIEWS]
    urls += [reverse(f"admin:{name}", args=[obj.pk]) for m, name in CUSTOM if m is model]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


@pytest.mark.parametrize("view", ["change", "delete", "history"])
@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_other_tenant_admin_sees_nothing(tenant_a, tenant_b, rows, model, view):
    """Tenant B's admin opening tenant A's row gets no page of it and none of A's data."""
    client = _login(tenant_b["admin"])
    response = client.get(_url(model, view, rows["a"][model]), follow=True)
    content = response.content.decode()
    assert not [m for m in _markers(tenant_a) if m in content]


@pytest.mark.parametrize(("model", "name"), CUSTOM, ids=CUSTOM_IDS)
def test_custom_pages(tenant_a, tenant_b, rows, model, name):
    """The admins' own pages (reveal, rotate, try it, ...): the admin opens them (200) or, for
    a POST-only URL, is sent back to the object's page (302), never a bare 405; the auditor
    and tenant B's admin are refused (403) without tenant A's data."""
    obj = rows["a"][model]
    url = reverse(f"admin:{name}", args=[obj.pk])

    response = _login(tenant_a["admin"]).get(url)
    assert response.status_code in (200, 302), (url, response.status_code)
    if response.status_code == 302:
        assert response["Location"] == _url(model, "change", obj)

    for reader in (tenant_a["auditor"], tenant_b["admin"]):
        response = _login(reader).get(url)
        if reader is tenant_b["admin"]:
            assert response.status_code == 403, url
            assert not [m for m in _markers(tenant_a) if m in response.content.decode()]
        else:
            model_admin = admin.site._registry[model]
            readable = name.endswith("_certificate") and model_admin.has_view_permission(
                response.wsgi_request, obj
            )
            assert response.status_code == (200 if readable else 403), url


@pytest.mark.parametrize("view", STANDARD_VIEWS)
@pytest.mark.parametrize("model", PLATFORM_MODELS, ids=lambda m: m._meta.label_lower)
@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_platform_admins_closed_to_tenant_members(tenant_a, model, view, who):
    """Platform accounts and groups span tenants: a tenant admin or auditor opens none of their
    pages (403), not even for their own account."""
    client = _login(tenant_a[who])
    obj = tenant_a[who] if model is get_user_model() else model.objects.create(name="g")
    response = client.get(_url(model, view, obj))
    assert response.status_code == 403


def test_switch_tenant_get_goes_to_the_index(tenant_a):
    """The tenant switcher is POST only; a GET goes to the index, never a 405."""
    response = _login(tenant_a["admin"]).get(reverse("admin:switch_tenant"))
    assert (response.status_code, response["Location"]) == (302, reverse("admin:index"))


# --- every POST form on these pages enforces CSRF -------------------------------------------
class _PostForms(HTMLParser):
    """The action and fields of each ``<form method="post">`` of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._current = {"action": attrs.get("action") or "", "data": {}}
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "textarea", "select"):
            name = attrs.get("name")
            if name and name != "csrfmiddlewaretoken" and attrs.get("type") != "submit":
                self._current["data"][name] = attrs.get("value") or "x"

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _state(tenant) -> dict:
    return {
        "apps": sorted(
            Application.objects.filter(tenant=tenant).values_list(
                "pk", "name", "client_secret_ciphertext", "allowed_clients"
            )
        ),
        "users": sorted(TenantUser.objects.filter(tenant=tenant).values_list("pk", "blocked")),
        "members": sorted(Membership.objects.filter(tenant=tenant).values_list("pk", "role")),
        "keys": SigningKey.objects.filter(tenant=tenant).count(),
        "audit": AuditEvent.objects.filter(tenant=tenant).count(),
    }


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_every_post_form_enforces_csrf(tenant_a, rows, model):
    """Each POST form on the model's pages, sent without its CSRF token, is refused (403)
    and changes nothing."""
    obj = rows["a"][model]
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_a["admin"])
    pages = [_url(model, view, obj) for view in STANDARD_VIEWS]
    pages += [reverse(f"admin:{name}", args=[obj.pk]) for m, name in CUSTOM if m is model]
    before = _state(tenant_a["tenant"])
    posted = 0
    for page_url in pages:
        page = client.get(page_url)
        if page.status_code != 200 or not page["Content-Type"].startswith("text/html"):
            continue
        parser = _PostForms()
        parser.feed(page.content.decode())
        for form in parser.forms:
            response = client.post(form["action"] or page_url, form["data"])
            assert response.status_code == 403, (page_url, form["action"])
            posted += 1
    assert posted, "no POST form found on any page"
    assert _state(tenant_a["tenant"]) == before


# --- links lead only to pages the reader may open --------------------------------------------
def _admin_links(content: str) -> set[str]:
    import html
    import re

    return {
        html.unescape(href)
        for href in re.findall(r'href="(/admin/[^"#]*)"', content)
        if "/logout/" not in href
    }


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_links_on_history_and_audit_pages_open(tenant_a, rows, who):
    """Every admin link on the index, on each history page and on the audit pages opens for
    the reader who sees it (never a 403 or an error)."""
    client = _login(tenant_a[who])
    audit_row = rows["a"][AuditEvent]
    pages = [reverse("admin:index"), reverse("admin:delegation_auditevent_changelist")]
    pages += [reverse("admin:delegation_auditevent_change", args=[audit_row.pk])]
    pages += [_url(model, "history", rows["a"][model]) for model in MODELS]
    checked: set[str] = set()
    for page_url in pages:
        page = client.get(page_url)
        if page.status_code == 403:
            continue  # a page the roles table closes to this reader: no links to follow
        assert page.status_code == 200, page_url
        for link in _admin_links(page.content.decode()) - checked:
            checked.add(link)
            response = client.get(link)
            assert response.status_code in (200, 302), (page_url, link, response.status_code)
    assert checked

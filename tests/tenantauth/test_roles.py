"""The roles table (tenantauth.roles.RIGHTS) is what the admin does, and what the README says.

The cases are derived from the table itself: for every model, every role and every action, the
admin page that needs that right answers as the table says.
"""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tenantauth import roles
from tenantauth.models import Connection, Membership, SigningKey
from tests.conftest import ADMIN_PASSWORD

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_the_roles_table():
    """The README's roles table is the table the code enforces, row for row."""
    assert roles.markdown_table() in README.read_text()


def test_unknown_roles_models_and_actions_are_refused():
    assert not roles.allowed(None, "tenantauth.application", "view")
    assert not roles.allowed("owner", "tenantauth.application", "view")
    assert not roles.allowed("staff", "tenantauth.refreshtoken", "view")
    assert not roles.allowed("staff", "tenantauth.application", "export")


def _objects(tenant_a) -> dict:
    tenant = tenant_a["tenant"]
    event = AuditEvent.objects.create(
        tenant=tenant, type=AuditEvent.Type.DELEGATION_FAILURE, error="invalid_grant"
    )
    return {
        "tenantauth.tenant": tenant,
        "tenantauth.membership": Membership.objects.get(tenant=tenant, user=tenant_a["admin"]),
        "tenantauth.application": tenant_a["apiC"],
        "tenantauth.connection": Connection.objects.get(tenant=tenant),
        "tenantauth.tenantuser": tenant_a["user"],
        "tenantauth.signingkey": SigningKey.objects.get(tenant=tenant, status="active"),
        "delegation.auditevent": event,
        "auth.user": tenant_a["auditor"],
        "auth.group": Group.objects.create(name="operators"),
        "addons.addonconfiguration": AddonConfiguration.objects.create(
            tenant=tenant, application=tenant_a["apiC"], addon="wams"
        ),
    }


def _base(model: str) -> str:
    app_label, model_name = model.split(".")
    return f"/admin/{app_label}/{model_name}/"


@pytest.mark.parametrize("role", roles.ROLES)
@pytest.mark.parametrize("model", list(roles.RIGHTS))
def test_admin_pages_follow_the_roles_table(client, tenant_a, staff_user, model, role):
    """view: the list and the row's page open; add: the add page opens; change: the row's page
    has a Save button and a POST is not refused; delete: the delete page opens. Without the
    right each of these is 403 (a read-only page has no Save button)."""
    obj = _objects(tenant_a)[model]
    client.force_login(staff_user if role == roles.STAFF else tenant_a[role])
    may = {action: roles.allowed(role, model, action) for action in roles.ACTIONS}
    base, change_url = _base(model), f"{_base(model)}{obj.pk}/change/"

    readable = may["view"] or may["change"]
    assert client.get(base).status_code == (200 if readable else 403), "list"
    page = client.get(change_url)
    assert page.status_code == (200 if readable else 403), "change page"
    if readable:
        assert ('name="_save"' in page.content.decode()) == may["change"], "save button"
    if not may["change"]:
        assert client.post(change_url, {"name": "renamed"}).status_code == 403, "change post"
    assert client.get(f"{base}add/").status_code == (200 if may["add"] else 403), "add page"
    delete = client.get(f"{base}{obj.pk}/delete/")
    assert delete.status_code == (200 if may["delete"] else 403), "delete page"


@pytest.mark.parametrize("model", list(roles.RIGHTS))
def test_an_account_without_a_role_reaches_nothing(client, tenant_a, model):
    """A staff account with no membership (no role) is sent to the login page everywhere."""
    outsider = get_user_model().objects.create_user(
        "no-role", password=ADMIN_PASSWORD, is_staff=True
    )
    client.force_login(outsider)
    obj = _objects(tenant_a)[model]
    for url in [_base(model), f"{_base(model)}{obj.pk}/change/", f"{_base(model)}add/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


@pytest.mark.parametrize("role", roles.ROLES)
def test_the_index_lists_exactly_the_models_a_role_may_use(client, tenant_a, staff_user, role):
    client.force_login(staff_user if role == roles.STAFF else tenant_a[role])
    listed = {
        f"{app['app_label']}.{entry['object_name'].lower()}"
        for app in client.get("/admin/").context["app_list"]
        for entry in app["models"]
    }
    assert listed == {m for m in roles.RIGHTS if roles.any_allowed(role, m)}


def test_secret_key_and_password_pages_need_change_rights(client, tenant_a):
    """The pages beyond view/add/change/delete need "change" on their model: an auditor (no
    rights there) and a tenant admin on the tenant's keys (view only) are told what the table
    says."""
    client.force_login(tenant_a["auditor"])
    app, user, tenant = tenant_a["apiC"], tenant_a["user"], tenant_a["tenant"]
    for url in [
        f"/admin/tenantauth/application/{app.pk}/secret/reveal/",
        f"/admin/tenantauth/application/{app.pk}/secret/rotate/",
        f"/admin/tenantauth/tenant/{tenant.pk}/rotate-key/",
        f"/admin/tenantauth/tenantuser/{user.pk}/password/",
    ]:
        assert client.post(url).status_code == 403, url
    assert not roles.allowed("auditor", "tenantauth.application", "change")

"""Admin edits go through the services: tenant delegation settings are audited, user edits
are validated, and the posted values are what gets stored."""

from delegation.models import AuditEvent
from tenantauth.models import Tenant, TenantUser
from tests.tenantauth.helpers import form_data


def test_tenant_delegation_settings_change_is_audited(client, tenant_a):
    """Turning delegation off and changing the rate limit records one settings_changed event
    naming both changes, with the admin as actor."""
    tenant = tenant_a["tenant"]
    client.force_login(tenant_a["admin"])
    url = f"/admin/tenantauth/tenant/{tenant.pk}/change/"
    data = form_data(client.get(url), "tenant_form")
    data.pop("delegation_enabled", None)  # unchecked box
    data["delegation_rate_limit"] = "25"
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:500]
    stored = Tenant.objects.get(pk=tenant.pk)
    assert stored.delegation_enabled is False and stored.delegation_rate_limit == 25
    event = AuditEvent.objects.get(tenant=tenant, type="settings_changed")
    assert event.actor == tenant_a["admin"]
    assert event.details["changes"] == {
        "delegation_enabled": [True, False],
        "delegation_rate_limit": [10, 25],
    }


def test_tenant_name_change_is_not_a_security_event(client, tenant_a):
    tenant = tenant_a["tenant"]
    client.force_login(tenant_a["admin"])
    url = f"/admin/tenantauth/tenant/{tenant.pk}/change/"
    data = form_data(client.get(url), "tenant_form")
    data["name"] = "Renamed"
    assert client.post(url, data).status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).name == "Renamed"
    assert not AuditEvent.objects.filter(type="settings_changed").exists()


def test_tenant_user_edit_is_stored_and_validated(client, tenant_a):
    """A user edit is saved (email normalised); an invalid email is a form error, nothing
    saved."""
    user = tenant_a["user"]
    client.force_login(tenant_a["admin"])
    url = f"/admin/tenantauth/tenantuser/{user.pk}/change/"
    data = form_data(client.get(url), "tenantuser_form")
    data["name"] = "Ada Lovelace"
    data["email"] = "Ada@Tenant-A.example"
    assert client.post(url, data).status_code == 302
    stored = TenantUser.objects.get(pk=user.pk)
    assert stored.name == "Ada Lovelace" and stored.email == "ada@tenant-a.example"

    data["email"] = "not an email"
    response = client.post(url, data)
    assert response.status_code == 200 and b"Enter a valid email address" in response.content
    assert TenantUser.objects.get(pk=user.pk).email == "ada@tenant-a.example"

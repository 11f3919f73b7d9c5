"""The application and membership services on their own: audit rows, one transaction, the
guards that keep a tenant safe (no allow-list opened to all, always one admin)."""

import pytest

from delegation.models import AuditEvent
from tenantauth import services
from tenantauth.models import Application, Membership

pytestmark = pytest.mark.django_db


def test_create_is_audited_when_someone_creates(tenant_a):
    """With an actor: application_created with the initial allow-list; set-up code without
    an actor (the demo, fixtures) records nothing."""
    tenant = tenant_a["tenant"]
    quiet = services.application_create(tenant=tenant, name="seeded")
    assert not AuditEvent.objects.filter(details__client_id=quiet.client_id).exists()
    app = services.application_create(
        tenant=tenant,
        name="by-admin",
        allowed_clients=[tenant_a["appA"].client_id],
        actor=tenant_a["admin"],
    )
    event = AuditEvent.objects.get(type="application_created")
    assert event.details == {
        "client_id": app.client_id,
        "name": "by-admin",
        "app_type": "regular_web",
        "allowed_clients": [tenant_a["appA"].client_id],
    }


def test_delete_ignores_another_tenants_applications(tenant_a, tenant_b):
    """Applications of another tenant passed in are neither deleted nor unlisted."""
    services.applications_delete(
        tenant=tenant_a["tenant"], applications=[tenant_b["appA"]], actor=tenant_a["admin"]
    )
    assert Application.objects.filter(pk=tenant_b["appA"].pk).exists()
    assert (
        tenant_b["appA"].client_id
        in Application.objects.get(pk=tenant_b["apiC"].pk).allowed_clients
    )


def test_delete_refused_when_a_list_would_open_to_all(tenant_a):
    """On a tenant reading an empty list as "all", emptying apiC's list by deleting its callers
    is refused and nothing changes; with the secure default it goes through."""
    tenant = tenant_a["tenant"]
    callers = [tenant_a["appA"], tenant_a["appB"]]
    services.tenant_update(tenant=tenant, empty_allowlist_means_all=True)
    tenant.refresh_from_db()
    with pytest.raises(services.ApplicationDeleteRefused):
        services.applications_delete(tenant=tenant, applications=callers)
    assert Application.objects.filter(tenant=tenant).count() == 3
    assert not AuditEvent.objects.filter(type="application_deleted").exists()
    services.tenant_update(tenant=tenant, empty_allowlist_means_all=False)
    tenant.refresh_from_db()
    services.applications_delete(tenant=tenant, applications=callers)
    assert Application.objects.get(pk=tenant_a["apiC"].pk).allowed_clients == []


def test_same_entries_in_another_order_is_no_change(tenant_a):
    """application_update with the same allow-list reordered stores nothing new, audits nothing."""
    api_c = tenant_a["apiC"]
    stored = list(api_c.allowed_clients)
    services.application_update(
        application=api_c, allowed_clients=list(reversed(stored)), actor=tenant_a["admin"]
    )
    assert Application.objects.get(pk=api_c.pk).allowed_clients == stored
    assert not AuditEvent.objects.filter(type="allowlist_changed").exists()


def test_last_admin_stays(tenant_a):
    """The tenant's only admin membership can be neither removed nor demoted."""
    own = Membership.objects.get(tenant=tenant_a["tenant"], user=tenant_a["admin"])
    with pytest.raises(services.MembershipError):
        services.membership_remove(membership=own, actor=tenant_a["admin"])
    with pytest.raises(services.MembershipError):
        services.membership_set_role(membership=own, role="auditor", actor=tenant_a["admin"])
    assert Membership.objects.get(pk=own.pk).role == "admin"
    assert not AuditEvent.objects.filter(type__startswith="member_").exists()

"""Tenant members: a tenant admin invites (a new platform account with a one-time password,
or an existing account by username), changes roles and removes admins and auditors of their
own tenant; never platform staff, never another tenant's memberships, never the tenant's last
admin. Every change is audited."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from delegation.models import AuditEvent
from tenantauth import services
from tenantauth.models import Membership
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.django_db
ADD = reverse("admin:tenantauth_membership_add")
LIST = reverse("admin:tenantauth_membership_changelist")


def member_url(membership, view="change") -> str:
    return reverse(f"admin:tenantauth_membership_{view}", args=[membership.pk])


@pytest.fixture
def admin_client(client, tenant_a, tenant_b):
    client.force_login(tenant_a["admin"])
    return client


def _membership(setup, who="auditor"):
    return Membership.objects.get(tenant=setup["tenant"], user=setup[who])


def test_invite_new_account_shows_one_time_password_once(admin_client, tenant_a):
    """A new account is created (staff, not superuser), joins as auditor, and its one-time
    password is shown once on an uncached page; it signs in with it; the invitation is
    audited without the password."""
    response = admin_client.post(
        ADD, {"account": "new", "username": "new-auditor", "role": "auditor", "_save": "Save"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = re.search(r'id="one-time-password">([^<]+)<', response.content.decode()).group(1)
    user = get_user_model().objects.get(username="new-auditor")
    assert (user.is_staff, user.is_superuser, user.check_password(password)) == (True, False, True)
    assert _membership({"tenant": tenant_a["tenant"], "x": user}, "x").role == "auditor"
    event = AuditEvent.objects.get(type="member_added")
    assert (event.actor, event.details["username"], event.details["role"]) == (
        tenant_a["admin"],
        "new-auditor",
        "auditor",
    )
    assert password not in str(event.details) and password not in event.object_repr
    newcomer = Client()
    login = newcomer.post(
        "/admin/login/", {"username": "new-auditor", "password": password, "next": "/admin/"}
    )
    assert login.status_code == 302
    assert password not in admin_client.get(LIST).content.decode()


def test_attach_existing_account(admin_client, tenant_a, tenant_b):
    """Tenant B's admin account can be attached to tenant A as admin; B's membership is
    neither shown nor changed."""
    b_admin = tenant_b["admin"]
    response = admin_client.post(
        ADD,
        {"account": "existing", "username": b_admin.username, "role": "admin", "_save": "Save"},
    )
    assert response.status_code == 302
    assert Membership.objects.get(tenant=tenant_a["tenant"], user=b_admin).role == "admin"
    assert Membership.objects.get(tenant=tenant_b["tenant"], user=b_admin).role == "admin"
    b_membership = Membership.objects.get(tenant=tenant_b["tenant"], user=b_admin)
    listing = admin_client.get(LIST).content.decode()
    assert b_admin.username in listing
    assert member_url(b_membership) not in listing and "@ tenant-b" not in listing


@pytest.mark.parametrize("who", ["unknown", "superuser", "inactive", "member"])
def test_ineligible_accounts_refused(admin_client, tenant_a, staff_user, who):
    """Unknown, platform staff and inactive accounts get one identical answer; an existing
    member is told so. Nothing is created or recorded."""
    username = {
        "unknown": "nobody-here",
        "superuser": staff_user.username,
        "inactive": get_user_model()
        .objects.create_user("gone", is_staff=True, is_active=False)
        .username,
        "member": tenant_a["auditor"].username,
    }[who]
    before = sorted(Membership.objects.values_list("pk", "tenant_id", "user_id", "role"))
    response = admin_client.post(
        ADD, {"account": "existing", "username": username, "role": "admin", "_save": "Save"}
    )
    assert response.status_code == 200
    message = "already" if who == "member" else "No eligible account has this username."
    assert message in response.content.decode()
    assert sorted(Membership.objects.values_list("pk", "tenant_id", "user_id", "role")) == before
    assert not AuditEvent.objects.filter(type="member_added").exists()


def test_new_account_with_taken_username_refused(admin_client, tenant_a):
    response = admin_client.post(
        ADD,
        {
            "account": "new",
            "username": tenant_a["auditor"].username,
            "role": "admin",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert "exists already" in response.content.decode()


def test_role_change_and_removal_are_audited(admin_client, tenant_a):
    """The auditor becomes an admin (member_role_changed), then is removed (member_removed);
    the account itself stays."""
    membership = _membership(tenant_a)
    response = admin_client.post(member_url(membership), {"role": "admin", "_save": "Save"})
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == "admin"
    assert AuditEvent.objects.get(type="member_role_changed").details["role"] == [
        "auditor",
        "admin",
    ]
    response = admin_client.post(member_url(membership, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert get_user_model().objects.filter(pk=tenant_a["auditor"].pk).exists()
    assert AuditEvent.objects.get(type="member_removed").actor == tenant_a["admin"]


def test_last_admin_cannot_leave_or_be_demoted(admin_client, tenant_a):
    """The tenant's only admin can neither remove nor demote their own membership."""
    own = _membership(tenant_a, "admin")
    page = admin_client.get(member_url(own, "delete")).content.decode()
    assert "last admin" in page and 'name="post"' not in page
    admin_client.post(member_url(own, "delete"), {"post": "yes"})
    demote = admin_client.post(member_url(own), {"role": "auditor", "_save": "Save"})
    assert demote.status_code == 200 and "at least one admin" in demote.content.decode()
    assert Membership.objects.get(pk=own.pk).role == "admin"
    # With a second admin, leaving is fine.
    services.membership_create(
        tenant=tenant_a["tenant"], user=tenant_a["auditor"], role=Membership.Role.ADMIN
    )
    assert admin_client.post(member_url(own, "delete"), {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=own.pk).exists()


def test_platform_staff_membership_untouchable_by_tenant_admin(admin_client, tenant_a, staff_user):
    """A superuser's membership is listed but cannot be changed or removed by a tenant admin."""
    staff_membership = services.membership_create(tenant=tenant_a["tenant"], user=staff_user)
    assert admin_client.get(member_url(staff_membership, "delete")).status_code == 403
    admin_client.post(member_url(staff_membership), {"role": "auditor", "_save": "Save"})
    admin_client.post(member_url(staff_membership, "delete"), {"post": "yes"})
    assert Membership.objects.get(pk=staff_membership.pk).role == "admin"


def test_other_tenants_memberships_out_of_reach(admin_client, tenant_a, tenant_b):
    """Tenant A's admin neither sees nor changes nor removes tenant B's memberships."""
    b_membership = _membership(tenant_b)
    assert tenant_b["auditor"].username not in admin_client.get(LIST).content.decode()
    for view in ("change", "delete", "history"):
        response = admin_client.get(member_url(b_membership, view), follow=True)
        assert tenant_b["auditor"].username not in response.content.decode()
    admin_client.post(member_url(b_membership), {"role": "admin", "_save": "Save"})
    admin_client.post(member_url(b_membership, "delete"), {"post": "yes"})
    assert Membership.objects.get(pk=b_membership.pk).role == "auditor"


def test_auditor_and_non_member_cannot_manage_members(client, tenant_a):
    """An auditor may not invite, change or remove (403); a non-member gets the login page."""
    membership = _membership(tenant_a, "admin")
    client.force_login(tenant_a["auditor"])
    form = {"account": "new", "username": "sneaky", "role": "admin", "_save": "Save"}
    assert client.post(ADD, form).status_code == 403
    assert client.post(member_url(membership, "delete"), {"post": "yes"}).status_code == 403
    outsider = get_user_model().objects.create_user(
        "outsider", password=ADMIN_PASSWORD, is_staff=True
    )
    client.force_login(outsider)
    response = client.post(ADD, form)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not get_user_model().objects.filter(username="sneaky").exists()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_invite_needs_its_csrf_token(tenant_a):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(tenant_a["admin"])
    form = {"account": "new", "username": "csrf-victim", "role": "admin", "_save": "Save"}
    assert csrf_client.post(ADD, form).status_code == 403
    assert not get_user_model().objects.filter(username="csrf-victim").exists()

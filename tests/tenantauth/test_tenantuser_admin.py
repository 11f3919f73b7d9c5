"""The tenant users admin (list, search, view, change, block/unblock, reset password) is scoped:
tenant A's admin never sees or changes tenant B's users, and outsiders get nothing."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.forms.models import model_to_dict

from tenantauth.models import TenantUser
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD

pytestmark = pytest.mark.django_db
LIST = "/admin/tenantauth/tenantuser/"
NEW_PASSWORD = "a-brand-new-passphrase-77"


def _row(user: TenantUser) -> dict:
    user = TenantUser.objects.get(pk=user.pk)
    return {**model_to_dict(user), "password": user.password}


@pytest.fixture
def a_admin(client, tenant_a, tenant_b):
    client.force_login(tenant_a["admin"])
    return client


def _block(client, action, *pks):
    return client.post(
        LIST, {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0"}
    )


def test_own_tenant_users_listed_viewed_blocked_and_reset(a_admin, tenant_a, tenant_b):
    """Control case: A's admin lists, searches and views A's user, blocks and unblocks them and
    resets their password, which then signs in through the token endpoint's hasher."""
    user = tenant_a["user"]
    listing = a_admin.get(LIST, {"q": "user@"})
    assert user.email.encode() in listing.content
    assert tenant_b["user"].email.encode() not in listing.content
    assert a_admin.get(f"{LIST}{user.pk}/change/").status_code == 200
    _block(a_admin, "block_users", user.pk)
    assert TenantUser.objects.get(pk=user.pk).blocked is True
    _block(a_admin, "unblock_users", user.pk)
    assert TenantUser.objects.get(pk=user.pk).blocked is False
    response = a_admin.post(
        f"{LIST}{user.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert check_password(NEW_PASSWORD, TenantUser.objects.get(pk=user.pk).password)


def test_cross_tenant_view_change_reset_block_refused(a_admin, tenant_a, tenant_b):
    """Tenant A's admin cannot find, view, change, reset the password of, block, unblock or
    delete tenant B's user by URL, search or action ids; B's row stays byte-for-byte the same."""
    b_user = tenant_b["user"]
    before = _row(b_user)
    search = a_admin.get(LIST, {"q": b_user.email})  # the query itself is echoed in the box
    assert b_user.user_id.encode() not in search.content
    assert f"{LIST}{b_user.pk}/change/".encode() not in search.content
    assert search.context["cl"].result_count == 0
    for url in ("change/", "history/", "delete/", "password/"):
        response = a_admin.get(f"{LIST}{b_user.pk}/{url}", follow=True)
        assert b_user.email.encode() not in response.content, url
        assert b_user.user_id.encode() not in response.content, url
    a_admin.post(
        f"{LIST}{b_user.pk}/change/",
        {
            "connection": b_user.connection_id,
            "email": "stolen@tenant-a.example",
            "name": "Changed",
            "user_metadata": "{}",
            "app_metadata": "{}",
            "blocked": "on",
        },
    )
    reset = a_admin.post(
        f"{LIST}{b_user.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert reset.status_code in (302, 403, 404)
    _block(a_admin, "block_users", b_user.pk, tenant_a["user"].pk)
    assert TenantUser.objects.get(pk=tenant_a["user"].pk).blocked is True  # own row: yes
    a_admin.post(f"{LIST}{b_user.pk}/delete/", {"post": "yes"})
    after = _row(b_user)
    assert after == before
    assert check_password(USER_PASSWORD, after["password"])


def test_cross_tenant_unblock_refused(a_admin, tenant_b):
    """Unblocking with tenant B's ids leaves B's blocked user blocked."""
    b_user = tenant_b["user"]
    TenantUser.objects.filter(pk=b_user.pk).update(blocked=True)
    _block(a_admin, "unblock_users", b_user.pk)
    assert TenantUser.objects.get(pk=b_user.pk).blocked is True


@pytest.mark.parametrize("is_staff", [True, False])
def test_non_member_gets_nothing(client, tenant_a, tenant_b, is_staff):
    """A platform account that is a member of no tenant (staff or not) is sent to the login
    page by every tenant-user page and changes nothing."""
    outsider = get_user_model().objects.create_user(
        "outsider", password=ADMIN_PASSWORD, is_staff=is_staff
    )
    client.force_login(outsider)
    users = [tenant_a["user"], tenant_b["user"]]
    before = [_row(u) for u in users]
    for user in users:
        for url in (LIST, f"{LIST}{user.pk}/change/", f"{LIST}{user.pk}/password/"):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url
        client.post(
            f"{LIST}{user.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )
        _block(client, "block_users", user.pk)
    assert [_row(u) for u in users] == before


def test_auditor_neither_reads_nor_blocks_or_resets(client, tenant_a):
    """A's auditor may not open A's user (personal data: tenantauth.roles), block it or reset
    its password."""
    client.force_login(tenant_a["auditor"])
    user = tenant_a["user"]
    before = _row(user)
    page = client.get(f"{LIST}{user.pk}/change/")
    assert page.status_code == 403 and user.email.encode() not in page.content
    _block(client, "block_users", user.pk)
    response = client.post(
        f"{LIST}{user.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 403
    assert _row(user) == before


def test_add_tenant_user_page_opens_and_creates_the_user(a_admin, tenant_a):
    """ "Add tenant user" opens (it was a 500: the password is the form's field, not the
    model's) and creates a user of A's default connection with a hashed password."""
    page = a_admin.get(f"{LIST}add/")
    assert page.status_code == 200
    assert 'type="password"' in page.content.decode()
    response = a_admin.post(
        f"{LIST}add/",
        {"email": "New.User@Tenant-A.example", "password": NEW_PASSWORD, "_save": "Save"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = TenantUser.objects.get(tenant=tenant_a["tenant"], email="new.user@tenant-a.example")
    assert user.user_id.startswith("auth0|")
    assert check_password(NEW_PASSWORD, user.password) and NEW_PASSWORD not in user.password

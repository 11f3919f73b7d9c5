"""``manage.py demo``: the reference scenario as demo data, idempotent, scriptable."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management import call_command

from tenantauth.models import (
    GRANT_DELEGATION_ID_TOKEN,
    Application,
    Membership,
    Tenant,
    TenantUser,
)

ADMIN_PW = "demo-admin-pw-4711!"
AUDITOR_PW = "demo-auditor-pw-2342!"
USER_PW = "demo-user-pw-0815!"


@pytest.fixture
def demo_env(monkeypatch):
    """Fixed passwords, so the command never writes generated ones to .dev-secrets.json."""
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("DEMO_AUDITOR_PASSWORD", AUDITOR_PW)
    monkeypatch.setenv("DEMO_USER_PASSWORD", USER_PW)


def run_demo(*args) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_json_describes_the_reference_scenario(demo_env, settings):
    """``--json`` prints one JSON object with the tenant, issuer, three applications with their
    credentials, the user, the admin and the auditor; apiC allows appA and appB."""
    output = run_demo("--json")
    data = json.loads(output)  # one object, nothing else on stdout
    assert set(data) == {"tenant", "issuer", "applications", "addons", "user", "admin", "auditor"}
    tenant = Tenant.objects.get(slug=data["tenant"])
    assert data["issuer"] == tenant.issuer == f"{settings.PUBLIC_BASE_URL}/t/{tenant.slug}/"
    assert set(data["applications"]) == {"appA", "appB", "apiC", "addonsDemo"}
    apps = {}
    for name, creds in data["applications"].items():
        app = Application.objects.get(tenant=tenant, name=name)
        assert creds == {"client_id": app.client_id, "client_secret": app.client_secret()}
        assert len(creds["client_secret"].encode()) >= 32
        apps[name] = app
    assert apps["apiC"].allowed_clients == [apps["appA"].client_id, apps["appB"].client_id]
    assert apps["apiC"].app_type == Application.AppType.API
    assert apps["appA"].has_grant(GRANT_DELEGATION_ID_TOKEN)
    assert data["user"] == {"email": "demo.user@acme.example", "password": USER_PW}
    user = TenantUser.objects.get(tenant=tenant, email=data["user"]["email"])
    assert check_password(USER_PW, user.password)
    assert data["admin"]["password"] == ADMIN_PW
    admin = get_user_model().objects.get(username=data["admin"]["username"])
    assert Membership.objects.get(tenant=tenant, user=admin).role == Membership.Role.ADMIN
    assert data["auditor"] == {"username": "acme-auditor", "password": AUDITOR_PW}
    auditor = get_user_model().objects.get(username="acme-auditor")
    assert auditor.check_password(AUDITOR_PW) and not auditor.is_superuser
    assert Membership.objects.get(tenant=tenant, user=auditor).role == Membership.Role.AUDITOR


@pytest.mark.django_db
def test_demo_is_idempotent(demo_env):
    """Running twice keeps one tenant, the same client ids and secrets, no duplicates."""
    first = json.loads(run_demo("--json"))
    second = json.loads(run_demo("--json"))
    assert first == second
    assert Tenant.objects.filter(slug=first["tenant"]).count() == 1
    assert Application.objects.count() == 4  # appA, appB, apiC, addonsDemo
    assert TenantUser.objects.count() == 1
    assert get_user_model().objects.filter(username=first["admin"]["username"]).count() == 1
    assert Membership.objects.count() == 2


@pytest.mark.django_db
def test_demo_honours_password_variables_on_rerun(demo_env, monkeypatch):
    """Changed DEMO_*_PASSWORD values take effect on the next run."""
    run_demo("--json")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "another-admin-pw-1234")
    monkeypatch.setenv("DEMO_USER_PASSWORD", "another-user-pw-5678")
    data = json.loads(run_demo("--json"))
    assert data["admin"]["password"] == "another-admin-pw-1234"
    admin = get_user_model().objects.get(username=data["admin"]["username"])
    assert admin.check_password("another-admin-pw-1234")
    user = TenantUser.objects.get(email=data["user"]["email"])
    assert check_password("another-user-pw-5678", user.password)


@pytest.mark.django_db
def test_demo_admin_can_log_in(demo_env, client):
    """The printed admin credentials log in to /admin/ and show the demo applications."""
    data = json.loads(run_demo("--json"))
    response = client.post(
        "/admin/login/",
        {"username": data["admin"]["username"], "password": ADMIN_PW, "next": "/admin/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    listing = client.get("/admin/tenantauth/application/").content.decode()
    for creds in data["applications"].values():
        assert creds["client_id"] in listing
        assert creds["client_secret"] not in listing


@pytest.mark.django_db
def test_demo_human_output_hides_client_secrets(demo_env):
    """The default output gives logins and client ids but no client secret."""
    run_demo("--json")
    output = run_demo()
    for app in Application.objects.all():
        assert app.client_id in output
        assert app.client_secret() not in output


@pytest.mark.django_db
def test_rerun_keeps_the_admin_signed_in(demo_env, client):
    """Running the demo again (``make run`` does each time) leaves unchanged passwords alone:
    an open admin session stays signed in and the stored hashes do not change."""
    data = json.loads(run_demo("--json"))
    login = client.post(
        "/admin/login/",
        {"username": data["admin"]["username"], "password": ADMIN_PW, "next": "/admin/"},
    )
    assert login.status_code == 302
    hashes = {u.username: u.password for u in get_user_model().objects.all()} | {
        "user": TenantUser.objects.get().password
    }
    run_demo()
    assert client.get("/admin/").status_code == 200  # not sent to the login page
    assert hashes == {u.username: u.password for u in get_user_model().objects.all()} | {
        "user": TenantUser.objects.get().password
    }


@pytest.mark.django_db
def test_human_output_names_admin_and_auditor_logins(demo_env, settings):
    """The printed logins: the admin and, next to it, the auditor, both at PUBLIC_BASE_URL;
    the auditor signs in and reads, but cannot change an application."""
    output = run_demo()
    assert f"Admin login:   {settings.PUBLIC_BASE_URL}/admin/  acme-admin / {ADMIN_PW}" in output
    assert (
        f"Auditor login: {settings.PUBLIC_BASE_URL}/admin/  acme-auditor / {AUDITOR_PW}" in output
    )
    assert "manage.py demo --json" in output
    from django.test import Client

    auditor = Client()
    assert auditor.login(username="acme-auditor", password=AUDITOR_PW)
    api_c = Application.objects.get(name="apiC")
    page = auditor.get(f"/admin/tenantauth/application/{api_c.pk}/change/")
    assert page.status_code in (200, 403)
    assert 'name="_save"' not in page.content.decode()
    assert (
        auditor.post(f"/admin/tenantauth/application/{api_c.pk}/change/", {"name": "x"}).status_code
        == 403
    )

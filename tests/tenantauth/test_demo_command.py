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
USER_PW = "demo-user-pw-0815!"


@pytest.fixture
def demo_env(monkeypatch):
    """Fixed passwords, so the command never writes generated ones to .dev-secrets.json."""
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("DEMO_USER_PASSWORD", USER_PW)


def run_demo(*args) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_json_describes_the_reference_scenario(demo_env, settings):
    """``--json`` prints one JSON object with the tenant, issuer, three applications with their
    credentials, the user and the admin; apiC allows appA and appB."""
    output = run_demo("--json")
    data = json.loads(output)  # one object, nothing else on stdout
    assert set(data) == {"tenant", "issuer", "applications", "addons", "user", "admin"}
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
    assert Membership.objects.count() == 1


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

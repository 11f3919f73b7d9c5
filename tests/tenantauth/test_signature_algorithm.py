"""Issue 7 fault 6: new applications default to RS256; public clients (SPA, native) cannot
use HS256 (OIDC Core 10.1), enforced by the model for every service write and explained by the
admin form; rows that predate the rule keep their setting, but /delegation never trusts an
HS256 token of a public client."""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from tenantauth import services
from tenantauth.models import Application, Tenant
from tests.delegation.helpers import assert_error, delegate, id_token_for
from tests.tenantauth.helpers import form_data
from tests.tenantauth.oidc_support import password_grant

pytestmark = pytest.mark.django_db
PUBLIC = [Application.AppType.SPA, Application.AppType.NATIVE]


def test_new_applications_default_to_rs256(tenant_a):
    """An application created without an algorithm signs with RS256 (model default)."""
    for app_type in Application.AppType.values:
        app = services.application_create(
            tenant=tenant_a["tenant"], name=f"new-{app_type}", app_type=app_type
        )
        assert app.jwt_signature_algorithm == "RS256"


def test_admin_add_form_preselects_rs256(client, tenant_a):
    """The admin's add form offers RS256 preselected."""
    client.force_login(tenant_a["admin"])
    page = client.get("/admin/tenantauth/application/add/").content.decode()
    assert '<option value="RS256" selected>' in page


@pytest.mark.parametrize("app_type", PUBLIC)
def test_public_client_cannot_be_created_or_switched_to_hs256(tenant_a, app_type):
    """Creating a SPA/native app with HS256, switching one to HS256, or turning an HS256 app
    into a SPA/native app is refused by the model check the services run; nothing changes."""
    with pytest.raises(ValidationError) as created:
        services.application_create(
            tenant=tenant_a["tenant"],
            name="pub",
            app_type=app_type,
            jwt_signature_algorithm="HS256",
        )
    assert "OpenID Connect Core 1.0, section 10.1" in str(created.value)
    assert not Application.objects.filter(name="pub").exists()
    app = services.application_create(tenant=tenant_a["tenant"], name="pub", app_type=app_type)
    with pytest.raises(ValidationError):
        services.application_update(application=app, jwt_signature_algorithm="HS256")
    assert Application.objects.get(pk=app.pk).jwt_signature_algorithm == "RS256"
    confidential = tenant_a["apiC"]  # HS256
    with pytest.raises(ValidationError):
        services.application_update(application=confidential, app_type=app_type)
    assert Application.objects.get(pk=confidential.pk).app_type == Application.AppType.API


def test_confidential_clients_may_keep_hs256(tenant_a):
    """Regular web apps, machine-to-machine apps and APIs may choose HS256."""
    for app_type in ("regular_web", "non_interactive", "resource_server"):
        app = services.application_create(
            tenant=tenant_a["tenant"],
            name=f"hs-{app_type}",
            app_type=app_type,
            jwt_signature_algorithm="HS256",
        )
        assert app.jwt_signature_algorithm == "HS256"


def test_admin_form_explains_why(client, tenant_a):
    """Saving a SPA with HS256 in the admin shows why on the algorithm field; nothing saved."""
    client.force_login(tenant_a["admin"])
    app = tenant_a["appB"]
    url = f"/admin/tenantauth/application/{app.pk}/change/"
    data = form_data(client.get(url), "application_form")
    data.update(app_type="spa", jwt_signature_algorithm="HS256", _save="Save")
    response = client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Single Page and Native applications must use RS256" in html
    assert "section 10.1" in html
    app.refresh_from_db()
    assert (app.app_type, app.jwt_signature_algorithm) == ("regular_web", "RS256")


def test_existing_public_hs256_row_keeps_its_setting_but_delegation_refuses_it(client, tenant_a):
    """A SPA left on HS256 before the rule keeps its stored setting (no silent rewrite) and
    can still sign in, but /delegation refuses its HS256 id_token: its key is no secret."""
    app = tenant_a["appA"]
    Application.objects.filter(pk=app.pk).update(app_type="spa", jwt_signature_algorithm="HS256")
    app.refresh_from_db()
    assert password_grant(client, tenant_a, client_secret="").status_code == 200
    token = id_token_for(tenant_a["tenant"], app, tenant_a["user"])
    assert_error(delegate(client, tenant_a, token=token), 400, "invalid_grant")
    assert Application.objects.get(pk=app.pk).jwt_signature_algorithm == "HS256"


@pytest.fixture
def demo_env(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-admin-pw-4711!")
    monkeypatch.setenv("DEMO_USER_PASSWORD", "demo-user-pw-0815!")


def _demo():
    out = io.StringIO()
    call_command("demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_demo_signs_app_tokens_with_rs256_and_apic_with_hs256(demo_env):
    """The demo's appA and appB sign id_tokens with RS256; apiC keeps HS256 (SPEC 1.6)."""
    _demo()
    algs = dict(Application.objects.values_list("name", "jwt_signature_algorithm"))
    assert {name: algs[name] for name in ("appA", "appB", "apiC")} == {
        "appA": "RS256",
        "appB": "RS256",
        "apiC": "HS256",
    }


def test_demo_rerun_keeps_existing_rows_settings(demo_env):
    """Existing rows keep their setting: an appA someone set to HS256 stays HS256."""
    _demo()
    Application.objects.filter(name="appA").update(jwt_signature_algorithm="HS256")
    _demo()
    tenant = Tenant.objects.get(slug="acme")
    assert Application.objects.get(tenant=tenant, name="appA").jwt_signature_algorithm == "HS256"

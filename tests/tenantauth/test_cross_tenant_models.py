"""SECURITY-CASES A13: a row that points at another tenant's row is refused by the model
layer (``clean()``, run by every service and every admin form), not only by the choices a form
happens to offer. Platform staff in "All tenants" get a form error, not a broken user.

The walk covers every model with a tenant and a reference to another tenant-owned model, so a
model added later (an add-on configuration, say) is covered as soon as it exists.
"""

import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils import timezone

from addons.models import AddonConfiguration
from tenantauth import services
from tenantauth.models import (
    Application,
    AuthorizationCode,
    Connection,
    RefreshToken,
    SigningKey,
    TenantOwnedModel,
    TenantUser,
)
from tenantauth.oidc import services as oidc_services
from tests.tenantauth.helpers import form_data, snapshot


def _tenant_owned(model) -> bool:
    try:
        field = model._meta.get_field("tenant")
    except Exception:
        return False
    return field.many_to_one and field.related_model._meta.label_lower == "tenantauth.tenant"


def _references():
    """(model, foreign key) for every reference between two tenant-owned models."""
    found = []
    for model in apps.get_models():
        if not _tenant_owned(model):
            continue
        for field in model._meta.concrete_fields:
            if field.many_to_one and field.name != "tenant" and _tenant_owned(field.related_model):
                found.append((model, field))
    return found


REFERENCES = _references()


def test_the_walk_sees_the_references_of_the_issue():
    names = {f"{m._meta.model_name}.{f.name}" for m, f in REFERENCES}
    assert {
        "tenantuser.connection",
        "refreshtoken.application",
        "refreshtoken.user",
        "authorizationcode.application",
        "authorizationcode.user",
    } <= names


def test_every_tenant_owned_model_with_references_checks_them():
    """A model with such a reference derives from TenantOwnedModel (its clean() checks)."""
    for model, field in REFERENCES:
        assert issubclass(model, TenantOwnedModel), f"{model._meta.label}.{field.name}"


@pytest.fixture
def rows(tenant_a):
    """One row of each model of tenant A that holds references."""
    tenant, app, user = tenant_a["tenant"], tenant_a["appA"], tenant_a["user"]
    code = AuthorizationCode.objects.create(
        tenant=tenant,
        application=app,
        user=user,
        code_hash=uuid.uuid4().hex,
        redirect_uri="http://127.0.0.1:9999/callback",
        auth_time=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=1),
    )
    refresh = RefreshToken.objects.create(
        tenant=tenant,
        application=app,
        user=user,
        token_hash=uuid.uuid4().hex,
        family=uuid.uuid4(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    return {
        TenantUser: user,
        AuthorizationCode: code,
        RefreshToken: refresh,
        AddonConfiguration: AddonConfiguration.objects.create(
            tenant=tenant, application=tenant_a["apiC"], addon="wams"
        ),
    }


def _other_tenants_row(related_model, tenant_b):
    return related_model._default_manager.filter(tenant=tenant_b["tenant"]).first()


@pytest.mark.parametrize(
    ("model", "field"), REFERENCES, ids=[f"{m._meta.model_name}.{f.name}" for m, f in REFERENCES]
)
def test_a13_a_reference_into_another_tenant_is_refused_by_clean(
    tenant_a, tenant_b, rows, model, field
):
    """Pointing the reference at tenant B's row: full_clean() names the field; the same
    reference inside the tenant is accepted."""
    row = rows.get(model)
    if row is None:
        pytest.fail(f"no sample row of {model._meta.label}: add one to the fixture")
    own = getattr(row, field.name)
    setattr(row, field.name, _other_tenants_row(field.related_model, tenant_b))
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert field.name in refused.value.message_dict
    with pytest.raises(ValidationError):
        row.validate_same_tenant()
    setattr(row, field.name, own)
    row.validate_same_tenant()


def test_a13_services_refuse_cross_tenant_users_connections_and_allow_lists(tenant_a, tenant_b):
    """The services behind the admin and the API: user -> B's connection, allow-list -> B's
    client, refresh token and authorization code for B's application: refused, nothing saved."""
    user, api_c = tenant_a["user"], tenant_a["apiC"]
    before = snapshot(user), snapshot(api_c)
    b_connection = Connection.objects.get(tenant=tenant_b["tenant"])
    with pytest.raises(ValidationError):
        services.tenant_user_update(user=user, connection=b_connection)
    with pytest.raises(ValidationError):
        services.application_update(application=api_c, allowed_clients=[tenant_b["appA"].client_id])
    with pytest.raises(ValidationError):
        services.tenant_user_create(
            tenant=tenant_a["tenant"],
            email="x@tenant-a.example",
            password="violet-otter-harbour-92",
            connection=b_connection,
        )
    with pytest.raises(ValidationError):
        oidc_services.tokens_issue(
            tenant=tenant_a["tenant"],
            application=tenant_b["appA"],
            user=user,
            scopes=["openid", "offline_access"],
            auth_time=None,
        )
    with pytest.raises(ValidationError):
        oidc_services.authorization_code_create(
            tenant=tenant_a["tenant"],
            application=tenant_a["appA"],
            user=tenant_b["user"],
            redirect_uri="http://127.0.0.1:9999/callback",
            scopes=["openid"],
            nonce="",
            code_challenge="",
            auth_time=timezone.now(),
        )
    assert (snapshot(TenantUser.objects.get(pk=user.pk)), snapshot(api_c)) == before
    assert not RefreshToken.objects.exists() and not AuthorizationCode.objects.exists()
    assert not TenantUser.objects.filter(email="x@tenant-a.example").exists()


def test_a13_the_tenants_active_key_must_be_its_own(tenant_a, tenant_b):
    tenant = tenant_a["tenant"]
    tenant.active_signing_key = SigningKey.objects.get(tenant=tenant_b["tenant"], status="active")
    with pytest.raises(ValidationError) as refused:
        tenant.full_clean()
    assert "active_signing_key" in str(refused.value)


def test_a13_staff_in_all_tenants_get_a_form_error_not_a_broken_user(
    client, tenant_a, tenant_b, staff_user
):
    """Platform staff, no tenant chosen (every connection is offered): moving A's user to B's
    connection is a form error on the field; the user keeps its connection and still signs in."""
    client.force_login(staff_user)
    user = tenant_a["user"]
    url = f"/admin/tenantauth/tenantuser/{user.pk}/change/"
    data = form_data(client.get(url), "tenantuser_form")
    b_connection = Connection.objects.get(tenant=tenant_b["tenant"])
    data.update(connection=str(b_connection.pk), _save="Save")
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "connection" in errors and "another tenant" in str(errors["connection"])
    assert TenantUser.objects.get(pk=user.pk).connection.tenant_id == tenant_a["tenant"].pk


def test_a13_allow_list_in_all_tenants_mode(client, tenant_a, tenant_b, staff_user):
    """Staff editing A's apiC with no tenant chosen: B's client ID in Allowed APPs / APIs is
    refused like any unknown ID; apiC is unchanged."""
    client.force_login(staff_user)
    api_c = tenant_a["apiC"]
    url = f"/admin/tenantauth/application/{api_c.pk}/change/"
    data = form_data(client.get(url), "application_form")
    data.update(allowed_clients_text=tenant_b["appA"].client_id, _save="Save")
    response = client.post(url, data)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert Application.objects.get(pk=api_c.pk).allowed_clients == api_c.allowed_clients


@pytest.mark.parametrize("field", ["name", "nickname", "email", "user_metadata"])
def test_control_characters_in_edited_user_attributes_are_refused(tenant_a, field):
    """The model refuses what could later be copied into a token (the claims rule's source)."""
    value = {"user_metadata": {"note": "a\x1bb"}}.get(field, "Ada\r\nLovelace")
    with pytest.raises(ValidationError) as refused:
        services.tenant_user_update(user=tenant_a["user"], **{field: value})
    assert field in refused.value.message_dict

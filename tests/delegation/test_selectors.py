"""The precompiled reads of the delegation hot path load exactly what the ORM loads."""

import pytest

from delegation import selectors
from tenantauth import services
from tenantauth.models import Application, SigningKey, Tenant, TenantUser


def _fields(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.fixture
def varied(tenant_a):
    """Values of every kind: JSON lists and dicts, booleans both ways, datetimes, nulls."""
    services.application_update(
        application=tenant_a["apiC"],
        oidc_conformant=True,
        is_active=False,
        jwt_signature_algorithm="RS256",
        callback_urls=["https://a.example/cb", "https://b.example/cb"],
    )
    user = tenant_a["user"]
    TenantUser.objects.filter(pk=user.pk).update(
        blocked=True, user_metadata={"plan": "gold", "n": [1, 2]}, email_verified=False
    )
    services.signing_key_rotate(tenant=tenant_a["tenant"])
    return tenant_a


def test_parties_match_the_orm(varied):
    """Applications, tenant and active key come back field for field as the ORM loads them,
    with Python types (lists, bools, aware datetimes), not raw database values."""
    tenant = varied["tenant"]
    wanted = [varied["appA"].client_id, varied["apiC"].client_id]
    found, apps = selectors.delegation_parties_get(tenant_slug=tenant.slug, client_ids=wanted)

    orm_tenant = Tenant.objects.get(pk=tenant.pk)
    assert _fields(found) == _fields(orm_tenant)
    assert _fields(found.active_signing_key) == _fields(
        SigningKey.objects.get(pk=orm_tenant.active_signing_key_id)
    )
    assert set(apps) == set(wanted)
    for client_id, app in apps.items():
        assert _fields(app) == _fields(Application.objects.get(tenant=tenant, client_id=client_id))
        assert app.tenant is found
    api = apps[varied["apiC"].client_id]
    assert api.allowed_clients == [varied["appA"].client_id, varied["appB"].client_id]
    assert api.oidc_conformant is True and api.is_active is False
    assert found.active_signing_key.created_at.tzinfo is not None


def test_user_matches_the_orm(varied):
    user = selectors.delegation_user_get(tenant=varied["tenant"], user_id=varied["user"].user_id)
    assert _fields(user) == _fields(TenantUser.objects.get(pk=varied["user"].pk))
    assert user.blocked is True and user.user_metadata == {"plan": "gold", "n": [1, 2]}


def test_other_tenant_rows_are_not_found(tenant_a, tenant_b):
    """Tenant B's client IDs and users are absent under tenant A, exactly like unknown ones."""
    found, apps = selectors.delegation_parties_get(
        tenant_slug=tenant_a["tenant"].slug,
        client_ids=[tenant_b["appA"].client_id, tenant_b["apiC"].client_id],
    )
    assert found == tenant_a["tenant"] and apps == {}
    assert (
        selectors.delegation_user_get(tenant=tenant_a["tenant"], user_id=tenant_b["user"].user_id)
        is None
    )
    found, apps = selectors.delegation_parties_get(
        tenant_slug="no-such-tenant", client_ids=[tenant_a["appA"].client_id]
    )
    assert found is None and apps == {}


def test_tenant_without_active_key(tenant_a):
    """A tenant whose active key is unset still loads, with no key (LEFT JOIN)."""
    Tenant.objects.filter(pk=tenant_a["tenant"].pk).update(active_signing_key=None)
    found, apps = selectors.delegation_parties_get(
        tenant_slug=tenant_a["tenant"].slug, client_ids=[tenant_a["appA"].client_id]
    )
    assert found.active_signing_key is None
    assert list(apps) == [tenant_a["appA"].client_id]

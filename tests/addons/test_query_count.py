"""An add-on delegation stays within the app path's budget of 4 statements: the parties (with
the has-enabled-add-on flag), the user, the target's add-on configurations (one indexed
query), the audit insert; at any scale. The app path keeps its 3."""

import pytest

from delegation.models import AuditEvent
from tenantauth import services as tenant_services
from tests.addons.conftest import ADDONS
from tests.delegation.helpers import delegate


def _grow(setup, configure, n):
    tenant = setup["tenant"]
    apps = [tenant_services.application_create(tenant=tenant, name=f"extra-{i}") for i in range(n)]
    for app in apps[:10]:
        configure(setup, "wams", target=app)
    for i in range(n):
        tenant_services.tenant_user_create(
            tenant=tenant, email=f"u{i}@example.org", password="x" * 12
        )
    AuditEvent.objects.bulk_create(
        [AuditEvent(tenant=tenant, type="sd", jti=f"{i:032x}") for i in range(n * 5)]
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scale", [0, 30])
@pytest.mark.parametrize("addon", ADDONS)
@pytest.mark.parametrize("explicit", [True, False], ids=["api_type", "default"])
def test_addon_delegation_costs_at_most_four_queries(
    client, tenant_a, configure, django_assert_max_num_queries, scale, addon, explicit
):
    """Explicit api_type and the default rule alike: SELECT parties, SELECT user, SELECT the
    target's add-ons, INSERT the audit row."""
    _grow(tenant_a, configure, scale)
    configure(tenant_a, addon)
    params = {"nonce": "n-1"} if addon == "layer" else {}
    if explicit:
        params["api_type"] = addon
    assert delegate(client, tenant_a, **params).status_code == 200  # warm key caches
    with django_assert_max_num_queries(4) as captured:
        response = delegate(client, tenant_a, **params)
    assert response.status_code == 200, response.content
    assert set(response.json()) != {"error", "error_description"}
    statements = [q["sql"].split()[0] for q in captured.captured_queries]
    assert statements == ["SELECT", "SELECT", "SELECT", "INSERT"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("api_type", [None, "app"])
def test_app_path_keeps_three_queries_beside_addon_targets(
    client, tenant_a, configure, django_assert_max_num_queries, api_type
):
    """Add-ons on other applications cost the app path nothing: api_type omitted (the target
    has no enabled add-on) or explicit app stays at parties, user, insert."""
    configure(tenant_a, "firebase", target=tenant_a["appB"])
    configure(tenant_a, "wams", enabled=False)  # on apiC itself, but off
    params = {"api_type": api_type} if api_type else {}
    delegate(client, tenant_a, **params)
    with django_assert_max_num_queries(3) as captured:
        response = delegate(client, tenant_a, **params)
    assert "id_token" in response.json()
    assert [q["sql"].split()[0] for q in captured.captured_queries] == [
        "SELECT",
        "SELECT",
        "INSERT",
    ]

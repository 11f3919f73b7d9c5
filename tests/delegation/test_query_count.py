"""A successful delegation costs a constant number of queries (at most 4; in fact 3: source and
target applications joined with their tenant and its active key, the user, the audit insert;
1 with Redis, where the parties and the user come from the configuration cache), whatever the
number of applications, allow-list entries, users or audit rows."""

import pytest

from delegation import config_cache
from delegation.models import AuditEvent
from tenantauth import services
from tests.delegation.helpers import delegate


def _grow(setup, n):
    tenant = setup["tenant"]
    apps = [services.application_create(tenant=tenant, name=f"extra-{i}") for i in range(n)]
    services.application_update(
        application=setup["apiC"],
        allowed_clients=[a.client_id for a in apps] + [setup["appA"].client_id],
    )
    for i in range(n):
        services.tenant_user_create(tenant=tenant, email=f"u{i}@example.org", password="x" * 12)
    AuditEvent.objects.bulk_create(
        [AuditEvent(tenant=tenant, type="sd", jti=f"{i:032x}") for i in range(n * 5)]
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scale", [0, 50])
@pytest.mark.parametrize("algorithms", [("HS256", "HS256"), ("RS256", "RS256")])
def test_successful_delegation_costs_at_most_four_queries(
    client, tenant_a, django_assert_max_num_queries, scale, algorithms
):
    """At most 4 statements at any scale, for HS256 and RS256 sources and targets: two
    indexed reads and the audit insert, which commits on its own (no BEGIN/COMMIT pair)."""
    source_alg, target_alg = algorithms
    services.application_update(application=tenant_a["appA"], jwt_signature_algorithm=source_alg)
    services.application_update(application=tenant_a["apiC"], jwt_signature_algorithm=target_alg)
    _grow(tenant_a, scale)
    delegate(client, tenant_a, target=tenant_a["appA"])  # warm the per-process key caches
    delegate(client, tenant_a)  # and, with Redis, the configuration cache
    delegate(client, tenant_a)  # and the user, kept under the configuration entry
    with django_assert_max_num_queries(4) as captured:
        response = delegate(client, tenant_a)
    assert response.status_code == 200, response.content
    statements = [q["sql"].split()[0] for q in captured.captured_queries]
    if config_cache.active():
        # The parties and the user come from the configuration cache, confirmed current in
        # the rate-limit round trip: the audit insert is left.
        assert statements == ["INSERT"]
    else:
        assert statements == ["SELECT", "SELECT", "INSERT"]

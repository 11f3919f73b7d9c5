"""The target checks of ``delegation.policy``: one table of cases, each run through the policy
function and through ``POST /delegation``; both must reach the same decision, the endpoint
answers every refusal with the one identical ``invalid_target`` body, and its ``fd`` audit row
records the rule that decided."""

import pytest

from delegation import policy
from delegation.rules import Rule
from tenantauth import services
from tests.delegation.helpers import delegate

IDENTICAL_REFUSAL = {"error": "invalid_target", "error_description": "Invalid target."}


def _setup_case(setup, case):
    """Apply one case's changes to tenant A's fixtures; return (source, target or None)."""
    tenant, app_a, app_b, api_c = (setup[k] for k in ("tenant", "appA", "appB", "apiC"))
    source, target = app_a, api_c
    if case == "listed":
        pass
    elif case == "self":
        target = app_a
    elif case == "not_listed":
        services.application_update(application=api_c, allowed_clients=[app_b.client_id])
    elif case == "source_lists_target":
        # The source's own allow-list plays no part: only the target's list counts.
        services.application_update(application=api_c, allowed_clients=[app_b.client_id])
        services.application_update(application=app_a, allowed_clients=[api_c.client_id])
    elif case == "empty_none":
        services.application_update(application=api_c, allowed_clients=[])
    elif case == "empty_all":
        services.application_update(application=api_c, allowed_clients=[])
        services.tenant_update(tenant=tenant, empty_allowlist_means_all=True)
        tenant.refresh_from_db()
    elif case == "inactive":
        services.application_update(application=api_c, is_active=False)
    elif case == "target_conformant":
        services.application_update(application=api_c, oidc_conformant=True)
    elif case == "source_conformant":
        services.application_update(application=app_a, oidc_conformant=True)
    elif case == "unknown":
        target = None
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(case)
    return source, target


CASES = [
    ("listed", True, Rule.LISTED),
    ("self", True, Rule.SELF),
    ("not_listed", False, Rule.NOT_LISTED),
    ("source_lists_target", False, Rule.NOT_LISTED),
    ("empty_none", False, Rule.EMPTY_MEANS_NONE),
    ("empty_all", True, Rule.EMPTY_MEANS_ALL),
    ("inactive", False, Rule.TARGET_INACTIVE),
    ("target_conformant", False, Rule.TARGET_OIDC_CONFORMANT),
    ("source_conformant", False, Rule.SOURCE_OIDC_CONFORMANT),
    ("unknown", False, Rule.TARGET_UNKNOWN),
]


@pytest.mark.parametrize(("case", "allowed", "rule"), CASES, ids=[c[0] for c in CASES])
def test_policy_and_endpoint_agree(client, tenant_a, audit, case, allowed, rule):
    """For every case the policy gives the expected decision and rule, and the endpoint
    issues a token exactly when the policy allows, else the identical invalid_target body
    with the rule in the fd row."""
    source, target = _setup_case(tenant_a, case)
    tenant = type(tenant_a["tenant"]).objects.get(pk=tenant_a["tenant"].pk)
    source.refresh_from_db()
    if target is not None:
        target.refresh_from_db()

    decision = policy.delegation_decide(tenant=tenant, source=source, target=target)
    assert (decision.allowed, decision.rule) == (allowed, rule)
    assert decision.explanation.startswith("allowed: " if allowed else "refused: ")

    wire_target = target.client_id if target is not None else "no-such-client-id"
    response = delegate(client, tenant_a, source=source, target=wire_target)
    (row,) = audit()
    if allowed:
        assert response.status_code == 200, response.content
        assert row.type == "sd"
    else:
        assert response.status_code == 400
        assert response.json() == IDENTICAL_REFUSAL
        assert (row.type, row.error, row.reason) == ("fd", "invalid_target", rule)


def test_unregistered_api_type_is_refused_with_its_rule(tenant_a, monkeypatch):
    """A known add-on api_type without a registered minter is refused by its own rule."""
    from delegation import minters

    unregistered = "sap_api"  # every add-on has a minter today: take one away
    monkeypatch.delitem(minters.MINTERS, unregistered)
    decision = policy.delegation_decide(
        tenant=tenant_a["tenant"],
        source=tenant_a["appA"],
        target=tenant_a["apiC"],
        api_type=unregistered,
    )
    assert (decision.allowed, decision.rule) == (False, Rule.API_TYPE_UNSUPPORTED)


def test_explanations_name_applications_by_name(tenant_a):
    """People read names, not client IDs."""
    services.application_update(application=tenant_a["apiC"], allowed_clients=[])
    decision = policy.delegation_decide(
        tenant=tenant_a["tenant"], source=tenant_a["appA"], target=tenant_a["apiC"]
    )
    assert "apiC" in decision.explanation
    assert tenant_a["apiC"].client_id not in decision.explanation

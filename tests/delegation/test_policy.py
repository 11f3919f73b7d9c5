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


# --- a source with an allow-list of its own (issue 14) -----------------------------------------
@pytest.fixture
def listing_source(tenant_a):
    """appB as a *source* with a non-empty Allowed APPs / APIs of its own naming apiC and
    appA, while apiC's list names appA only: appB's own list must change nothing."""
    app_a, app_b, api_c = tenant_a["appA"], tenant_a["appB"], tenant_a["apiC"]
    services.application_update(application=api_c, allowed_clients=[app_a.client_id])
    services.application_update(
        application=app_b, allowed_clients=[api_c.client_id, app_a.client_id]
    )
    for app in (app_a, app_b, api_c):
        app.refresh_from_db()
    return tenant_a


def test_a_source_listing_the_target_does_not_bypass_the_targets_list(
    client, listing_source, audit
):
    """appB lists apiC, apiC does not list appB: refused (not_in_allowlist), by the policy
    and by the endpoint; appA, listed by apiC, is served whatever appB's list says."""
    setup = listing_source
    decision = policy.delegation_decide(
        tenant=setup["tenant"], source=setup["appB"], target=setup["apiC"]
    )
    assert (decision.allowed, decision.rule) == (False, Rule.NOT_LISTED)
    assert decision.explanation == "refused: appB is not in apiC's Allowed APPs / APIs"
    response = delegate(client, setup, source=setup["appB"], target=setup["apiC"])
    assert response.status_code == 400 and response.json() == IDENTICAL_REFUSAL
    assert delegate(client, setup, source=setup["appA"], target=setup["apiC"]).status_code == 200
    assert [(r.type, r.reason) for r in audit()] == [("fd", Rule.NOT_LISTED), ("sd", "")]


def test_a_source_listing_the_target_does_not_open_an_empty_list(listing_source):
    """Even where an empty target list could be read either way, the source's list is not
    consulted: apiC empty and read as none refuses appB, which lists apiC."""
    setup = listing_source
    services.application_update(application=setup["apiC"], allowed_clients=[])
    setup["apiC"].refresh_from_db()
    decision = policy.delegation_decide(
        tenant=setup["tenant"], source=setup["appB"], target=setup["apiC"]
    )
    assert (decision.allowed, decision.rule) == (False, Rule.EMPTY_MEANS_NONE)


def test_the_target_may_list_a_source_whose_own_list_omits_it(listing_source):
    """appA's target appB lists appA; appA's own list (set here, naming only apiC) is not
    consulted the other way round either."""
    setup = listing_source
    services.application_update(
        application=setup["appA"], allowed_clients=[setup["apiC"].client_id]
    )
    setup["appA"].refresh_from_db()
    decision = policy.delegation_decide(
        tenant=setup["tenant"], source=setup["appA"], target=setup["appB"]
    )
    assert (decision.allowed, decision.rule) == (True, Rule.LISTED)


# --- every decision, whole: what the audit row, the try-it panel and the minter read ---------
def test_every_decision_is_complete(tenant_a):
    """For each rule the whole Decision: the sentence people read (names, not client IDs),
    the canonical api_type checked and the target found."""
    tenant, app_a, app_b, api_c = (tenant_a[k] for k in ("tenant", "appA", "appB", "apiC"))

    def decide(source=app_a, target=api_c, api_type=""):
        tenant.refresh_from_db()
        for app in (app_a, app_b, api_c):
            app.refresh_from_db()
        return policy.delegation_decide(
            tenant=tenant, source=source, target=target, api_type=api_type
        )

    D = policy.Decision
    assert decide(target=None) == D(
        False, Rule.TARGET_UNKNOWN, "refused: the target is not an application of this tenant"
    )
    assert decide(api_type="auth0") == D(
        True, Rule.LISTED, "allowed: appA is in apiC's Allowed APPs / APIs", "app", api_c
    )
    assert decide(target=app_a) == D(
        True, Rule.SELF, "allowed: appA may always call itself", "app", app_a
    )
    assert decide(api_type="no-such-type") == D(
        False,
        Rule.API_TYPE_UNSUPPORTED,
        "refused: api_type no-such-type is not available",
        "no-such-type",
        api_c,
    )
    assert decide(source=app_b, target=app_a) == D(
        False,
        Rule.EMPTY_MEANS_NONE,
        "refused: appA's Allowed APPs / APIs is empty (this tenant reads an empty list as none)",
        "app",
        app_a,
    )
    services.tenant_update(tenant=tenant, empty_allowlist_means_all=True)
    assert decide(source=app_b, target=app_a) == D(
        True,
        Rule.EMPTY_MEANS_ALL,
        "allowed: appA's Allowed APPs / APIs is empty and this tenant reads an empty list as all",
        "app",
        app_a,
    )
    services.application_update(application=api_c, allowed_clients=[app_b.client_id])
    assert decide() == D(
        False, Rule.NOT_LISTED, "refused: appA is not in apiC's Allowed APPs / APIs", "app", api_c
    )
    services.application_update(application=api_c, is_active=False)
    assert decide() == D(False, Rule.TARGET_INACTIVE, "refused: apiC is disabled", "", api_c)
    services.application_update(application=api_c, is_active=True)
    services.application_update(application=app_b, oidc_conformant=True)
    refused = decide(source=app_b)
    assert (refused.allowed, refused.rule, refused.api_type, refused.target) == (
        False,
        Rule.SOURCE_OIDC_CONFORMANT,
        "app",
        api_c,
    )
    assert refused.explanation.startswith("refused: ") and "appB" in refused.explanation

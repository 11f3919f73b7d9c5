"""Who may obtain a delegation token for whom: step 5 of SPEC section 4, in one place.

``delegation_decide`` is the only implementation of the target checks. The ``/delegation``
endpoint calls it and answers every refusal with the one identical ``invalid_target`` body;
the audit row records ``Decision.rule`` (which check decided) and the admin's "try it" panel
shows ``Decision.explanation``. Because both call this function they cannot disagree.

The checks, in order (the first that fails decides):

1. the target exists in this tenant (another tenant's client ID is simply unknown here) and
   is active;
2. the requested ``api_type`` (or, when omitted, the target's default: its first enabled
   add-on, else ``app``) has a registered minter;
3. the source may call the target: itself always; otherwise the *target's* Allowed APPs /
   APIs must list the source (an empty list means "all" only when the tenant keeps Auth0's
   legacy behaviour). The source's own allow-list plays no part;
4. the minter's own readiness rule: for ``app``, neither side is OIDC conformant; for an
   add-on, it is enabled and configured on the target.
"""

from dataclasses import dataclass

from delegation import minters
from delegation.rules import Refusal, Rule  # noqa: F401 - re-exported for callers
from tenantauth.models import Application, Tenant


@dataclass(frozen=True)
class Decision:
    """The outcome of the target checks.

    ``allowed``: whether a token may be minted; ``rule``: the ``Rule`` that decided;
    ``explanation``: one sentence for people (the "try it" panel, the audit console), naming
    applications by name; ``api_type``: the canonical api_type that was checked ('' when the
    target is unknown); ``target``: the target application when it exists in this tenant.
    """

    allowed: bool
    rule: str
    explanation: str
    api_type: str = ""
    target: Application | None = None


def _name(app: Application) -> str:
    return app.name or app.client_id


def delegation_decide(
    *,
    tenant: Tenant,
    source: Application,
    target: Application | None,
    api_type: str = "",
) -> Decision:
    """Decide whether ``source`` may obtain a credential of ``api_type`` for ``target``.

    ``target`` is the tenant's application named by the request (None when the client ID is
    unknown in this tenant); ``api_type`` is the request's value ('' = the target's default;
    ``auth0`` is an alias of ``app``). Pure: reads only the objects given and, through the
    minters, the target's add-on configuration. Never raises for a refusal.
    """
    if target is None:
        return Decision(
            False, Rule.TARGET_UNKNOWN, "refused: the target is not an application of this tenant"
        )
    if not target.is_active:
        return Decision(
            False, Rule.TARGET_INACTIVE, f"refused: {_name(target)} is disabled", target=target
        )
    chosen = api_type or minters.default_api_type(tenant=tenant, target=target)
    canonical = minters.canonical_api_type(chosen)
    minter = minters.minter_for(chosen)
    if minter is None:
        return Decision(
            False,
            Rule.API_TYPE_UNSUPPORTED,
            f"refused: api_type {canonical} is not available",
            canonical,
            target,
        )

    if source.client_id == target.client_id:
        allowed = Decision(
            True, Rule.SELF, f"allowed: {_name(source)} may always call itself", canonical, target
        )
    elif not target.allowed_clients:
        if not tenant.empty_allowlist_means_all:
            return Decision(
                False,
                Rule.EMPTY_MEANS_NONE,
                f"refused: {_name(target)}'s Allowed APPs / APIs is empty (this "
                "tenant reads an empty list as none)",
                canonical,
                target,
            )
        allowed = Decision(
            True,
            Rule.EMPTY_MEANS_ALL,
            f"allowed: {_name(target)}'s Allowed APPs / APIs is empty and this "
            "tenant reads an empty list as all",
            canonical,
            target,
        )
    elif source.client_id in target.allowed_clients:
        allowed = Decision(
            True,
            Rule.LISTED,
            f"allowed: {_name(source)} is in {_name(target)}'s Allowed APPs / APIs",
            canonical,
            target,
        )
    else:
        return Decision(
            False,
            Rule.NOT_LISTED,
            f"refused: {_name(source)} is not in {_name(target)}'s Allowed APPs / APIs",
            canonical,
            target,
        )

    refusal = minter.refusal(tenant=tenant, source=source, target=target)
    if refusal is not None:
        return Decision(False, refusal.rule, refusal.explanation, canonical, target)
    return allowed

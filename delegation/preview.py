"""The admin's "try it" panel: what ``/delegation`` would decide and issue, without issuing.

``delegation_preview_run`` walks the checks of ``POST /delegation`` that do not need the
user's token, with the endpoint's own code: the source check of step 3, the user check of
step 4 (``tokens.live_user_get``), the target checks of step 5 (``policy.delegation_decide``,
the one implementation) and, when all pass, the minter's ``preview``: the decoded header and
claims the minter would sign. No key signs anything and no compact token is built, so a
preview can never be used as a token. Each run is recorded as a ``delegation_preview`` audit
event (never ``sd``), with the rule that decided.
"""

import time
from dataclasses import dataclass

from delegation import minters, policy, tokens
from delegation.errors import DelegationError
from delegation.models import AuditEvent
from tenantauth.models import GRANT_DELEGATION_ID_TOKEN, Application, Tenant, TenantUser


@dataclass(frozen=True)
class PreviewResult:
    """``allowed``: whether ``/delegation`` would issue (source, user and target checks all
    pass); ``explanation``/``rule``: the check that decided, for people and machines;
    ``endpoint_error``: the ``error`` code ``/delegation`` would answer ('' when allowed);
    ``decision``: the policy's target decision; ``preview``: header and claims when allowed
    and the minter offers a preview (else ``preview_note`` says why not); ``event``: the audit
    row recorded."""

    allowed: bool
    rule: str
    explanation: str
    endpoint_error: str  # what /delegation would answer ('' when allowed)
    decision: policy.Decision
    preview: minters.Preview | None
    preview_note: str
    event: AuditEvent


def _source_refusal(source: Application) -> tuple[str, str, str] | None:
    # Step 3 of the endpoint (``DelegationApi.post``): the source is active and holds the
    # legacy delegation grant of the token it presents (an id_token here).
    if not source.is_active:
        return "client inactive", f"refused: {source.name} is disabled", "unauthorized_client"
    if not source.has_grant(GRANT_DELEGATION_ID_TOKEN):
        return (
            "grant missing",
            f"refused: {source.name} lacks the legacy delegation grant",
            "unauthorized_client",
        )
    return None


def delegation_preview_run(
    *,
    tenant: Tenant,
    actor,
    source: Application,
    target: Application,
    user: TenantUser,
    scope: str,
    api_type: str = "",
) -> PreviewResult:
    """Decide and preview a delegation from ``source`` to ``target`` for ``user``; audited.

    ``scope`` is the space-separated request value (validated by the caller with
    ``minters.scope_values``); ``api_type`` the request's value ('' = the target's default).
    All objects must belong to ``tenant`` (the caller's scoped querysets guarantee it).
    Raises ``signing.KeyUnavailableError`` when an RS256 target's tenant has no active key.
    """
    decision = policy.delegation_decide(
        tenant=tenant, source=source, target=target, api_type=api_type
    )
    refusal = _source_refusal(source)
    if refusal is None:
        try:
            tokens.live_user_get(tenant=tenant, user_id=user.user_id)
        except DelegationError as exc:
            refusal = (
                exc.reason,
                f"refused: the user cannot be delegated for ({exc.reason})",
                exc.error,
            )
    if refusal is None:
        rule, explanation, allowed = decision.rule, decision.explanation, decision.allowed
        error = "" if allowed else "invalid_target"
    else:
        (rule, explanation, error), allowed = refusal, False

    preview, note = None, ""
    if allowed:
        minter = minters.minter_for(decision.api_type)
        make_preview = getattr(minter, "preview", None)
        if make_preview is None:
            note = f"The {decision.api_type} add-on offers no preview of its credential."
        else:
            preview = make_preview(
                request=minters.MintRequest(
                    tenant=tenant,
                    source=source,
                    target=target,
                    user=user,
                    scope=minters.scope_values(scope) or ["openid"],
                    incoming_claims={},
                    # A real request carries the caller's sign-in time; a preview has no
                    # caller, so it shows a sign-in happening now.
                    auth_time=int(time.time()),
                )
            )
            if "passthrough" in scope.split():
                note = "passthrough copies the claims of the caller's id_token; a preview has none."

    event = AuditEvent.objects.create(
        tenant=tenant,
        type=AuditEvent.Type.DELEGATION_PREVIEW,
        actor=actor if actor is not None and actor.is_authenticated else None,
        source_client_id=source.client_id,
        target_client_id=target.client_id,
        api_type=(decision.api_type or api_type)[:32],
        scope=scope[:1024],
        user_id=user.user_id,
        reason=rule[:512],
        object_repr=f"try it: {source.name} -> {target.name}"[:200],
        details={
            "allowed": allowed,
            "rule": rule,
            "explanation": explanation,
            "endpoint_error": error,
        },
    )
    return PreviewResult(
        allowed=allowed,
        rule=rule,
        explanation=explanation,
        endpoint_error=error,
        decision=decision,
        preview=preview,
        preview_note=note,
        event=event,
    )

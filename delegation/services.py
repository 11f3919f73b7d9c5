"""Writes of the delegation endpoint: issuing a token with its audit row, recording failures.

A token never leaves without its committed audit row. The minter builds the claims and a
fresh ``jti`` and signs (pure computation, no database); the ``sd`` row, which carries the
``jti`` and the SHA-256 fingerprint of that exact token, is then inserted, and the token is
returned only after that insert committed. The row is the only write, so the insert runs as
its own transaction (autocommit: one INSERT, one commit) rather than inside an explicit
BEGIN/COMMIT pair that would add two round trips to every delegation. If signing, the insert
or its commit fails (a deferred trigger included), nothing is returned and nothing is left
behind. Signing happens before the insert so the row can carry the fingerprint with a single
write and so no write lock is held during RSA signing.
"""

import unicodedata
from dataclasses import dataclass

from django.db import connection

from delegation import minters
from delegation.models import AuditEvent
from tenantauth import crypto
from tenantauth.models import Application, Tenant, TenantUser
from tenantauth.sql import ModelInsert, hot_cursor

USER_AGENT_MAX_CHARS = 256


def clean_user_agent(value: str) -> str:
    """A user agent safe to store and show: no control or format characters, truncated."""
    kept = "".join(
        ch for ch in value[: USER_AGENT_MAX_CHARS * 2] if unicodedata.category(ch)[0] != "C"
    )
    return kept[:USER_AGENT_MAX_CHARS]


@dataclass
class AttemptContext:
    """What is known about one delegation attempt so far (filled as validation advances)."""

    client_ip: str | None = None
    user_agent: str = ""
    source_client_id: str = ""
    target_client_id: str = ""
    api_type: str = ""
    scope: str = ""
    user_id: str = ""


@dataclass(frozen=True)
class Issued:
    body: dict
    jti: str  # of the audit row inserted with it


def delegation_token_issue(
    *,
    tenant: Tenant,
    source: Application,
    target: Application,
    user: TenantUser,
    api_type: str,
    scope: list[str],
    incoming_claims: dict,
    extra: dict,
    context: AttemptContext,
    auth_time: int | None = None,
) -> Issued:
    """Mint a delegation credential for ``api_type`` and record it (``sd``) atomically.

    ``auth_time`` (UNIX seconds) is the original authentication the user token descends from;
    the minted token carries it on, so the maximum age still applies after any number of hops.
    """
    minter = minters.minter_for(api_type)
    if minter is None:
        raise LookupError(f"no minter for {api_type}")
    minted = minter.mint(
        request=minters.MintRequest(
            tenant=tenant,
            source=source,
            target=target,
            user=user,
            scope=scope,
            incoming_claims=incoming_claims,
            extra=extra,
            auth_time=auth_time,
        )
    )
    audit_row_insert(
        {
            "tenant_id": tenant.pk,
            "type": AuditEvent.Type.DELEGATION_SUCCESS,
            "source_client_id": source.client_id,
            "target_client_id": target.client_id,
            "api_type": minters.canonical_api_type(api_type),
            "scope": " ".join(scope),
            "user_id": user.user_id,
            "jti": minted.jti,
            "token_fingerprint": crypto.fingerprint(minted.credential),
            "expires_at": minted.expires_at,
            "client_ip": context.client_ip,
            "user_agent": context.user_agent,
        }
    )
    return Issued(body=minted.body, jti=minted.jti)


_AUDIT_INSERT = ModelInsert(AuditEvent)


def audit_row_insert(values: dict) -> None:
    """Insert one audit row (``values``: AuditEvent attribute names to values) with the
    precompiled INSERT of ``tenantauth.sql`` on the hot cursor; in autocommit this is one
    statement that commits on its own. Raises the database's error (nothing is inserted)."""
    with hot_cursor(connection) as cursor:
        _AUDIT_INSERT.execute(cursor, connection, values)


def delegation_failure_record(
    *, tenant: Tenant, context: AttemptContext, error: str, reason: str
) -> AuditEvent:
    """Record a refused delegation attempt (``fd``) with its error code and a short reason."""
    return AuditEvent.objects.create(
        tenant=tenant,
        type=AuditEvent.Type.DELEGATION_FAILURE,
        source_client_id=context.source_client_id[:64],
        target_client_id=context.target_client_id[:64],
        api_type=context.api_type[:32],
        scope=context.scope[:1024],
        user_id=context.user_id[:128],
        error=error[:64],
        reason=reason[:512],
        client_ip=context.client_ip,
        user_agent=context.user_agent,
    )

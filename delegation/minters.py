"""Minters: what ``/delegation`` issues for each ``api_type``, and the dispatch table.

Dispatch hook (for the add-ons issue)
-------------------------------------
``MINTERS`` maps an ``api_type`` to a ``Minter``. ``app`` (and its alias ``auth0``) map to
``AppMinter``. The add-on api_types in ``ADDON_API_TYPES`` are *known* (a request naming one
is well formed) but have no minter yet, so they answer ``invalid_target``. An add-on module
registers its minter at import time (e.g. from its ``AppConfig.ready()``)::

    from delegation import minters

    class FirebaseMinter:
        api_type = "firebase"

        def target_ready(self, *, tenant, source, target) -> bool:
            # Is the add-on enabled and configured on ``target``? (False -> invalid_target)
            ...

        def mint(self, *, request: minters.MintRequest) -> minters.Minted:
            # Build the credential; no database writes here. The service records the audit
            # row (with ``jti`` and the fingerprint of ``credential``) in one transaction
            # and only then returns ``body`` to the client.
            ...

    minters.register("firebase", FirebaseMinter())

and may override which api_type an omitted ``api_type`` means for a target with
``minters.register_default_resolver(func)`` (``func(*, tenant, target) -> str | None``; the
first non-None answer wins, else ``app``).

A minter never takes reserved claims (``iss sub aud iat exp jti`` ...) from ``request.extra``
(the free-form parameters): those are the server's.
"""

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from tenantauth import signing
from tenantauth.models import Application, Tenant, TenantUser
from tenantauth.oidc import claims as claims_table

APP_API_TYPES = ("app", "auth0")
ADDON_API_TYPES = (
    "firebase",
    "azure_blob",
    "azure_sb",
    "aws",
    "salesforce_api",
    "salesforce_sandbox_api",
    "sap_api",
    "layer",
    "wams",
)
KNOWN_API_TYPES = frozenset(APP_API_TYPES + ADDON_API_TYPES)

# Claims a delegation token always takes from the server, never from scope, passthrough or
# free-form parameters (one definition, shared with the sign-in endpoints' claim table).
RESERVED_CLAIMS = claims_table.RESERVED_CLAIMS
# Protocol claims of the incoming id_token that describe *that* token, not the user.
_NOT_PASSED_THROUGH = RESERVED_CLAIMS | {
    "nonce",
    "at_hash",
    "c_hash",
    "auth_time",
    "sid",
    "cnf",
    "act",
    "may_act",
    "client_id",
    "scope",
    "amr",
    "acr",
}

# A scope value that can name a user attribute (``displayName``, ``given_name``): anything
# else (``read:all``, a URL) is an API permission, which no delegation target grants.
_ATTRIBUTE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Scope values that make a request a legacy delegation (Auth0: "openid ..." or passthrough).
_BASE_SCOPES = frozenset({"openid", "passthrough"})
# A delegation never issues a refresh token, so asking for one asks for what is not granted.
_NOT_GRANTED = frozenset({"offline_access"})


def scope_values(scope: str) -> list[str] | None:
    """The scope's values (default ``openid``), without duplicates; None (-> invalid_scope)
    when the scope asks for something no delegation target grants: no ``openid`` or
    ``passthrough``, ``offline_access``, or an API permission (a value that cannot be an
    attribute name, e.g. ``read:all``).

    ``openid <attribute> ...`` (Auth0's legacy delegation scope, e.g. ``openid name email
    displayName``) adds the attributes the user has, per ``tenantauth.oidc.claims``; a name
    the user does not have, or that is no attribute at all, is simply left out.
    """
    values = list(dict.fromkeys(scope.split())) or ["openid"]
    if not _BASE_SCOPES & set(values) or _NOT_GRANTED & set(values):
        return None
    if any(not _ATTRIBUTE_NAME_RE.match(value) for value in values):
        return None
    return values


def scope_claims(*, scope: list[str], user: TenantUser, incoming_claims: dict) -> dict:
    """The claims ``scope`` adds to a delegation token: passthrough copies the incoming
    token's own non-reserved claims; OIDC scopes and attribute names add the user's values
    present (``tenantauth.oidc.claims``). Reserved claims never come from here."""
    claims: dict = {}
    if "passthrough" in scope:
        claims.update({k: v for k, v in incoming_claims.items() if k not in _NOT_PASSED_THROUGH})
    claims.update(claims_table.user_claims(user=user, scopes=scope, attributes=True))
    return {k: v for k, v in claims.items() if k not in RESERVED_CLAIMS}


@dataclass(frozen=True)
class MintRequest:
    tenant: Tenant
    source: Application
    target: Application
    user: TenantUser
    scope: list[str]
    incoming_claims: dict
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Minted:
    body: dict  # the JSON answer
    jti: str
    credential: str  # what the audit fingerprint is computed over (never stored)
    expires_at: datetime


class Minter(Protocol):
    def target_ready(self, *, tenant: Tenant, source: Application, target: Application) -> bool: ...

    def mint(self, *, request: MintRequest) -> Minted: ...


class AppMinter:
    """A JWT for another application of the tenant, signed per the target's settings."""

    api_type = "app"

    def target_ready(self, *, tenant: Tenant, source: Application, target: Application) -> bool:
        # An OIDC-conformant app is neither source nor target of app-to-app delegation.
        return not (source.oidc_conformant or target.oidc_conformant)

    def mint(self, *, request: MintRequest) -> Minted:
        now = int(time.time())
        lifetime = request.target.jwt_lifetime_seconds
        jti = uuid.uuid4().hex
        claims = scope_claims(
            scope=request.scope, user=request.user, incoming_claims=request.incoming_claims
        )
        claims.update(
            {
                "iss": request.tenant.issuer,
                "sub": request.user.user_id,
                "aud": request.target.client_id,
                "iat": now,
                "exp": now + lifetime,
                "jti": jti,
            }
        )
        token = signing.sign_jwt(claims=claims, application=request.target, tenant=request.tenant)
        return Minted(
            body={"id_token": token, "token_type": "Bearer", "expires_in": lifetime},
            jti=jti,
            credential=token,
            expires_at=datetime.fromtimestamp(now + lifetime, tz=UTC),
        )


MINTERS: dict[str, Minter] = {"app": AppMinter(), "auth0": AppMinter()}
_default_resolvers: list[Callable[..., str | None]] = []


def register(api_type: str, minter: Minter) -> None:
    if api_type not in KNOWN_API_TYPES:
        raise ValueError(f"unknown api_type {api_type!r}")
    MINTERS[api_type] = minter


def register_default_resolver(resolver: Callable[..., str | None]) -> None:
    _default_resolvers.append(resolver)


def canonical_api_type(api_type: str) -> str:
    return "app" if api_type == "auth0" else api_type


def default_api_type(*, tenant: Tenant, target: Application) -> str:
    """The api_type an omitted parameter means: the target's first enabled add-on, else app."""
    for resolver in _default_resolvers:
        chosen = resolver(tenant=tenant, target=target)
        if chosen:
            return chosen
    return "app"


def minter_for(api_type: str) -> Minter | None:
    """The minter of a known api_type, or None when none is registered (-> invalid_target)."""
    return MINTERS.get(api_type)

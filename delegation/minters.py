"""Minters: what ``/delegation`` issues for each ``api_type``, and the dispatch table.

Dispatch hook
-------------
``MINTERS`` maps an ``api_type`` to a ``Minter``. ``app`` (and its alias ``auth0``) map to
``AppMinter``. The add-on api_types in ``ADDON_API_TYPES`` are *known* (a request naming one
is well formed); those without a registered minter answer ``invalid_target``. The ``addons``
app registers its minters (``addons.registry``: firebase, azure_blob, azure_sb, layer, wams)
and the default-``api_type`` rule from ``AddonsConfig.ready()``; an add-on module does::

    from delegation import minters

    class FirebaseMinter:
        api_type = "firebase"

        def refusal(self, *, tenant, source, target) -> rules.Refusal | None:
            # None when the add-on is enabled and configured on ``target``; otherwise why not
            # (rules.Rule.ADDON_DISABLED / ADDON_NOT_CONFIGURED -> invalid_target).
            ...

        def mint(self, *, request: minters.MintRequest) -> minters.Minted:
            # Build the credential; no database writes here. The service records the audit
            # row (with ``jti`` and the fingerprint of ``credential``) in one transaction
            # and only then returns ``body`` to the client.
            ...

        # Optional: what the admin's "try it" panel shows. The same code as ``mint`` up to,
        # not including, the signature; never a usable credential.
        def preview(self, *, request: minters.MintRequest) -> minters.Preview: ...

    minters.register("firebase", FirebaseMinter())

and may override which api_type an omitted ``api_type`` means for a target with
``minters.register_default_resolver(func)`` (``func(*, tenant, target) -> str | None``; the
first non-None answer wins, else ``app``). The add-ons' rule: the target's first enabled
add-on in the order of ``ADDON_API_TYPES`` (``addons.selectors.default_api_type``).

A minter never takes reserved claims (``iss sub aud iat exp jti auth_time`` ...) from
``request.extra`` (the free-form parameters): those are the server's. A token that names its
user's authentication time carries ``request.auth_time`` (the original sign-in, see
``delegation.tokens``), never a new one.

The claims rule: every claim a minter copies into what it issues (passthrough claims, scope
attributes, claims built from ``request.extra``) goes through
``tenantauth.text.copied_claims_check``, which refuses control characters (answered 400
``invalid_request``); ``scope_claims`` already applies it.
"""

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from delegation.rules import Refusal, Rule
from tenantauth import signing, text
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
    present (``tenantauth.oidc.claims``). Reserved claims never come from here, and every
    copied claim passes the claims rule (raises ``text.ControlCharacterError``)."""
    claims: dict = {}
    if "passthrough" in scope:
        claims.update({k: v for k, v in incoming_claims.items() if k not in _NOT_PASSED_THROUGH})
    claims.update(claims_table.user_claims(user=user, scopes=scope, attributes=True))
    return text.copied_claims_check({k: v for k, v in claims.items() if k not in RESERVED_CLAIMS})


@dataclass(frozen=True)
class MintRequest:
    tenant: Tenant
    source: Application
    target: Application
    user: TenantUser
    scope: list[str]
    incoming_claims: dict
    extra: dict = field(default_factory=dict)
    auth_time: int | None = None  # UNIX time of the original authentication


@dataclass(frozen=True)
class Minted:
    body: dict  # the JSON answer
    jti: str
    credential: str  # what the audit fingerprint is computed over (never stored)
    expires_at: datetime


@dataclass(frozen=True)
class Preview:
    """What a minter would issue, decoded, without its signature (the "try it" panel).

    ``header`` and ``claims`` are the JOSE header and the claims set exactly as ``mint`` would
    sign them (RFC 7515 section 4, RFC 7519 section 4); ``expires_in`` in seconds. There is no
    signature and no compact serialisation: a preview is never a usable token.
    """

    header: dict
    claims: dict
    expires_in: int


class Minter(Protocol):
    def refusal(
        self, *, tenant: Tenant, source: Application, target: Application
    ) -> Refusal | None: ...

    def mint(self, *, request: MintRequest) -> Minted: ...


class AppMinter:
    """A JWT for another application of the tenant, signed per the target's settings."""

    api_type = "app"

    def refusal(
        self, *, tenant: Tenant, source: Application, target: Application
    ) -> Refusal | None:
        # An OIDC-conformant app is neither source nor target of app-to-app delegation.
        if source.oidc_conformant:
            return Refusal(
                Rule.SOURCE_OIDC_CONFORMANT,
                f"refused: {source.name} is OIDC conformant (no legacy delegation)",
            )
        if target.oidc_conformant:
            return Refusal(
                Rule.TARGET_OIDC_CONFORMANT,
                f"refused: {target.name} is OIDC conformant (no legacy delegation)",
            )
        return None

    def claims(self, *, request: MintRequest, now: int, jti: str) -> dict:
        """The claims set of the token for ``request`` (SPEC section 4, "Responses")."""
        claims = scope_claims(
            scope=request.scope, user=request.user, incoming_claims=request.incoming_claims
        )
        claims.update(
            {
                "iss": request.tenant.issuer,
                "sub": request.user.user_id,
                "aud": request.target.client_id,
                "iat": now,
                "exp": now + request.target.jwt_lifetime_seconds,
                "jti": jti,
            }
        )
        if request.auth_time is not None:
            claims["auth_time"] = int(request.auth_time)
        return claims

    def header(self, *, request: MintRequest) -> dict:
        """The JOSE header ``signing.sign_jwt`` produces for the target (kid when RS256)."""
        header = {"alg": request.target.jwt_signature_algorithm, "typ": "JWT"}
        if request.target.jwt_signature_algorithm == "RS256":
            key = request.tenant.active_signing_key
            if key is None:
                raise signing.KeyUnavailableError("tenant has no active signing key")
            header["kid"] = key.kid
        return header

    def mint(self, *, request: MintRequest) -> Minted:
        now = int(time.time())
        lifetime = request.target.jwt_lifetime_seconds
        jti = uuid.uuid4().hex
        claims = self.claims(request=request, now=now, jti=jti)
        token = signing.sign_jwt(claims=claims, application=request.target, tenant=request.tenant)
        return Minted(
            body={"id_token": token, "token_type": "Bearer", "expires_in": lifetime},
            jti=jti,
            credential=token,
            expires_at=datetime.fromtimestamp(now + lifetime, tz=UTC),
        )

    def preview(self, *, request: MintRequest) -> Preview:
        """Header and claims ``mint`` would sign now; no key is touched, nothing is signed."""
        claims = self.claims(request=request, now=int(time.time()), jti=uuid.uuid4().hex)
        return Preview(
            header=self.header(request=request),
            claims=claims,
            expires_in=request.target.jwt_lifetime_seconds,
        )


MINTERS: dict[str, Minter] = {"app": AppMinter(), "auth0": AppMinter()}
_default_resolvers: list[Callable[..., str | None]] = []


def register(api_type: str, minter: Minter) -> None:
    if api_type not in KNOWN_API_TYPES:
        raise ValueError(f"unknown api_type {api_type!r}")
    MINTERS[api_type] = minter


def register_default_resolver(resolver: Callable[..., str | None]) -> None:
    """Add a rule for an omitted ``api_type`` (registering the same one twice is a no-op)."""
    if resolver not in _default_resolvers:
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

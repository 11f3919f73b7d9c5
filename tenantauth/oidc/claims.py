"""The one table of which user claims a scope grants, shared by ``oauth/token`` (id_tokens),
``userinfo`` and ``/delegation``.

* OIDC scopes (OpenID Connect Core 1.0, section 5.4): ``profile`` gives the profile claims the
  user has, ``email`` gives ``email`` and ``email_verified``. Those are the only scopes that add
  claims; ``openid`` and ``offline_access`` add none, and any other value is ignored by
  ``oauth/token`` and ``authorize`` (section 3.1.2.1), so the token response's ``scope`` says
  what was granted.
* Auth0's legacy delegation scope ``openid <attribute> ...`` (e.g. ``openid name email``) also
  names single attributes; ``ATTRIBUTES`` lists those. An attribute the user does not have, or a
  name that is no attribute at all, is left out, never an error.

A claim is "present" when the user has a value for it: empty strings are left out;
``email_verified`` goes with ``email``; ``updated_at`` is always there (seconds since the
epoch). Reserved claims (``RESERVED_CLAIMS``) are never in this table, so no scope can set them.
"""

from tenantauth.models import TenantUser

# OIDC Core 5.4, limited to what a tenant user has.
PROFILE_CLAIMS = (
    "name",
    "given_name",
    "family_name",
    "nickname",
    "preferred_username",
    "picture",
    "updated_at",
)
EMAIL_CLAIMS = ("email", "email_verified")

# scope value -> claims it grants. The only table: every endpoint reads claims through here.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": (),
    "profile": PROFILE_CLAIMS,
    "email": EMAIL_CLAIMS,
    "offline_access": (),
}
# OIDC scopes the sign-in endpoints grant; anything else requested is ignored.
OIDC_SCOPES = tuple(SCOPE_CLAIMS)

# Single attributes a legacy delegation scope may name (Auth0 profile attribute names).
ATTRIBUTES = frozenset(PROFILE_CLAIMS + EMAIL_CLAIMS + ("username",))

# Claims a token always takes from the server, never from a scope, passthrough or a parameter.
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "iat", "exp", "nbf", "jti", "azp", "typ", "auth_time"}
)

# claim name -> TenantUser attribute, where they differ.
_SOURCE = {"preferred_username": "username"}


def claim_value(user: TenantUser, claim: str):
    """The user's value for ``claim``, or None when the user has none (then it is left out)."""
    if claim == "updated_at":
        return int(user.updated_at.timestamp()) if user.updated_at else None
    if claim == "email_verified":
        return bool(user.email_verified) if user.email else None
    value = getattr(user, _SOURCE.get(claim, claim), None)
    return None if value in ("", None) else value


def claims_for_scope(scope_values, *, attributes: bool = False) -> list[str]:
    """The claim names ``scope_values`` grant, in table order, without duplicates.

    ``attributes`` (delegation only) also admits single attribute names from ``ATTRIBUTES``.
    Unknown values add nothing.
    """
    names: dict[str, None] = {}
    for value in scope_values:
        if value in SCOPE_CLAIMS:
            names.update(dict.fromkeys(SCOPE_CLAIMS[value]))
        elif attributes and value in ATTRIBUTES:
            names[value] = None
    return list(names)


def user_claims(*, user: TenantUser, scopes, attributes: bool = False) -> dict:
    """``{claim: value}`` for the claims ``scopes`` grant that ``user`` has."""
    claims = {}
    for name in claims_for_scope(scopes, attributes=attributes):
        value = claim_value(user, name)
        if value is not None:
            claims[name] = value
    return claims

"""User attributes an add-on copies into its credential, and the one rule they pass.

Every add-on names the user through an attribute the admin chooses (Firebase ``uid``, Layer
``prn``, WAMS ``uid``; default ``user_id``) and Firebase may copy more attributes into
``claims``. All of them come from here, and all pass ``copied_claims_check``.

``copied_claims_check`` refuses (never strips) any claim name or string value holding a C0/C1
control character, DEL, U+2028/U+2029 or a lone surrogate: the same definition and the same
answer (400 ``invalid_request``, "A claim cannot be issued.") as the project-wide claims rule
being written for issue 12 (``tenantauth.text.copied_claims_check``); once that is on main this
function should simply delegate to it.
"""

import re

from delegation.errors import DelegationError
from tenantauth.models import TenantUser

_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_MAX_DEPTH = 32

# Attributes an admin may copy into a credential, in the order the forms list them. The
# identifying ones are strings a user always has (or that can be refused when empty).
IDENTIFIER_ATTRIBUTES = ("user_id", "email", "name", "nickname")
CLAIM_ATTRIBUTES = (
    "user_id",
    "email",
    "email_verified",
    "name",
    "nickname",
    "picture",
    "user_metadata",
    "app_metadata",
)
IDENTIFIER_CHOICES = [(name, name) for name in IDENTIFIER_ATTRIBUTES]
CLAIM_CHOICES = [(name, name) for name in CLAIM_ATTRIBUTES]


def _has_control_characters(value, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return True
    if isinstance(value, str):
        return _CONTROL_CHARACTERS.search(value) is not None
    if isinstance(value, dict):
        return any(
            _has_control_characters(k, depth + 1) or _has_control_characters(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return any(_has_control_characters(item, depth + 1) for item in value)
    return False


def copied_claims_check(claims: dict) -> dict:
    """Return ``claims`` unchanged, or refuse them (400 ``invalid_request``) when a name or any
    string inside a value holds a control character."""
    if _has_control_characters(claims):
        raise DelegationError(
            "invalid_request",
            description="A claim cannot be issued.",
            reason="control character in a copied claim",
        )
    return claims


def user_attribute(user: TenantUser, name: str):
    """The value of one of ``CLAIM_ATTRIBUTES`` for ``user`` ('' / {} when unset)."""
    if name not in CLAIM_ATTRIBUTES:
        raise ValueError(f"not a user attribute an add-on may copy: {name!r}")
    return getattr(user, name)


def user_identifier(user: TenantUser, name: str, *, max_chars: int) -> str:
    """The identifying attribute ``name`` of ``user``, checked by the claims rule.

    Refused with 400 ``invalid_request`` when it is empty or longer than ``max_chars`` (the
    user cannot be named in this credential; nothing is issued).
    """
    value = user_attribute(user, name)
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise DelegationError(
            "invalid_request",
            description="The user cannot be named in this credential.",
            reason="user identifier unusable",
        )
    copied_claims_check({name: value})
    return value


def user_claims(user: TenantUser, names: list[str]) -> dict:
    """``{attribute: value}`` for each of ``names`` the user has (empty values left out, as
    ``scope`` does for app tokens), checked by the claims rule."""
    claims = {}
    for name in names:
        value = user_attribute(user, name)
        if value not in ("", None, {}, []):
            claims[name] = value
    return copied_claims_check(claims)

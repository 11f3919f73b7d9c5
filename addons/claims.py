"""User attributes an add-on copies into its credential, and the one rule they pass.

Every add-on names the user through an attribute the admin chooses (Firebase ``uid``, Layer
``prn``, WAMS ``uid``; default ``user_id``) and Firebase may copy more attributes into
``claims``. All of them come from here, and all pass ``copied_claims_check``.

``copied_claims_check`` is the project's one claims rule (``tenantauth.text``): a claim name
or string value holding a control character is refused (never stripped), and the endpoint
answers 400 ``invalid_request`` ("A claim cannot be issued.") with nothing issued.
"""

from delegation.errors import DelegationError
from tenantauth.models import TenantUser
from tenantauth.text import copied_claims_check

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

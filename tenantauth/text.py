"""The one rule for text that enters the service, and for claims copied into issued tokens.

Control characters have no business in an identifier, a password, a claim or a filter value:
NUL makes PostgreSQL refuse the query (a 500, or worse a false "outage"), CR/LF forge log
lines and HTTP headers, ESC rewrites a terminal, U+2028/2029 break JavaScript string literals,
and a lone surrogate cannot even be encoded as UTF-8. So one definition is used at every
boundary:

* request parameters of every endpoint (body parameters, the query of ``authorize``, the
  hosted login form, credentials carried in headers, admin query strings);
* verified token claims (``sub``, ``azp`` and every claim that may be copied);
* stored user attributes (model validation);
* every claim a minter copies into an issued token (``copied_claims_check``).

The rule refuses; it never strips. A stripped value would be a different value from the one the
client sent or the signer signed, silently; a refusal is visible and loses nothing.
"""

import re

# C0 controls (incl. TAB, CR, LF), DEL, C1 controls, LINE/PARAGRAPH SEPARATOR, and lone
# surrogates (a Python str can hold them after JSON "\ud800" escapes or surrogateescape).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

# Containers nested deeper than this are refused by the callers' own depth limits long before;
# the walk stops here so a pathological object can never exhaust the stack.
_MAX_DEPTH = 32


class ControlCharacterError(ValueError):
    """A value holds a control character (see ``CONTROL_CHARACTERS``)."""


def has_control_characters(value: str) -> bool:
    """True when ``value`` holds a C0/C1 control, DEL, U+2028/U+2029 or a lone surrogate."""
    return CONTROL_CHARACTERS.search(value) is not None


def is_clean_text(value: str) -> bool:
    """The opposite of ``has_control_characters``: text that may enter the service."""
    return CONTROL_CHARACTERS.search(value) is None


def contains_control_characters(value, *, _depth: int = 0) -> bool:
    """True when any string in ``value`` (a str, or dict keys and values / list items at any
    depth) holds a control character. Numbers, booleans and None hold none."""
    if _depth > _MAX_DEPTH:
        return True
    if isinstance(value, str):
        return has_control_characters(value)
    if isinstance(value, dict):
        return any(
            contains_control_characters(key, _depth=_depth + 1)
            or contains_control_characters(item, _depth=_depth + 1)
            for key, item in value.items()
        )
    if isinstance(value, (list, tuple)):
        return any(contains_control_characters(item, _depth=_depth + 1) for item in value)
    return False


def query_has_control_characters(query) -> bool:
    """True when a name or any value of a Django ``QueryDict`` (a query string or a form)
    holds a control character."""
    return any(
        has_control_characters(key) or any(has_control_characters(v) for v in values)
        for key, values in query.lists()
    )


def copied_claims_check(claims: dict) -> dict:
    """The claims rule: every claim a minter copies into an issued token (passthrough claims
    of the incoming token, user attributes granted by ``scope``, add-on claims built from
    request parameters) passes through here.

    Returns ``claims`` unchanged, or raises ``ControlCharacterError`` when a claim name or any
    string inside a value holds a control character. Refusing (never stripping) keeps the
    issued token byte-for-byte what its source said.
    """
    if contains_control_characters(claims):
        raise ControlCharacterError("a copied claim holds a control character")
    return claims


def validate_no_control_characters(value: str) -> None:
    """A Django validator (forms and model fields) applying this module's rule."""
    from django.core.exceptions import ValidationError

    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError(
            "Control characters (such as NUL, tab or line breaks) are not allowed here.",
            code="control_characters",
        )

"""Body parsing and request-shape validation for ``POST /delegation``.

The body hardening itself (charset, size cap, strict UTF-8, duplicate keys, JSON depth,
``NaN``) lives in ``tenantauth.bodies``, shared with the sign-in endpoints; this module fixes
the delegation endpoint's limits, turns ``BodyError`` into ``DelegationError`` and exposes the
DRF parsers.

``validate_params`` then checks types and sizes of every parameter (step 2 of SPEC section 4)
and returns a ``DelegationParams``.
"""

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from rest_framework.parsers import BaseParser

from delegation.errors import DelegationError
from tenantauth import bodies, text
from tenantauth.bodies import FORM_MEDIA_TYPE, JSON_MEDIA_TYPE

GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

# A delegation request is a flat object; a little room keeps error answers about types.
MAX_JSON_DEPTH = 4
MAX_FORM_FIELDS = 64
MAX_EXTRA_PARAMS = 20
MAX_EXTRA_KEY_CHARS = 64
MAX_EXTRA_VALUE_CHARS = 1024

# name -> maximum length (characters). Anything else is a free-form (add-on) parameter.
KNOWN_PARAMS: dict[str, int] = {
    "client_id": 64,
    "grant_type": 128,
    "id_token": 8192,
    "refresh_token": 512,
    "target": 64,
    "scope": 1024,
    "api_type": 32,
}

_EXTRA_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")

# BodyError kind -> problem in ``delegation.errors.PROBLEMS`` (415, 413, 400 invalid_request).
_PROBLEM_OF_BODY_ERROR = {
    "unsupported_media_type": "unsupported_media_type",
    "too_large": "body_too_large",
    "malformed": "invalid_request",
}


def _bad(description: str = "Malformed request.", reason: str = "malformed body"):
    return DelegationError("invalid_request", description=description, reason=reason)


@contextmanager
def _as_delegation_errors():
    try:
        yield
    except bodies.BodyError as exc:
        problem = _PROBLEM_OF_BODY_ERROR[exc.kind]
        # 415 and 413 keep the texts of the endpoint's own table; a 400 says which (fixed)
        # check failed.
        description = exc.description if problem == "invalid_request" else None
        raise DelegationError(problem, description=description, reason=exc.reason) from None


def media_type_of(request) -> str:
    """The bare media type of the request (lower case), '' when absent; a non-UTF-8 charset
    is 415."""
    with _as_delegation_errors():
        return bodies.media_type_of(request)


def check_content_length(request) -> int:
    """Refuse (before reading anything) bodies that are absent, malformed or over the cap."""
    with _as_delegation_errors():
        return bodies.check_content_length(request)


def parse_json_bytes(raw: bytes) -> dict:
    with _as_delegation_errors():
        return bodies.parse_json(raw, max_depth=MAX_JSON_DEPTH)


def parse_form_bytes(raw: bytes) -> dict:
    with _as_delegation_errors():
        return bodies.parse_form(raw, max_fields=MAX_FORM_FIELDS)


class _CappedParser(BaseParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        if request is not None:
            check_content_length(request)
        if stream is None:
            raise _bad("The request body is empty.", reason="empty body")
        with _as_delegation_errors():
            raw = bodies.read_capped(stream)
        return self.parse_bytes(raw)


class StrictJSONParser(_CappedParser):
    media_type = JSON_MEDIA_TYPE
    parse_bytes = staticmethod(parse_json_bytes)


class StrictFormParser(_CappedParser):
    media_type = FORM_MEDIA_TYPE
    parse_bytes = staticmethod(parse_form_bytes)


# --- request shape ------------------------------------------------------------------------


# No control characters, line separators or lone surrogates: the project's one text rule.
_is_clean_text = text.is_clean_text


@dataclass(frozen=True)
class DelegationParams:
    client_id: str
    grant_type: str
    id_token: str
    refresh_token: str
    target: str
    scope: str
    api_type: str
    extra: dict = field(default_factory=dict)


def _string(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        if name in data:
            raise _bad(f"Invalid parameter: {name}.", reason="wrong type")
        return ""
    if not isinstance(value, str):
        raise _bad(f"Invalid parameter: {name}.", reason="wrong type")
    if len(value) > KNOWN_PARAMS[name] or not _is_clean_text(value):
        raise _bad(f"Invalid parameter: {name}.", reason="bad value")
    return value


def validate_params(data: dict) -> DelegationParams:
    """Step 2 of SPEC section 4: types, sizes, grant_type, client_id and exactly one token."""
    values = {name: _string(data, name) for name in KNOWN_PARAMS}
    extra = {key: value for key, value in data.items() if key not in KNOWN_PARAMS}
    if len(extra) > MAX_EXTRA_PARAMS:
        raise _bad("Too many parameters.", reason="too many parameters")
    for key, value in extra.items():
        if len(key) > MAX_EXTRA_KEY_CHARS or not _EXTRA_KEY_RE.match(key):
            raise _bad("Invalid parameter name.", reason="bad parameter name")
        if isinstance(value, bool) or isinstance(value, int):
            continue
        if not isinstance(value, str):
            raise _bad("Invalid parameter type.", reason="wrong type")
        if len(value) > MAX_EXTRA_VALUE_CHARS or not _is_clean_text(value):
            raise _bad("Invalid parameter value.", reason="bad value")
    if not values["grant_type"]:
        raise _bad("Missing required parameter: grant_type.", reason="missing grant_type")
    if values["grant_type"] != GRANT_JWT_BEARER:
        raise DelegationError("unsupported_grant_type", reason="unsupported grant_type")
    if not values["client_id"]:
        raise _bad("Missing required parameter: client_id.", reason="missing client_id")
    if bool(values["id_token"]) == bool(values["refresh_token"]):
        raise _bad("Send exactly one of id_token and refresh_token.", reason="token count")
    return DelegationParams(**values, extra=extra)

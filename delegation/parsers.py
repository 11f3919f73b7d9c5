"""Hardened body parsing and request-shape validation for ``POST /delegation``.

DRF's stock parsers let Django's 2.5 MB ``RequestDataTooBig`` surface as an HTML 400, answer a
deeply nested JSON document with a 500 (``RecursionError``), accept ``NaN`` and let the last of
two duplicated keys win. These parsers:

* refuse bodies over ``settings.DELEGATION_MAX_BODY_BYTES`` (413) from ``CONTENT_LENGTH`` and
  read at most cap + 1 bytes, so Django's own limit is never reached;
* decode strict UTF-8 and refuse duplicate keys (JSON ``object_pairs_hook``; forms);
* pre-scan JSON nesting depth before ``json.loads`` and also catch ``RecursionError``;
* refuse ``NaN`` / ``Infinity`` and floats that overflow.

``validate_params`` then checks types and sizes of every parameter (step 2 of SPEC section 4)
and returns a ``DelegationParams``.
"""

import json
import math
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from django.conf import settings
from django.http.multipartparser import parse_header_parameters
from rest_framework.parsers import BaseParser

from delegation.errors import DelegationError

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
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

_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET_RE = re.compile(rb"[\[\]{}]")
_EXTRA_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


def _bad(description: str = "Malformed request.", reason: str = "malformed body"):
    return DelegationError("invalid_request", description=description, reason=reason)


def media_type_of(request) -> str:
    """The bare media type of the request (lower case), '' when absent."""
    raw = request.META.get("CONTENT_TYPE", "")
    media_type, params = parse_header_parameters(raw)
    charset = (params.get("charset") or "utf-8").lower()
    if charset not in {"utf-8", "utf8"}:
        raise DelegationError("unsupported_media_type", reason="unsupported charset")
    return media_type.lower().strip()


def check_content_length(request) -> int:
    """Refuse (before reading anything) bodies that are absent, malformed or over the cap."""
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        raise _bad(reason="bad content-length") from None
    if length < 0:
        raise _bad(reason="bad content-length")
    if length > settings.DELEGATION_MAX_BODY_BYTES:
        raise DelegationError("body_too_large", reason="body over cap")
    if length == 0:
        raise _bad("The request body is empty.", reason="empty body")
    return length


def _read_capped(stream) -> bytes:
    cap = settings.DELEGATION_MAX_BODY_BYTES
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise DelegationError("body_too_large", reason="body over cap")
    return data


def json_depth(raw: bytes) -> int:
    """Maximum nesting depth of a JSON text, ignoring brackets inside strings."""
    depth = deepest = 0
    for match in _BRACKET_RE.finditer(_STRING_RE.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _bad("Duplicate parameter.", reason="duplicate parameter")
        result[key] = value
    return result


def _refuse_constant(_name):
    raise _bad(reason="non-finite number")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _bad(reason="non-finite number")
    return value


def parse_json_bytes(raw: bytes) -> dict:
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise _bad(reason="nesting too deep")
    try:
        text = raw.decode("utf-8")
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except DelegationError:
        raise
    except (ValueError, RecursionError):
        # JSONDecodeError and UnicodeDecodeError are ValueErrors.
        raise _bad() from None
    if not isinstance(data, dict):
        raise _bad("The body must be a JSON object.", reason="not an object")
    return data


def parse_form_bytes(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError:
        raise _bad() from None
    return _no_duplicates(pairs)


class _CappedParser(BaseParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        if request is not None:
            check_content_length(request)
        if stream is None:
            raise _bad("The request body is empty.", reason="empty body")
        return self.parse_bytes(_read_capped(stream))


class StrictJSONParser(_CappedParser):
    media_type = JSON_MEDIA_TYPE
    parse_bytes = staticmethod(parse_json_bytes)


class StrictFormParser(_CappedParser):
    media_type = FORM_MEDIA_TYPE
    parse_bytes = staticmethod(parse_form_bytes)


# --- request shape ------------------------------------------------------------------------


def _is_clean_text(value: str) -> bool:
    """No control characters, no line separators, no lone surrogates."""
    for ch in value:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029):
            return False
        if 0xD800 <= code <= 0xDFFF:
            return False
    return True


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

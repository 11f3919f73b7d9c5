"""Hardened reading and parsing of JSON and form request bodies, shared by every endpoint
that takes one (``POST /delegation``, ``oauth/token``, ``dbconnections/signup``).

Django and the stock parsers let a body over Django's 2.5 MB limit surface as an HTML 400
(``RequestDataTooBig``), answer deeply nested JSON with a 500 (``RecursionError``), accept
``NaN`` and let the last of two duplicated keys win. The functions here:

* accept only a UTF-8 charset (``media_type_of``);
* refuse bodies over a cap (``settings.DELEGATION_MAX_BODY_BYTES`` unless told otherwise) from
  ``CONTENT_LENGTH`` and read at most cap + 1 bytes, so Django's own limit is never reached;
* decode strict UTF-8 and refuse duplicate keys (JSON objects at any level; form fields);
* pre-scan JSON nesting depth before ``json.loads`` and also catch ``RecursionError``;
* refuse ``NaN`` / ``Infinity`` and floats that overflow, and a top level that is no object;
* read a top-level JSON ``null`` as "parameter absent" (SPEC section 4: the official SDKs send
  ``null`` for every optional argument), once, here, for every endpoint; nested values and
  other non-string types are left for the endpoint's own type checks;
* parse forms with ``strict_parsing`` and a maximum number of fields.

Every refusal is a ``BodyError``; each endpoint maps it onto its own error type and statuses.
"""

import json
import math
import re
from urllib.parse import parse_qsl

from django.conf import settings
from django.http.multipartparser import parse_header_parameters

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
DEFAULT_MAX_FORM_FIELDS = 64

_UTF8_CHARSETS = frozenset({"utf-8", "utf8"})
_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET_RE = re.compile(rb"[\[\]{}]")

NOT_JSON = "The body is not valid JSON."


class BodyError(Exception):
    """A request body refused before any endpoint logic sees it.

    ``kind`` is one of ``KINDS`` (the caller picks the status: 415, 413 or 400);
    ``description`` is a fixed text of this module, safe to answer (it never echoes the body);
    ``reason`` is a short fixed label for the log and the audit row.
    """

    KINDS = frozenset({"unsupported_media_type", "too_large", "malformed"})

    def __init__(self, kind: str, description: str, *, reason: str):
        if kind not in self.KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        super().__init__(kind)
        self.kind = kind
        self.description = description
        self.reason = reason


def _malformed(description: str, reason: str) -> BodyError:
    return BodyError("malformed", description, reason=reason)


def _too_large() -> BodyError:
    return BodyError("too_large", "The request body is too large.", reason="body over cap")


def media_type_of(request) -> str:
    """The bare media type of the request (lower case), '' when absent.

    A charset other than UTF-8 is refused: the body is always decoded as UTF-8, so a client
    announcing another charset would be read differently from what it meant.
    """
    media_type, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    charset = (params.get("charset") or "utf-8").lower()
    if charset not in _UTF8_CHARSETS:
        raise BodyError(
            "unsupported_media_type",
            "The request body must be encoded as UTF-8.",
            reason="unsupported charset",
        )
    return media_type.lower().strip()


def _cap(cap: int | None) -> int:
    # Read at call time so a per-test or per-deployment override is honoured.
    return settings.DELEGATION_MAX_BODY_BYTES if cap is None else cap


def check_content_length(request, *, cap: int | None = None, allow_empty: bool = False) -> int:
    """The declared body length, refusing (before reading anything) one that is malformed,
    negative or over ``cap``, and an empty one unless ``allow_empty``."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "0")
    except ValueError:
        raise _malformed("Invalid Content-Length.", "bad content-length") from None
    if length < 0:
        raise _malformed("Invalid Content-Length.", "bad content-length")
    if length > _cap(cap):
        raise _too_large()
    if length == 0 and not allow_empty:
        raise _malformed("The request body is empty.", "empty body")
    return length


def read_capped(stream, *, cap: int | None = None) -> bytes:
    """At most ``cap`` bytes of ``stream``; more is refused.

    One byte over the cap is read to tell "exactly the cap" from "more", and never more than
    that, so a lying or absent Content-Length cannot make us buffer a large body.
    """
    limit = _cap(cap)
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large()
    return data


def read_body(request, *, cap: int | None = None, allow_empty: bool = False) -> bytes:
    """The raw body of a Django request: Content-Length checked first, then read capped.

    Reading the request as a stream (not ``request.body``) keeps Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check, and its HTML 400, out of the way.
    """
    check_content_length(request, cap=cap, allow_empty=allow_empty)
    return read_capped(request, cap=cap)


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


def _no_duplicates(pairs) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            # Fixed text: the key is client input and is not echoed.
            raise _malformed("Duplicate parameter.", "duplicate parameter")
        result[key] = value
    return result


def _refuse_constant(_name):
    raise _malformed(NOT_JSON, "non-finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _malformed(NOT_JSON, "non-finite number")
    return value


def parse_json(raw: bytes, *, max_depth: int, null_is_absent: bool = True) -> dict:
    """A JSON object from strict UTF-8 ``raw``: no duplicate keys at any level, no ``NaN`` /
    ``Infinity`` or overflowing float, nesting at most ``max_depth`` (the top object is 1).

    With ``null_is_absent`` (request bodies) a top-level member whose value is ``null`` is
    left out of the result, so ``{"scope": null}`` reads exactly like ``{}``: the official
    Auth0 SDKs send ``null`` for every optional argument (SPEC section 4, SECURITY-CASES
    D34). Only the top level: a ``null`` inside an object parameter (e.g. ``user_metadata``)
    stays, for that parameter's own checks. A JSON object embedded in a form field is parsed
    with ``null_is_absent=False``.
    """
    # The scan runs first because json.loads recurses once per level: a deep enough document
    # exhausts the stack before any hook of ours is called.
    if json_depth(raw) > max_depth:
        raise _malformed("The body is nested too deeply.", "nesting too deep")
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except BodyError:
        raise
    except (ValueError, RecursionError):
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; RecursionError is the
        # safety net should the pre-scan ever disagree with the decoder.
        raise _malformed(NOT_JSON, "malformed body") from None
    if not isinstance(data, dict):
        raise _malformed("The body must be a JSON object.", "not an object")
    if null_is_absent:
        return {key: value for key, value in data.items() if value is not None}
    return data


def parse_form(raw: bytes, *, max_fields: int = DEFAULT_MAX_FORM_FIELDS) -> dict:
    """``{name: value}`` from an ``application/x-www-form-urlencoded`` body in strict UTF-8
    (raw and percent-encoded), refusing a field without ``=`` (or empty), duplicates and more
    than ``max_fields`` fields. An empty body is an empty dict."""
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except ValueError:
        # Also UnicodeDecodeError, from the raw bytes or from a percent-escape.
        raise _malformed("The body is not a valid form.", "malformed body") from None
    return _no_duplicates(pairs)

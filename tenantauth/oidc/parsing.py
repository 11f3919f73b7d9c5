"""Reading the parameters of a token or sign-up request, strictly.

JSON objects and ``application/x-www-form-urlencoded`` bodies are accepted, read and parsed by
the shared ``tenantauth.bodies`` hardening (UTF-8 only, capped at
``settings.DELEGATION_MAX_BODY_BYTES``, duplicate keys, ``NaN`` and over-deep JSON refused);
``BodyError`` becomes ``OAuthError`` with the statuses the delegation endpoint answers (415,
413, 400 ``invalid_request``). A parameter given twice (in the body, or in the body and the
Basic header) is refused rather than guessed at.
"""

import base64
import binascii
from contextlib import contextmanager
from urllib.parse import unquote

from tenantauth import bodies, text
from tenantauth.oidc.errors import OAuthError

FORM = bodies.FORM_MEDIA_TYPE
JSON = bodies.JSON_MEDIA_TYPE
MAX_PARAM_CHARS = 8192
# Token requests are flat; sign-up's user_metadata is one object more. The room above that
# admits a reasonably nested metadata object while bounding what the decoder recurses into.
MAX_JSON_DEPTH = 8
MAX_FORM_FIELDS = 64

# BodyError kind -> HTTP status of the ``invalid_request`` answer.
_STATUS_OF_BODY_ERROR = {"unsupported_media_type": 415, "too_large": 413, "malformed": 400}


@contextmanager
def _as_oauth_errors(description: str | None = None):
    """Answer a ``BodyError`` as ``invalid_request`` with its status and (fixed) description,
    or with ``description`` when the caller has a more precise one."""
    try:
        yield
    except bodies.BodyError as exc:
        raise OAuthError(
            "invalid_request",
            description or exc.description,
            status=_STATUS_OF_BODY_ERROR[exc.kind],
        ) from None


def read_body(request) -> bytes:
    """The raw body, at most ``settings.DELEGATION_MAX_BODY_BYTES`` (413 above); may be empty,
    so a body-less request is answered with the missing parameter."""
    with _as_oauth_errors():
        return bodies.read_body(request, allow_empty=True)


def _json_object_param(name: str, value: str) -> dict:
    # A form can carry an object only as JSON text; it gets the same strict parsing as a body.
    with _as_oauth_errors(f"Parameter '{name}' must be a JSON object."):
        return bodies.parse_json(
            value.encode("utf-8"), max_depth=MAX_JSON_DEPTH, null_is_absent=False
        )


def parse_body(request, *, allow_objects: tuple[str, ...] = ()) -> dict:
    """The body parameters as ``{name: str}`` (or a dict for names in ``allow_objects``)."""
    with _as_oauth_errors():
        content_type = bodies.media_type_of(request)
    if content_type not in (FORM, JSON):
        raise OAuthError(
            "invalid_request",
            "Content-Type must be application/json or application/x-www-form-urlencoded.",
            status=415,
        )
    body = read_body(request)
    if content_type == JSON:
        with _as_oauth_errors():
            data = bodies.parse_json(body, max_depth=MAX_JSON_DEPTH)
    else:
        with _as_oauth_errors():
            data = bodies.parse_form(body, max_fields=MAX_FORM_FIELDS)
        for name in allow_objects:
            if name in data:
                data[name] = _json_object_param(name, data[name])
    # First: the type and size errors below name the parameter.
    refuse_control_characters(data)
    for key, value in data.items():
        if key in allow_objects:
            if not isinstance(value, dict):
                raise OAuthError("invalid_request", f"Parameter '{key}' must be an object.")
            continue
        if not isinstance(value, str):
            raise OAuthError("invalid_request", f"Parameter '{key[:64]}' must be a string.")
        if len(value) > MAX_PARAM_CHARS:
            raise OAuthError("invalid_request", f"Parameter '{key[:64]}' is too long.")
    return data


def refuse_control_characters(data: dict) -> None:
    """No parameter name or value (nested objects included) may hold a control character
    (``tenantauth.text``): 400 ``invalid_request``, the name not echoed."""
    if text.contains_control_characters(data):
        raise OAuthError(
            "invalid_request", "A parameter contains control characters, which are not allowed."
        )


def basic_credentials(request) -> tuple[str, str] | None:
    """client_secret_basic: ``Authorization: Basic base64(urlenc(id):urlenc(secret))``."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_request", "Only Basic client authentication is supported.")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "Client authentication failed.") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Client authentication failed.")
    client_id, secret = unquote(client_id), unquote(secret)
    refuse_control_characters({"client_id": client_id, "client_secret": secret})
    return client_id, secret


def require(params: dict, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"Missing required parameter: {name}")
    return value

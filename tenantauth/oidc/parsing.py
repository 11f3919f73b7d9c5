"""Reading the parameters of a token or sign-up request, strictly.

JSON objects and ``application/x-www-form-urlencoded`` bodies are accepted; a parameter given
twice (in the body, or in the body and the Basic header) is refused rather than guessed at, and
the body is capped at ``settings.DELEGATION_MAX_BODY_BYTES``.
"""

import base64
import binascii
import json
from urllib.parse import parse_qsl, unquote

from django.conf import settings

from tenantauth.oidc.errors import OAuthError

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_PARAM_CHARS = 8192


def _duplicate_checking_object(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise OAuthError("invalid_request", f"Parameter '{key[:64]}' is duplicated.")
        result[key] = value
    return result


def read_body(request) -> bytes:
    limit = settings.DELEGATION_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise OAuthError("invalid_request", "Invalid Content-Length.") from exc
    too_large = OAuthError("invalid_request", "The request body is too large.", status=413)
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def parse_body(request, *, allow_objects: tuple[str, ...] = ()) -> dict:
    """The body parameters as ``{name: str}`` (or a dict for names in ``allow_objects``)."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type not in (FORM, JSON):
        raise OAuthError(
            "invalid_request",
            "Content-Type must be application/json or application/x-www-form-urlencoded.",
            status=415,
        )
    body = read_body(request)
    if content_type == JSON:
        try:
            data = json.loads(body.decode("utf-8"), object_pairs_hook=_duplicate_checking_object)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise OAuthError("invalid_request", "The body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "The body must be a JSON object.")
    else:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise OAuthError("invalid_request", "The body is not a valid form.") from exc
        data = _duplicate_checking_object(pairs)
        if allow_objects:
            for name in allow_objects:
                if name in data:
                    try:
                        data[name] = json.loads(data[name])
                    except ValueError as exc:
                        raise OAuthError(
                            "invalid_request", f"Parameter '{name}' must be a JSON object."
                        ) from exc
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
    return unquote(client_id), unquote(secret)


def require(params: dict, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"Missing required parameter: {name}")
    return value

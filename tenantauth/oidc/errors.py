"""The one error type of the sign-in endpoints and the table of its HTTP statuses.

Views raise ``OAuthError``; ``oauth_endpoint`` turns it (and infrastructure failures) into an
OAuth-shaped JSON answer. Descriptions are fixed texts written here or in the services: never a
token, password or secret, never an exception message from a library.
"""

import functools
import logging

from django.http import JsonResponse

from tenantauth import text
from tenantauth.oidc import throttling
from tenantauth.outages import is_outage, retry_after_of

logger = logging.getLogger(__name__)

# The one table of statuses (STYLE rule 10).
STATUS = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "invalid_token": 401,
    "unauthorized_client": 403,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "access_denied": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_many_requests": 429,
    "server_error": 500,
    "temporarily_unavailable": 503,
    # dbconnections/signup (Auth0 answers these as {code, description}).
    "invalid_signup": 400,
    "invalid_password": 400,
    "invalid_connection": 400,
}

RETRY_AFTER_UNAVAILABLE = 5


class OAuthError(Exception):
    """An error answered to the client as ``{"error": ..., "error_description": ...}``.

    ``status`` overrides the table when one code maps to several statuses (413 and 415 are
    ``invalid_request`` on the wire, as the delegation endpoint answers them).
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int | None = None,
        headers: dict | None = None,
    ):
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status or STATUS[error]
        self.headers = headers or {}


def no_store(response):
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def error_response(exc: OAuthError, *, signup: bool = False) -> JsonResponse:
    if signup:
        body = {"code": exc.error, "description": exc.description, "statusCode": exc.status}
        if exc.error == "invalid_password":
            body["name"] = "PasswordStrengthError"
    else:
        body = {"error": exc.error, "error_description": exc.description}
    response = JsonResponse(body, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return no_store(response)


def oauth_endpoint(view=None, *, signup: bool = False):
    """Answer ``OAuthError`` as JSON, throttling as 429, unavailable stores as 503 and
    anything else as 500."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(request, *args, **kwargs):
            try:
                return func(request, *args, **kwargs)
            except OAuthError as exc:
                return error_response(exc, signup=signup)
            except text.ControlCharacterError:
                # The claims rule refused a stored attribute as a token claim.
                return error_response(
                    OAuthError("invalid_request", "A claim cannot be issued."), signup=signup
                )
            except throttling.Throttled as exc:
                return error_response(
                    OAuthError(
                        "too_many_requests",
                        "Too many attempts; try again later.",
                        headers={"Retry-After": str(exc.retry_after)},
                    ),
                    signup=signup,
                )
            except Exception as exc:
                if is_outage(exc):
                    logger.warning("sign-in endpoint unavailable: %s", type(exc).__name__)
                    return _unavailable(signup, retry_after_of(exc))
                logger.exception("sign-in endpoint failed: %s", type(exc).__name__)
                return error_response(
                    OAuthError("server_error", "The server could not handle the request."),
                    signup=signup,
                )

        return wrapper

    return decorate(view) if view is not None else decorate


def _unavailable(signup: bool, retry_after: int = RETRY_AFTER_UNAVAILABLE) -> JsonResponse:
    return error_response(
        OAuthError(
            "temporarily_unavailable",
            "The service is temporarily unavailable; try again shortly.",
            headers={"Retry-After": str(retry_after)},
        ),
        signup=signup,
    )

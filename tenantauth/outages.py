"""What a browser (or a client) sees when a store we depend on is unreachable.

``is_outage`` is the one definition of an outage: the database cannot be reached or lost its
connection (``OperationalError``, ``InterfaceError``), the rate-limit store cannot be reached
(``LimiterUnavailable``, or a redis-py connection error or timeout that escaped it), or no
signing key is usable. Those answer 503 with ``Retry-After``. Anything else, including a value
a store refuses (``DataError``, a NUL byte's ``ValueError``), is a bug: a 500, never a false
outage that tells clients to retry.

``server_error`` is the project's ``handler500``: an outage that escapes a view, or happens in
a middleware (the admin's session and user lookups run there), becomes the 503 page (JSON for
the tenant API paths) instead of Django's 500 page.
"""

import sys

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from tenantauth import limiter, signing

DEFAULT_RETRY_AFTER = 5
# Tenant paths that answer JSON (everything under /t/<slug>/ but the hosted login page).
_HTML_TENANT_PATHS = ("/authorize",)


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` means a store we depend on cannot be reached (see the module doc)."""
    from django.db import InterfaceError, OperationalError

    if exc is None:
        return False
    if isinstance(
        exc,
        (OperationalError, InterfaceError, limiter.LimiterUnavailable, signing.KeyUnavailableError),
    ):
        return True
    import redis

    return isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError))


def retry_after_of(exc: BaseException | None) -> int:
    """Seconds a client should wait: the limiter's breaker cool-off, else a few seconds."""
    return max(1, int(getattr(exc, "retry_after", None) or DEFAULT_RETRY_AFTER))


def unavailable_page(request, retry_after: int = DEFAULT_RETRY_AFTER) -> HttpResponse:
    """The 503 HTML page: rendered without a request context, so it needs no database."""
    html = render_to_string("unavailable.html", {"retry_after": retry_after})
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def _wants_json(request) -> bool:
    path = request.path
    return path.startswith("/t/") and not path.endswith(_HTML_TENANT_PATHS)


def server_error(request, *args, **kwargs):
    """``handler500``: an outage is a 503 with ``Retry-After``; anything else Django's 500."""
    exc = sys.exc_info()[1]
    if not is_outage(exc):
        return defaults.server_error(request, *args, **kwargs)
    retry_after = retry_after_of(exc)
    if _wants_json(request):
        response = JsonResponse(
            {
                "error": "temporarily_unavailable",
                "error_description": "The service is temporarily unavailable; try again shortly.",
            },
            status=503,
        )
        response["Retry-After"] = str(retry_after)
        response["Cache-Control"] = "no-store"
        return response
    return unavailable_page(request, retry_after)

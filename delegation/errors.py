"""The one error type of the delegation endpoint and the one table of its answers.

Every refusal is raised as ``DelegationError(<problem>)``; ``PROBLEMS`` gives its HTTP status,
its OAuth ``error`` code and a fixed, generic ``error_description``. Descriptions never contain
anything the client sent (no token, no secret, no echoed value), so an answer cannot leak or
be used to inject text. ``reason`` is a short fixed string for the audit row and the log only.
"""

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions as drf_exceptions

from tenantauth import crypto, limiter, outbound, signing, text

# problem -> (HTTP status, OAuth error code, default description). The only status table.
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "not_found", "Not found."),
    "endpoint_disabled": (404, "endpoint_disabled", "Delegation is disabled for this tenant."),
    "method_not_allowed": (405, "method_not_allowed", "Only POST is allowed."),
    "unsupported_media_type": (
        415,
        "invalid_request",
        "Content-Type must be application/json or application/x-www-form-urlencoded.",
    ),
    "body_too_large": (413, "invalid_request", "Request body too large."),
    "invalid_request": (400, "invalid_request", "Malformed request."),
    "unsupported_grant_type": (
        400,
        "unsupported_grant_type",
        "grant_type must be urn:ietf:params:oauth:grant-type:jwt-bearer.",
    ),
    "invalid_client": (401, "invalid_client", "Unknown client or client not active."),
    "unauthorized_client": (
        403,
        "unauthorized_client",
        "Grant type not allowed for the client.",
    ),
    "invalid_grant": (400, "invalid_grant", "Invalid user token."),
    "invalid_target": (400, "invalid_target", "Invalid target."),
    "invalid_scope": (400, "invalid_scope", "Invalid scope."),
    "too_many_requests": (429, "too_many_requests", "Too many requests."),
    "temporarily_unavailable": (
        503,
        "temporarily_unavailable",
        "The service is temporarily unavailable. Retry later.",
    ),
    "server_error": (500, "server_error", "Internal error."),
}

# Seconds a client should wait after a 503.
UNAVAILABLE_RETRY_AFTER = 5

# Fixed descriptions used instead of the default for some problems.
JWT_EXPIRED = "jwt expired"
GRANT_NOT_ALLOWED = "Grant type '{grant}' not allowed for the client."
PROVIDER_REFUSED = "The provider's token service refused the assertion"


def provider_refused(exc: outbound.ProviderRefused) -> "DelegationError":
    """400 ``invalid_grant`` naming the provider's own error code and description (both
    sanitised by ``outbound.provider_text``: RFC 6749 characters, no control characters, no
    token-like text, length-capped), e.g. "The provider's token service refused the assertion
    (invalid_grant: user hasn't approved this consumer)."."""
    detail = ": ".join(part for part in (exc.error, exc.description) if part)
    description = f"{PROVIDER_REFUSED} ({detail})." if detail else f"{PROVIDER_REFUSED}."
    return DelegationError(
        "invalid_grant", description=description, reason=f"provider refused {exc.status}"
    )


class DelegationError(Exception):
    """A refusal of the delegation endpoint.

    ``description`` (optional) must be a fixed string of this package; ``reason`` is a short
    fixed label for the audit row and the log.
    """

    def __init__(
        self,
        problem: str,
        *,
        description: str | None = None,
        reason: str = "",
        retry_after: int | None = None,
        audited: bool | None = None,
    ):
        if problem not in PROBLEMS:
            raise ValueError(f"unknown problem {problem!r}")
        status, error, default = PROBLEMS[problem]
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.error = error
        self.description = description or default
        self.reason = reason or problem
        # Refusals are audited (fd); server-side failures are not, except a provider's fault
        # (its token service down, slow or refusing), which is the attempt's outcome.
        self.audited = status < 500 if audited is None else audited
        self.headers: dict[str, str] = {}
        if problem == "temporarily_unavailable":
            self.headers["Retry-After"] = str(retry_after or UNAVAILABLE_RETRY_AFTER)
        if problem == "method_not_allowed":
            self.headers["Allow"] = "POST"

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def as_delegation_error(exc: BaseException) -> DelegationError:
    """Map any exception raised while serving a request to the answer it gets."""
    if isinstance(exc, DelegationError):
        return exc
    # Only a store that cannot be reached is an outage (503). A value the database refuses
    # (DataError, a NUL byte's ValueError) is a bug of ours to fix, never a false outage.
    if isinstance(exc, (OperationalError, InterfaceError)):
        return DelegationError("temporarily_unavailable", reason="database unavailable")
    if isinstance(exc, outbound.ProviderRefused):
        return provider_refused(exc)
    if isinstance(exc, outbound.ProviderUnavailable):
        # A provider's fault: 503 with Retry-After, and audited (fd) with what went wrong.
        return DelegationError(
            "temporarily_unavailable",
            reason=exc.reason,
            retry_after=exc.retry_after,
            audited=True,
        )
    if isinstance(exc, limiter.LimiterUnavailable):
        return DelegationError(
            "temporarily_unavailable", reason="cache unavailable", retry_after=exc.retry_after
        )
    if isinstance(exc, text.ControlCharacterError):
        # The claims rule refused a claim to be copied into the token (tenantauth.text).
        return DelegationError(
            "invalid_request",
            description="A claim cannot be issued.",
            reason="control character in a copied claim",
        )
    if isinstance(exc, signing.KeyUnavailableError):
        return DelegationError("temporarily_unavailable", reason="signing key unavailable")
    if isinstance(exc, signing.WeakKeyError):
        return DelegationError("server_error", reason="stored key too weak")
    if isinstance(exc, crypto.DecryptionError):
        return DelegationError("server_error", reason="stored secret undecryptable")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return DelegationError("method_not_allowed")
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return DelegationError("unsupported_media_type")
    if isinstance(exc, drf_exceptions.ParseError):
        return DelegationError("invalid_request", reason="unparsable body")
    if isinstance(exc, drf_exceptions.NotFound):
        return DelegationError("not_found")
    return DelegationError("server_error", reason="unexpected error")

"""Fixed-window rate limit for ``/delegation``, counted by the project's limiter.

The key is (tenant, client, user, client IP); the window is one minute and the limit
``tenant.delegation_rate_limit`` (10 by default, as Auth0). Every request counts, refusals
included (``tenantauth.limiter.incr``: INCR and EXPIRE in one Lua script, one round trip on
Redis), so the limit holds across worker processes. Failed attempts of a known client count
too: before the user is known they count in the client's anonymous bucket for that IP.

If the counter store cannot be reached, or its circuit breaker is open after a failure, the
endpoint answers 503 ``temporarily_unavailable`` with ``Retry-After`` at once rather than run
unlimited (no local fallback: a per-process count would multiply the limit by the number of
workers without anybody noticing). A request makes at most one round trip to the store.
"""

import hashlib
import time
from dataclasses import dataclass

from delegation.errors import DelegationError
from tenantauth import limiter

WINDOW_SECONDS = 60
DEFAULT_LIMIT = 10  # Auth0's, and the Tenant field's default


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    count: int
    reset: int  # UNIX time the window ends
    # The values of the ``versions`` keys read in the same round trip (``config_cache``: the
    # tenant's configuration version, the user's version), None for an absent key.
    versions: tuple = ()

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def retry_after(self) -> int:
        return max(1, self.reset - int(time.time()))

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if self.exceeded:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def _key(*, tenant_id: int, client_id: str, user_id: str, ip: str, window: int) -> str:
    raw = f"{tenant_id}\x1f{client_id}\x1f{user_id}\x1f{ip}".encode()
    return f"deleg-rl:{window}:{hashlib.sha256(raw).hexdigest()}"


def hit(
    *, tenant, client_id: str, user_id: str, ip: str, versions: tuple[str, ...] = ()
) -> RateLimitState:
    """Count one attempt and return the window's state; the values of the Redis keys
    ``versions`` (``config_cache.version_key``, ``config_cache.user_version_key``) come back in
    the same round trip, as ``RateLimitState.versions``.

    Raises ``DelegationError("temporarily_unavailable")`` (503, ``Retry-After``) when the
    counter store is unavailable.
    """
    now = int(time.time())
    window = now // WINDOW_SECONDS
    key = _key(tenant_id=tenant.pk, client_id=client_id, user_id=user_id, ip=ip, window=window)
    try:
        count, values = limiter.incr_and_get(key, ttl=WINDOW_SECONDS + 5, read=versions)
    except limiter.LimiterUnavailable as exc:
        raise DelegationError(
            "temporarily_unavailable", reason="cache unavailable", retry_after=exc.retry_after
        ) from None
    return RateLimitState(
        limit=tenant.delegation_rate_limit,
        count=count,
        reset=(window + 1) * WINDOW_SECONDS,
        versions=tuple(values),
    )


def peek(*, tenant, client_id: str = "", user_id: str = "", ip: str = "-") -> RateLimitState:
    """The window's state without counting: for answers given before the limiter ran.

    Every response carries the X-RateLimit headers (SPEC 4); a request refused before the
    limiter ran reports the bucket it would have counted in, or a fresh window when even the
    client is unknown. An unavailable store only loses the count, never the answer (and with
    the breaker open it is not even asked).
    """
    now = int(time.time())
    window = now // WINDOW_SECONDS
    limit = tenant.delegation_rate_limit if tenant is not None else DEFAULT_LIMIT
    count = 0
    if tenant is not None and client_id:
        key = _key(tenant_id=tenant.pk, client_id=client_id, user_id=user_id, ip=ip, window=window)
        try:
            count = limiter.peek(key)
        except limiter.LimiterUnavailable:
            count = 0
    return RateLimitState(limit=limit, count=min(count, limit), reset=(window + 1) * WINDOW_SECONDS)

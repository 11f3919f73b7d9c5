"""Fixed-window rate limit for ``/delegation``, counted in the shared cache.

The key is (tenant, client, user, client IP); the window is one minute and the limit
``tenant.delegation_rate_limit`` (10 by default, as Auth0). Counting is atomic in the cache, so
the limit holds across worker processes when the cache is Redis (there INCR and EXPIRE NX go in
one pipelined round trip; other caches use ``cache.add`` then ``cache.incr``). Failed attempts
of a known client count too: before the user is known they count in the client's anonymous
bucket for that IP.

If the cache cannot be reached the endpoint answers 503 rather than run unlimited.
"""

import hashlib
import logging
import time
from dataclasses import dataclass

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from delegation.errors import DelegationError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
DEFAULT_LIMIT = 10  # Auth0's, and the Tenant field's default


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    count: int
    reset: int  # UNIX time the window ends

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


_clients: dict[int, object] = {}


def _redis_client(backend: RedisCache, full_key: str):
    """A Redis client per connection pool, kept: Django builds a new one on every call, which
    costs more than the round trip itself. The pool (and its sockets) stays Django's."""
    pool = backend._cache._get_connection_pool(write=True)
    client = _clients.get(id(pool))
    if client is None or client.connection_pool is not pool:
        client = _clients[id(pool)] = backend._cache._client(connection_pool=pool)
    return client


def _count_redis(key: str) -> int | None:
    """One round trip on Redis: INCR and set the expiry only when the counter is new.

    Returns None when the cache is not Redis (the portable path below is used instead).
    """
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    full_key = backend.make_and_validate_key(key)
    pipe = _redis_client(backend, full_key).pipeline(transaction=True)
    pipe.incr(full_key)
    pipe.expire(full_key, WINDOW_SECONDS + 5, nx=True)
    count, _ = pipe.execute()
    return int(count)


def _count_portable(key: str) -> int:
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        return int(cache.incr(key))
    except ValueError:
        # The counter expired between add and incr: start it again.
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        return int(cache.incr(key))


def hit(*, tenant, client_id: str, user_id: str, ip: str) -> RateLimitState:
    """Count one attempt and return the window's state (raises 503 if the cache is down)."""
    now = int(time.time())
    window = now // WINDOW_SECONDS
    key = _key(tenant_id=tenant.pk, client_id=client_id, user_id=user_id, ip=ip, window=window)
    try:
        count = _count_redis(key)
        if count is None:
            count = _count_portable(key)
    except Exception as exc:  # any cache backend error: connection refused, timeout, ...
        logger.error("delegation rate limiter: cache unavailable (%s)", type(exc).__name__)
        raise DelegationError("temporarily_unavailable", reason="cache unavailable") from None
    return RateLimitState(
        limit=tenant.delegation_rate_limit,
        count=count,
        reset=(window + 1) * WINDOW_SECONDS,
    )


def peek(*, tenant, client_id: str = "", user_id: str = "", ip: str = "-") -> RateLimitState:
    """The window's state without counting: for answers given before the limiter ran.

    Every response carries the X-RateLimit headers (SPEC 4); a request refused before the
    limiter ran reports the bucket it would have counted in, or a fresh window when even the
    client is unknown. A cache failure here only loses the count, never the answer.
    """
    now = int(time.time())
    window = now // WINDOW_SECONDS
    limit = tenant.delegation_rate_limit if tenant is not None else DEFAULT_LIMIT
    count = 0
    if tenant is not None and client_id:
        key = _key(tenant_id=tenant.pk, client_id=client_id, user_id=user_id, ip=ip, window=window)
        try:
            count = int(cache.get(key) or 0)
        except Exception:  # the answer stands without the count
            count = 0
    return RateLimitState(limit=limit, count=min(count, limit), reset=(window + 1) * WINDOW_SECONDS)

"""The project's one limiter: fixed-window counters in the shared cache, guarded by a circuit
breaker. Every rate limit and login throttle counts here (``delegation.ratelimit``,
``tenantauth.oidc.throttling``), so there is one mechanism to reason about.

Counting
--------
A counter is a key per fixed window (``<key>:<window index>``, windows aligned to the UNIX
epoch), so the end of the window, and ``Retry-After``, is known without asking the store.

* ``reserve(counters)`` takes one slot in every counter, atomically and all or nothing, or
  none when one of them is full. On Redis it is one Lua script (one round trip, atomic on the
  server), so 20 parallel attempts against a limit of 10 let exactly 10 through, across every
  worker process that shares the Redis. Reserving *before* the credential check (and not
  recording a failure after it) is what makes the limit hold under concurrency.
* ``settle(release=..., reset=...)`` gives slots back (a successful attempt does not count as
  a failure) or clears a counter (a correct password clears the (user, address) counter, as
  Auth0 does), in one round trip.
* ``incr`` / ``peek`` serve limits that count every request (``/delegation``, SPEC 4).

Without Redis (development, ``REDIS_URL`` unset) the same operations run on Django's local
memory cache under a process lock: correct within one process, which is all that cache spans.

Outages
-------
Redis is reached with short socket timeouts (settings) and no retries. The first connection
failure or timeout opens a per-process circuit breaker: for
``settings.CACHE_BREAKER_COOLOFF_SECONDS`` every limiter call fails at once with
``LimiterUnavailable`` (the endpoints answer 503 with ``Retry-After``) instead of waiting for
the socket timeout again; then one call probes, and success closes the breaker. So a hung or
stopped Redis costs one timeout per process per cool-off, never one per request, and service
resumes by itself.
"""

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed

DEFAULT_COOLOFF_SECONDS = 5


class LimiterUnavailable(Exception):
    """The counter store cannot be reached; ``retry_after`` is in whole seconds (>= 1)."""

    def __init__(self, retry_after: int):
        super().__init__("rate limiter unavailable")
        self.retry_after = max(1, int(retry_after))


def _cooloff() -> float:
    return float(getattr(settings, "CACHE_BREAKER_COOLOFF_SECONDS", DEFAULT_COOLOFF_SECONDS))


class CircuitBreaker:
    """Per process: closed (calls go through) or open until a moment (calls fail at once).

    When the cool-off ends, the first caller becomes the probe and the breaker stays open for
    everybody else until the probe reports (``success`` closes it, ``failure`` re-opens it).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open_until = 0.0  # time.monotonic() value; 0 = closed

    def before_call(self) -> None:
        with self._lock:
            if not self._open_until:
                return
            now = time.monotonic()
            if now < self._open_until:
                raise LimiterUnavailable(math.ceil(self._open_until - now))
            self._open_until = now + _cooloff()  # this caller probes; the others wait

    def success(self) -> None:
        with self._lock:
            self._open_until = 0.0

    def failure(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + _cooloff()

    @property
    def is_open(self) -> bool:
        return bool(self._open_until)


breaker = CircuitBreaker()


def _outage_errors() -> tuple[type[BaseException], ...]:
    import redis

    # Connection refused/reset, timeouts (redis-py's ConnectionError covers BusyLoading and
    # authentication failures) and a replica that cannot take writes: the store is not usable.
    # Anything else (a script error, a wrong type) is a bug and stays one.
    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        redis.exceptions.ReadOnlyError,
        OSError,
    )


def _guarded(call):
    """Run one round trip to Redis under the breaker."""
    breaker.before_call()
    try:
        result = call()
    except _outage_errors():
        breaker.failure()
        raise LimiterUnavailable(_cooloff()) from None
    breaker.success()
    return result


def reset() -> None:
    """Close the breaker and forget kept clients (settings changed, or between tests)."""
    breaker.success()
    _clients.clear()


def _on_setting_changed(*, setting, **kwargs):
    if setting in ("CACHES", "CACHE_BREAKER_COOLOFF_SECONDS"):
        reset()


setting_changed.connect(_on_setting_changed)


# --- Redis access ------------------------------------------------------------------------------
_RESERVE = """
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current >= tonumber(ARGV[2 * i - 1]) then
    return i
  end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
  end
end
return 0
"""

_SETTLE = """
local resets = tonumber(ARGV[1])
for i = 1, #KEYS do
  if i <= resets then
    redis.call('DEL', KEYS[i])
  elseif redis.call('EXISTS', KEYS[i]) == 1 then
    if redis.call('DECR', KEYS[i]) < 0 then
      redis.call('SET', KEYS[i], 0, 'KEEPTTL')
    end
  end
end
return 0
"""

# INCR and, on the first count of a window, EXPIRE: one EVALSHA, atomic on the server, without
# the MULTI/EXEC a transactional pipeline wraps around the same two commands (measured on
# /delegation: the pipeline cost about 300 us per request, mostly client CPU).
_INCR = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local answer = {count}
for i = 2, #KEYS do
  answer[i] = redis.call('GET', KEYS[i])
end
return answer
"""


@dataclass
class _Kept:
    client: object
    reserve: object
    settle: object
    incr: object


_clients: dict[int, _Kept] = {}


def _redis_backend() -> RedisCache | None:
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def _kept(backend: RedisCache) -> _Kept:
    """A Redis client (and its scripts) per connection pool, kept: Django builds a new client
    on every call, which costs more than the round trip itself. The pool stays Django's."""
    pool = backend._cache._get_connection_pool(write=True)
    kept = _clients.get(id(pool))
    if kept is None or kept.client.connection_pool is not pool:
        client = backend._cache._client(connection_pool=pool)
        kept = _clients[id(pool)] = _Kept(
            client=client,
            reserve=client.register_script(_RESERVE),
            settle=client.register_script(_SETTLE),
            incr=client.register_script(_INCR),
        )
    return kept


# In-process fallback (local memory cache): one lock makes each operation atomic here.
_local_lock = threading.Lock()


# --- counters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Counter:
    """One limit: at most ``limit`` slots per fixed window of ``window`` seconds.

    ``name`` says what it counts (``ip``, ``user``, ...) and is what callers settle by; ``key``
    must not contain personal data in clear (callers hash e-mails and addresses).
    """

    name: str
    key: str
    limit: int
    window: int

    def window_key(self, now: float) -> str:
        return f"{self.key}:{int(now) // self.window}"

    def window_end(self, now: float) -> int:
        return (int(now) // self.window + 1) * self.window


@dataclass(frozen=True)
class Reservation:
    """The outcome of ``reserve``: granted, or refused by one full counter."""

    counters: tuple[Counter, ...]
    keys: tuple[str, ...]  # the window keys reserved (settle gives back exactly these)
    refused_by: Counter | None
    retry_after: int  # seconds until the refusing counter's window ends (0 when granted)

    @property
    def granted(self) -> bool:
        return self.refused_by is None


def reserve(counters: Iterable[Counter], *, now: float | None = None) -> Reservation:
    """Take one slot in every counter, or none if one of them is full (one round trip).

    Raises ``LimiterUnavailable`` when Redis cannot be reached (or its breaker is open).
    """
    counters = tuple(counters)
    now = time.time() if now is None else now
    keys = tuple(counter.window_key(now) for counter in counters)
    backend = _redis_backend()
    if backend is not None:
        full_keys = [backend.make_and_validate_key(key) for key in keys]
        args = []
        for counter in counters:
            args += [counter.limit, counter.window + 5]
        script = _kept(backend).reserve
        refused = int(_guarded(lambda: script(keys=full_keys, args=args)))
    else:
        refused = _reserve_local(counters, keys)
    if refused:
        counter = counters[refused - 1]
        return Reservation(counters, keys, counter, max(1, counter.window_end(now) - int(now)))
    return Reservation(counters, keys, None, 0)


def _reserve_local(counters: tuple[Counter, ...], keys: tuple[str, ...]) -> int:
    cache = caches["default"]
    with _local_lock:
        values = cache.get_many(keys)
        for index, (counter, key) in enumerate(zip(counters, keys, strict=True), start=1):
            if int(values.get(key) or 0) >= counter.limit:
                return index
        for counter, key in zip(counters, keys, strict=True):
            if not cache.add(key, 1, timeout=counter.window + 5):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.add(key, 1, timeout=counter.window + 5)
    return 0


def settle(*, release: Iterable[str] = (), reset: Iterable[str] = ()) -> None:
    """Give back one slot of each ``release`` key and clear each ``reset`` key (window keys
    from a ``Reservation``), in one round trip. A key whose window already ended is left
    alone. Raises ``LimiterUnavailable`` like ``reserve``."""
    release, reset = list(release), list(reset)
    if not release and not reset:
        return
    backend = _redis_backend()
    if backend is not None:
        full = [backend.make_and_validate_key(key) for key in reset + release]
        script = _kept(backend).settle
        _guarded(lambda: script(keys=full, args=[len(reset)]))
        return
    cache = caches["default"]
    with _local_lock:
        cache.delete_many(reset)
        for key in release:
            try:
                if cache.decr(key) < 0:
                    cache.incr(key)
            except ValueError:  # the window ended: nothing to give back
                pass


def incr(key: str, *, ttl: int) -> int:
    """Count one event in ``key`` (created with ``ttl`` seconds) and return the new count."""
    return incr_and_get(key, ttl=ttl)[0]


def incr_and_get(key: str, *, ttl: int, read: tuple[str, ...] = ()) -> tuple[int, list]:
    """``incr`` and, in the same round trip, the values of the keys ``read``: ``(count,
    [value or None per key])`` (every value None without Redis). ``read`` holds raw Redis keys
    (``redis_key``), not cache keys."""
    backend = _redis_backend()
    if backend is not None:
        full_key = backend.make_key(key)  # see redis_key
        script = _kept(backend).incr
        answer = _guarded(lambda: script(keys=[full_key, *read], args=[ttl]))
        values = [v.decode() if isinstance(v, bytes) else v for v in answer[1:]]
        values += [None] * (len(read) - len(values))  # Lua drops trailing nils
        return int(answer[0]), values
    cache = caches["default"]
    with _local_lock:
        if cache.add(key, 1, timeout=ttl):
            return 1, [None] * len(read)
        try:
            return int(cache.incr(key)), [None] * len(read)
        except ValueError:
            cache.add(key, 1, timeout=ttl)
            return 1, [None] * len(read)


def redis_call(call):
    """``call(client)`` on the kept Redis client under the breaker; None without Redis.
    Raises ``LimiterUnavailable`` like every limiter operation."""
    backend = _redis_backend()
    if backend is None:
        return None
    client = _kept(backend).client
    return _guarded(lambda: call(client))


def redis_key(name: str) -> str | None:
    """The full Redis key of ``name`` (the cache's prefix and version); None without Redis.

    Not validated: Django's key validation only warns about keys memcached would refuse
    (spaces, control characters, over 250 characters), and it walks every character on each
    call. The keys made here and in ``incr_and_get`` (``/delegation``'s counters and versions)
    are short ASCII built from integers and hex digests."""
    backend = _redis_backend()
    return backend.make_key(name) if backend is not None else None


def uses_redis() -> bool:
    """Whether the limiter counts on Redis (False: the local-memory fallback)."""
    return _redis_backend() is not None


def peek(key: str) -> int:
    """The current count of ``key`` (0 when absent). Raises ``LimiterUnavailable``."""
    backend = _redis_backend()
    if backend is not None:
        full_key = backend.make_and_validate_key(key)
        client = _kept(backend).client
        return int(_guarded(lambda: client.get(full_key)) or 0)
    return int(caches["default"].get(key) or 0)

"""The limiter itself (tenantauth.limiter), on the local memory store and on a real Redis:
reservations are all or nothing, settling gives back or clears exactly what was reserved, and
the circuit breaker turns a dead or hung Redis into one timeout per cool-off, then recovers.

The endpoints' answers during outages: the in-process cases below and tests/e2e/test_outages.py.
"""

import time

import pytest
from django.core.cache import cache

from tenantauth import limiter
from tests.cache_backends import redis_caches
from tests.servers import OwnRedis, can_run_redis
from tests.tenantauth.throttle_paths import PATHS


def _counters(*limits):
    return [limiter.Counter(f"c{n}", f"test:c{n}", limit, 60) for n, limit in enumerate(limits)]


def test_reserve_is_all_or_nothing(counter_store):
    """A full counter refuses the whole reservation and takes no slot from the others."""
    small, large = _counters(2, 100)
    assert limiter.reserve([small, large]).granted
    assert limiter.reserve([small, large]).granted
    refused = limiter.reserve([small, large])
    assert not refused.granted and refused.refused_by == small
    assert 0 < refused.retry_after <= 60
    # The large counter holds the two granted slots only: 98 more fit, then it is full.
    for _ in range(98):
        assert limiter.reserve([large]).granted
    assert not limiter.reserve([large]).granted


def test_settle_releases_and_resets_only_what_was_reserved(counter_store):
    kept, released, cleared = _counters(3, 3, 3)
    reservation = None
    for _ in range(3):
        reservation = limiter.reserve([kept, released, cleared])
    assert not limiter.reserve([kept]).granted
    limiter.settle(release=[reservation.keys[1]], reset=[reservation.keys[2]])
    assert not limiter.reserve([kept]).granted  # kept: still full
    assert limiter.reserve([released]).granted  # one slot back
    assert not limiter.reserve([released]).granted
    for _ in range(3):  # cleared: all three slots back
        assert limiter.reserve([cleared]).granted


def test_settling_after_the_window_ended_changes_nothing(counter_store):
    """A slot given back after its window ended does not make room in the next window (and
    never leaves a negative or endless counter behind)."""
    (counter,) = _counters(1)
    start = (int(time.time()) // 60 + 1) * 60
    reservation = limiter.reserve([counter], now=start + 59)
    assert reservation.granted
    assert limiter.reserve([counter], now=start + 60).granted  # a new window
    limiter.settle(release=list(reservation.keys))
    assert not limiter.reserve([counter], now=start + 61).granted


def test_the_process_lock_makes_local_reservations_atomic(settings):
    """On the local memory store (one process), 20 threads against a limit of 5: 5 granted."""
    from concurrent.futures import ThreadPoolExecutor

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    counters = _counters(5)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: limiter.reserve(counters).granted, range(20)))
    assert results.count(True) == 5


# --- the breaker, against a Redis this test owns ----------------------------------------------
@pytest.fixture
def dying_redis(settings):
    if not can_run_redis():
        pytest.skip("skipped: needs redis-server")
    server = OwnRedis()
    settings.CACHES = redis_caches(server.url)
    settings.CACHE_BREAKER_COOLOFF_SECONDS = 1
    yield server
    server.close()


def _timed(call):
    started = time.monotonic()
    try:
        call()
        outcome = "ok"
    except limiter.LimiterUnavailable as exc:
        outcome = exc
    return outcome, time.monotonic() - started


@pytest.mark.parametrize("fault", ["stopped", "hung"])
def test_breaker_one_timeout_per_cooloff_then_recovery(dying_redis, fault):
    """Stopped (refused) or hung (SIGSTOP): the first call fails within the socket timeout,
    the next ones at once with Retry-After; after the cool-off one call probes; once Redis is
    back the probe succeeds and the breaker closes."""
    counters = _counters(100)
    assert _timed(lambda: limiter.reserve(counters))[0] == "ok"
    if fault == "stopped":
        dying_redis.stop()
    else:
        dying_redis.hang()
    try:
        first, first_took = _timed(lambda: limiter.reserve(counters))
        assert isinstance(first, limiter.LimiterUnavailable) and first.retry_after >= 1
        assert first_took < 1.0
        for _ in range(5):
            again, took = _timed(lambda: limiter.reserve(counters))
            assert isinstance(again, limiter.LimiterUnavailable) and took < 0.05
        assert limiter.breaker.is_open
    finally:
        if fault == "stopped":
            dying_redis.start()
        else:
            dying_redis.resume()
    time.sleep(1.1)  # the cool-off (a monotonic clock: time-machine does not move it)
    deadline = time.monotonic() + 5
    while isinstance(_timed(lambda: limiter.reserve(counters))[0], limiter.LimiterUnavailable):
        assert time.monotonic() < deadline, "the breaker never closed"
        time.sleep(0.2)
    assert not limiter.breaker.is_open


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_every_throttled_path_answers_503_when_redis_is_down(client, tenant_a, dying_redis, path):
    """Redis stopped: each credential path answers 503 with Retry-After (JSON on the API, the
    503 page on the HTML pages) at once, checks nothing and creates nothing."""
    dying_redis.stop()
    for _ in range(2):  # the first call meets the dead Redis, the second the open breaker
        started = time.monotonic()
        response = path.attempt(client, tenant_a, account=None, right=True, ip="10.20.0.1")
        assert time.monotonic() - started < 1.0
        assert response.status_code == 503, response.content[:300]
        assert int(response["Retry-After"]) >= 1
        if response["Content-Type"].startswith("application/json"):
            body = response.json()
            assert body.get("error", body.get("code")) == "temporarily_unavailable"
        else:
            assert "Temporarily unavailable" in response.content.decode()
    assert "_auth_user_id" not in client.session

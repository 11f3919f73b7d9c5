"""The limiter's rules one by one (tenantauth.limiter), on the local memory store and on a real
Redis: what ``reserve`` returns, how long a counter is kept, what ``settle`` gives back, the
counters of ``incr`` / ``peek`` (``/delegation``), the raw Redis access of ``redis_call`` /
``redis_key``, and the circuit breaker (its cool-off setting, the probe after it, and the
settings whose change closes it).

The scenarios (all or nothing, parallel reservations, a dead or hung Redis end to end):
tests/tenantauth/test_limiter.py; the throttled paths: tests/tenantauth/test_throttling.py.
"""

import time

import pytest
import redis
import time_machine

from tenantauth import limiter
from tests.cache_backends import redis_caches
from tests.servers import OwnRedis, can_run_redis

WINDOW = 60
# A moment at the start of a window of WINDOW seconds (windows are aligned to the epoch).
START = (int(time.time()) // WINDOW + 1) * WINDOW


def _counter(limit: int, *, window: int = WINDOW, name: str = "c") -> limiter.Counter:
    return limiter.Counter(name, f"rules:{name}", limit, window)


@pytest.fixture
def own_server():
    """A Redis this test owns (it may stop it), with its own keys."""
    if not can_run_redis():
        pytest.skip("skipped: needs redis-server")
    server = OwnRedis()
    yield server
    server.close()


@pytest.fixture
def redis_store(settings, own_server):
    """The limiter on ``own_server``, with a one-second cool-off."""
    settings.CACHES = redis_caches(own_server.url)
    settings.CACHE_BREAKER_COOLOFF_SECONDS = 1
    return own_server


# --- reserve: what a reservation reports -----------------------------------------------------
def test_a_reservation_reports_its_counters_windows_and_outcome(counter_store):
    """Granted: the counters and their window keys, no refusing counter, Retry-After 0. Refused:
    the same counters and windows, the full counter, and the seconds to its window's end."""
    small, large = _counter(1, name="small"), _counter(5, name="large")
    now = START + 20
    keys = (f"rules:small:{now // WINDOW}", f"rules:large:{now // WINDOW}")
    granted = limiter.reserve([small, large], now=now)
    assert granted.granted
    assert (granted.counters, granted.keys) == ((small, large), keys)
    assert (granted.refused_by, granted.retry_after) == (None, 0)
    refused = limiter.reserve(iter([small, large]), now=now)
    assert not refused.granted
    assert (refused.counters, refused.keys) == ((small, large), keys)
    assert (refused.refused_by, refused.retry_after) == (small, WINDOW - 20)


@pytest.mark.parametrize(
    ("offset", "retry_after"), [(0, 60), (20, 40), (59, 1), (59.9, 1)], ids=str
)
def test_retry_after_is_the_time_left_in_the_refusing_window(counter_store, offset, retry_after):
    """Whole seconds to the end of the fixed window, never 0 (the last second says 1)."""
    counter = _counter(1)
    assert limiter.reserve([counter], now=START + offset).granted
    assert limiter.reserve([counter], now=START + offset).retry_after == retry_after


# --- how long a counter is kept --------------------------------------------------------------
def test_a_five_second_window_is_still_counted_until_it_ends(counter_store):
    """The shortest window the 5 s slack allows: the counter is not dropped before its window
    ends (a counter dropped early would let a full limit through again)."""
    counter = _counter(1, window=5)
    now = (int(time.time()) // 5 + 1) * 5
    assert limiter.reserve([counter], now=now).granted
    refused = limiter.reserve([counter], now=now)
    assert refused.refused_by == counter and refused.retry_after == 5


def _ttl(key: str) -> float:
    """Seconds the store keeps ``key``: Redis's PTTL."""
    return limiter.redis_call(lambda client: client.pttl(limiter.redis_key(key))) / 1000


def test_a_counter_is_kept_through_its_window_then_dropped(counter_store):
    """A window's counter is kept until 5 s after the longest its window can last, then the
    store forgets it (the memory comes back: a key per window would otherwise pile up)."""
    counter = _counter(3)
    if counter_store == "redis":
        key = limiter.reserve([counter]).keys[0]
        assert WINDOW < _ttl(key) <= WINDOW + 5
        return
    with time_machine.travel(START + 0.5, tick=False) as clock:
        key = limiter.reserve([counter]).keys[0]
        clock.move_to(START + 0.5 + WINDOW + 4.9)
        assert limiter.peek(key) == 1
        clock.move_to(START + 0.5 + WINDOW + 5)
        assert limiter.peek(key) == 0


# --- settle ----------------------------------------------------------------------------------
def test_releasing_alone_gives_back_the_last_slot(counter_store):
    """A limit of 1, full; releasing its key (nothing reset) makes room for one more."""
    counter = _counter(1)
    reservation = limiter.reserve([counter])
    assert not limiter.reserve([counter]).granted
    limiter.settle(release=reservation.keys)
    assert limiter.reserve([counter]).granted
    assert not limiter.reserve([counter]).granted


def test_resetting_alone_clears_the_counter(counter_store):
    counter = _counter(2)
    limiter.reserve([counter])
    reservation = limiter.reserve([counter])
    assert not limiter.reserve([counter]).granted
    limiter.settle(reset=reservation.keys)
    assert limiter.peek(reservation.keys[0]) == 0
    assert limiter.reserve([counter]).granted and limiter.reserve([counter]).granted
    assert not limiter.reserve([counter]).granted


def test_releasing_twice_never_makes_an_extra_slot(counter_store):
    """A slot given back twice: the counter stops at 0, the limit stays the limit."""
    counter = _counter(1)
    reservation = limiter.reserve([counter])
    limiter.settle(release=reservation.keys)
    limiter.settle(release=reservation.keys)
    assert limiter.peek(reservation.keys[0]) == 0
    assert limiter.reserve([counter]).granted
    assert not limiter.reserve([counter]).granted


def test_settling_nothing_makes_no_round_trip(redis_store):
    """Nothing to give back or clear: no call to Redis, so even a stopped Redis is no error."""
    redis_store.stop()
    limiter.settle()
    limiter.settle(release=[], reset=())
    assert not limiter.breaker.is_open


# --- incr / peek (the /delegation counters) ---------------------------------------------------
def test_incr_counts_each_event_and_peek_reads_the_count(counter_store):
    assert limiter.peek("rules:events") == 0
    assert [limiter.incr("rules:events", ttl=60) for _ in range(3)] == [1, 2, 3]
    assert limiter.peek("rules:events") == 3
    assert limiter.peek("rules:other") == 0


def test_incr_and_get_counts_and_reads_other_keys_in_the_same_call(counter_store):
    """``read`` values come back in order, None for a missing key (every value None without
    Redis, where there is nothing to read)."""
    if counter_store == "redis":
        limiter.redis_call(lambda client: client.set(limiter.redis_key("rules:version"), "v7"))
        read = tuple(limiter.redis_key(n) for n in ("rules:gone", "rules:version", "rules:none"))
        expected = [None, "v7", None]
    else:
        read, expected = ("rules:gone", "rules:version", "rules:none"), [None, None, None]
    assert limiter.incr_and_get("rules:hits", ttl=60, read=read) == (1, expected)
    assert limiter.incr_and_get("rules:hits", ttl=60, read=read) == (2, expected)
    assert limiter.incr_and_get("rules:hits", ttl=60) == (3, [])
    assert limiter.peek("rules:hits") == 3


def test_an_incr_counter_lives_for_its_ttl(counter_store):
    """The count starts again once ``ttl`` seconds have passed since its first event."""
    if counter_store == "redis":
        limiter.incr("rules:ttl", ttl=10)
        assert 9 < _ttl("rules:ttl") <= 10
        return
    with time_machine.travel(START, tick=False) as clock:
        assert limiter.incr("rules:ttl", ttl=10) == 1
        clock.move_to(START + 9.9)
        assert limiter.incr("rules:ttl", ttl=10) == 2
        clock.move_to(START + 10)
        assert limiter.peek("rules:ttl") == 0
        assert limiter.incr("rules:ttl", ttl=10) == 1


def test_an_incr_counter_that_expires_between_add_and_incr_starts_again_at_one(db, settings):
    """Django's database cache rounds the clock of ``add`` down to the second and reads with
    the exact time: half a second after a counter's expiry, ``add`` still sees the key and the
    ``incr`` after it finds it gone. The count starts again at 1, kept for the same ttl.
    (No second count per window here: the database cache's ``incr`` resets the timeout.)"""
    from django.core.management import call_command

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "limiter_rules_cache",
        }
    }
    call_command("createcachetable", verbosity=0)
    with time_machine.travel(START + 0.5, tick=False) as clock:
        assert limiter.incr("rules:db", ttl=10) == 1
        for restart in (START + 10.5, START + 20.5):  # each the previous count's expiry + 0.5
            clock.move_to(restart)
            assert limiter.incr_and_get("rules:db", ttl=10, read=("a", "b")) == (1, [None, None])
            assert limiter.peek("rules:db") == 1


# --- raw Redis access ------------------------------------------------------------------------
def test_redis_call_and_redis_key_reach_the_counters_on_redis_only(counter_store):
    """On Redis, ``redis_key`` names the key a counter is stored under and ``redis_call`` runs
    on one kept client (not one built per call); without Redis both answer None."""
    limiter.incr("rules:raw", ttl=60)
    limiter.incr("rules:raw", ttl=60)
    if counter_store == "local memory":
        assert not limiter.uses_redis()
        assert limiter.redis_key("rules:raw") is None
        assert limiter.redis_call(lambda client: client.ping()) is None
        return
    assert limiter.uses_redis()
    assert limiter.redis_call(lambda client: client.get(limiter.redis_key("rules:raw"))) == b"2"
    assert limiter.redis_call(lambda client: client.ping()) is True
    client = limiter.redis_call(lambda client: client)
    assert client is limiter.redis_call(lambda client: client)
    reservation = limiter.reserve([_counter(5)])
    assert limiter.redis_call(lambda client: client) is client
    assert int(client.get(limiter.redis_key(reservation.keys[0]))) == 1


def test_counters_go_to_the_primary_when_replicas_are_configured(settings, own_server):
    """``LOCATION`` lists a primary and a read-only replica (Django reads from replicas): every
    counter is written to the primary, so counting works and the primary holds the count."""
    replica = OwnRedis()
    try:
        redis.Redis(port=replica.port).replicaof("127.0.0.1", own_server.port)
        settings.CACHES = redis_caches(f"{own_server.url},{replica.url}")
        counter = _counter(2)
        reservation = limiter.reserve([counter])
        assert reservation.granted
        assert limiter.reserve([counter]).granted
        assert not limiter.reserve([counter]).granted
        limiter.settle(release=reservation.keys)
        assert limiter.incr("rules:primary", ttl=60) == 1
        primary = redis.Redis(port=own_server.port)
        assert int(primary.get(limiter.redis_key(reservation.keys[0]))) == 1
        assert int(primary.get(limiter.redis_key("rules:primary"))) == 1
        assert limiter.peek(reservation.keys[0]) == 1
    finally:
        replica.close()


# --- outages and the breaker -----------------------------------------------------------------
def test_every_operation_on_a_stopped_redis_is_one_error_with_the_cooloff(redis_store):
    """Refused connections become ``LimiterUnavailable`` (what the endpoints turn into 503) with
    ``CACHE_BREAKER_COOLOFF_SECONDS`` as its Retry-After, for every operation, first through
    the dead socket and then from the open breaker."""
    counter = _counter(5)
    reservation = limiter.reserve([counter])
    redis_store.stop()
    operations = [
        lambda: limiter.reserve([counter]),
        lambda: limiter.settle(release=reservation.keys),
        lambda: limiter.settle(reset=reservation.keys),
        lambda: limiter.incr("rules:down", ttl=60),
        lambda: limiter.incr_and_get("rules:down", ttl=60, read=("x",)),
        lambda: limiter.peek("rules:down"),
        lambda: limiter.redis_call(lambda client: client.ping()),
    ]
    for operation in operations:
        with pytest.raises(limiter.LimiterUnavailable) as caught:
            operation()
        assert caught.value.retry_after == 1
        assert str(caught.value) == "rate limiter unavailable"
    assert limiter.breaker.is_open


def test_the_cooloff_is_five_seconds_without_the_setting(redis_store, settings):
    del settings.CACHE_BREAKER_COOLOFF_SECONDS
    redis_store.stop()
    with pytest.raises(limiter.LimiterUnavailable) as caught:
        limiter.reserve([_counter(5)])
    assert caught.value.retry_after == 5


def test_a_fraction_of_a_second_of_cooloff_says_retry_after_one(redis_store, settings):
    settings.CACHE_BREAKER_COOLOFF_SECONDS = 0.25
    redis_store.stop()
    for _ in range(2):  # the dead socket, then the open breaker
        with pytest.raises(limiter.LimiterUnavailable) as caught:
            limiter.incr("rules:down", ttl=60)
        assert caught.value.retry_after == 1


def test_after_the_cooloff_one_caller_probes_and_the_others_still_wait(settings):
    """A new breaker is closed; once open, the first call after the cool-off probes while the
    others still fail at once (Retry-After: the rest of the cool-off); the probe's failure
    re-opens it, its success closes it."""
    settings.CACHE_BREAKER_COOLOFF_SECONDS = 0.5
    breaker = limiter.CircuitBreaker()
    assert not breaker.is_open
    breaker.before_call()
    breaker.before_call()
    breaker.failure()
    assert breaker.is_open
    with pytest.raises(limiter.LimiterUnavailable) as waiting:
        breaker.before_call()
    assert waiting.value.retry_after == 1
    for probe_succeeds in (False, True):
        time.sleep(0.55)
        breaker.before_call()  # the probe
        with pytest.raises(limiter.LimiterUnavailable) as waiting:
            breaker.before_call()
        assert waiting.value.retry_after == 1
        assert breaker.is_open
        if probe_succeeds:
            breaker.success()
        else:
            breaker.failure()
    assert not breaker.is_open
    breaker.before_call()
    breaker.before_call()


@pytest.mark.parametrize("setting", ["CACHE_BREAKER_COOLOFF_SECONDS", "CACHES"])
def test_changing_the_cache_settings_closes_the_breaker(redis_store, settings, setting):
    """Redis back, but the breaker open for a long cool-off: a new cache configuration or a
    new cool-off closes it at once (the next call goes to Redis); another setting does not."""
    settings.CACHE_BREAKER_COOLOFF_SECONDS = 60
    counter = _counter(5)
    redis_store.stop()
    with pytest.raises(limiter.LimiterUnavailable):
        limiter.reserve([counter])
    redis_store.start()
    settings.LOGIN_THROTTLE_IP = 7  # not a cache setting: the breaker stays open
    with pytest.raises(limiter.LimiterUnavailable) as caught:
        limiter.reserve([counter])
    assert caught.value.retry_after >= 59
    if setting == "CACHES":
        settings.CACHES = redis_caches(redis_store.url)
    else:
        settings.CACHE_BREAKER_COOLOFF_SECONDS = 30
    assert not limiter.breaker.is_open
    assert limiter.reserve([counter]).granted

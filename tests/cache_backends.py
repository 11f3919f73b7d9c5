"""The two counter stores the limiter runs on, as fixtures: Django's local memory cache and a
real Redis (a ``redis-server`` the test session starts on its own port). Tests that take
``counter_store`` run once on each, so the Redis code paths (Lua scripts, the breaker) run in
every test run, not only where ``REDIS_URL`` is set. Without ``redis-server`` installed the
Redis case is skipped, except in CI (``CI`` set), where it fails."""

import os

import pytest
from django.core.cache import cache

from tests.servers import OwnRedis, can_run_redis


@pytest.fixture(scope="session")
def own_redis():
    if not can_run_redis():
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI")
        pytest.skip("skipped: needs redis-server (apt-get install redis-server)")
    server = OwnRedis()
    yield server
    server.close()


def redis_caches(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "tenantauth-test",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }


@pytest.fixture(params=["local memory", "redis"])
def counter_store(request, settings):
    """Point the limiter at one store (cleared), and say which one ran."""
    if request.param == "redis":
        server = request.getfixturevalue("own_redis").running()
        settings.CACHES = redis_caches(server.url)
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    return request.param

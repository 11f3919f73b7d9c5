"""Failed-password throttling in Django's cache (Redis in production, so it spans processes).

Counters are fixed windows: ``cache.add`` starts one (atomically, only if absent) and
``cache.incr`` counts in it, so concurrent failures are never lost. Keys carry a SHA-256 of the
email, never the email itself. Three counters, as Auth0's brute-force protection: one
(user, IP) pair, one user from anywhere (higher, so a single attacker cannot lock a user out),
one IP across users (suspicious-IP throttling).
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from tenantauth.crypto import fingerprint


@dataclass(frozen=True)
class Limit:
    name: str
    max_failures: int
    window_seconds: int


def limits() -> list[Limit]:
    window = getattr(settings, "LOGIN_THROTTLE_WINDOW_SECONDS", 15 * 60)
    return [
        Limit("user_ip", getattr(settings, "LOGIN_THROTTLE_USER_IP", 10), window),
        Limit("user", getattr(settings, "LOGIN_THROTTLE_USER", 50), window),
        Limit("ip", getattr(settings, "LOGIN_THROTTLE_IP", 100), window),
    ]


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__("too many failed logins")
        self.retry_after = retry_after


def _keys(*, tenant, email: str, ip: str) -> dict[str, str]:
    user = fingerprint(f"{tenant.pk}:{email.strip().lower()}")[:32]
    addr = fingerprint(ip or "-")[:32]
    return {
        "user_ip": f"login-fail:{tenant.pk}:u:{user}:i:{addr}",
        "user": f"login-fail:{tenant.pk}:u:{user}",
        "ip": f"login-fail:{tenant.pk}:i:{addr}",
    }


def check(*, tenant, email: str, ip: str) -> None:
    """Raise ``Throttled`` when any counter has reached its limit."""
    keys = _keys(tenant=tenant, email=email, ip=ip)
    values = cache.get_many([keys[limit.name] for limit in limits()])
    now = int(time.time())
    for limit in limits():
        key = keys[limit.name]
        if (values.get(key) or 0) >= limit.max_failures:
            started = cache.get(key + ":t") or now
            raise Throttled(max(1, started + limit.window_seconds - now))


def record_failure(*, tenant, email: str, ip: str) -> None:
    keys = _keys(tenant=tenant, email=email, ip=ip)
    now = int(time.time())
    for limit in limits():
        key = keys[limit.name]
        if cache.add(key, 0, timeout=limit.window_seconds):
            cache.set(key + ":t", now, timeout=limit.window_seconds)
        try:
            cache.incr(key)
        except ValueError:  # the window expired between add and incr: start a new one
            cache.add(key, 1, timeout=limit.window_seconds)


def record_success(*, tenant, email: str, ip: str) -> None:
    """A correct password clears this (user, IP) pair, as Auth0 does; the wider counters stay."""
    cache.delete(_keys(tenant=tenant, email=email, ip=ip)["user_ip"])

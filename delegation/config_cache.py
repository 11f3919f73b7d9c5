"""Per-process cache of what ``/delegation`` reads about a tenant's configuration, never
served stale.

What is cached: the result of ``selectors.delegation_parties_get`` (the tenant with its
active signing key, and the source and target applications: secrets, algorithms, allow-lists,
grants, the enabled-add-on flag), per (tenant slug, client IDs). Users are not cached.

Freshness: each tenant has a configuration version in Redis (``deleg-cfg:<tenant id>``, a
random token). Every write that can change what a delegation decides (an Application, a
SigningKey, the Tenant, an add-on configuration: saved or deleted) sets a new token, once at
once and once more when its transaction commits (``transaction.on_commit``). An entry carries
the token read *before* its rows were read; it is served only while Redis still holds that
token, and the rate-limit call (``delegation.ratelimit.hit``) returns the current token in its
one round trip, before anything is signed. So a change committed by any process is seen by
every process on its very next request: a mismatch drops the entry and the request is decided
again from the database. A refusal decided on cached data is confirmed the same way (one GET)
before it is answered. Without Redis (development, the in-process fallback) or while the
limiter's breaker is open nothing is served from here. A lost token write (Redis unreachable
by the writer but not by the readers) is bounded by ``DELEGATION_CONFIG_CACHE_SECONDS``
(default 30, 0 turns the cache off).

Writes through ``QuerySet.update()`` send no signal: services that change these tables that
way must call ``tenant_changed`` themselves. (Signing-key rotation retires keys and points
the tenant at the new key with ``update()``, in the transaction that creates the new key row,
whose save sends the signal.)
"""

import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.apps import apps as django_apps
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from tenantauth import limiter

logger = logging.getLogger("delegation")

MAX_ENTRIES = 1024


@dataclass(frozen=True)
class Entry:
    key: tuple
    tenant_id: int
    version: str
    tenant: object
    apps: dict
    stored_at: float


_lock = threading.Lock()
_entries: OrderedDict[tuple, Entry] = OrderedDict()
_tenant_ids: dict[str, int] = {}  # slug -> tenant id, learnt from the database


def _ttl() -> float:
    return float(settings.DELEGATION_CONFIG_CACHE_SECONDS)


def version_key(tenant_id: int) -> str | None:
    """The Redis key of the tenant's configuration version (None without Redis)."""
    return limiter.redis_key(f"deleg-cfg:{tenant_id}")


def active() -> bool:
    """Whether entries may be served: Redis configured, its breaker closed, a TTL set."""
    if _ttl() <= 0 or limiter.redis_key("x") is None:
        return False
    if limiter.breaker.is_open:
        clear()  # a token written while Redis was unreachable may have been lost
        return False
    return True


def clear() -> None:
    with _lock:
        _entries.clear()
        _tenant_ids.clear()


def lookup(slug: str, client_ids: list[str]) -> Entry | None:
    """The entry for these parties, if one is kept and young enough (not yet confirmed)."""
    if not active():
        return None
    key = (slug, tuple(client_ids))
    with _lock:
        entry = _entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry.stored_at > _ttl():
            del _entries[key]
            return None
        _entries.move_to_end(key)
        return entry


_LABEL = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""


def label(slug: str) -> tuple[int, str] | None:
    """(tenant id, current version) to label rows about to be read for ``slug``; None when the
    tenant is not known to this process yet (it is learnt from the rows) or Redis fails."""
    if not active():
        return None
    tenant_id = _tenant_ids.get(slug)
    if tenant_id is None:
        return None
    key = version_key(tenant_id)
    try:
        value = limiter.redis_call(
            lambda client: client.eval(_LABEL, 1, key, secrets.token_hex(16))
        )
    except limiter.LimiterUnavailable:
        return None
    if value is None:
        return None
    return tenant_id, value.decode() if isinstance(value, bytes) else value


def store(slug: str, client_ids: list[str], labelled, tenant, apps: dict) -> None:
    """Keep rows read after ``label`` returned ``labelled``, if they are that tenant's."""
    if tenant is None:
        return
    with _lock:
        _tenant_ids[slug] = tenant.pk
        if labelled is None or labelled[0] != tenant.pk:
            return
        key = (slug, tuple(client_ids))
        _entries[key] = Entry(key, tenant.pk, labelled[1], tenant, apps, time.monotonic())
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def discard(entry: Entry) -> None:
    with _lock:
        if _entries.get(entry.key) is entry:
            del _entries[entry.key]


def is_current(entry: Entry) -> bool:
    """Whether Redis still holds the entry's version (one GET; False when unreachable)."""
    try:
        value = limiter.redis_call(lambda client: client.get(version_key(entry.tenant_id)))
    except limiter.LimiterUnavailable:
        return False
    if isinstance(value, bytes):
        value = value.decode()
    return value == entry.version


def _bump(tenant_id: int) -> None:
    with _lock:
        for key in [k for k, e in _entries.items() if e.tenant_id == tenant_id]:
            del _entries[key]
    key = version_key(tenant_id)
    if key is None:
        return
    try:
        limiter.redis_call(lambda client: client.set(key, secrets.token_hex(16)))
    except limiter.LimiterUnavailable:
        logger.warning("delegation config cache: version of tenant %s not updated", tenant_id)


def tenant_changed(tenant_id: int | None) -> None:
    """Invalidate every process's entries of this tenant: now, and again on commit."""
    if tenant_id is None:
        return
    _bump(tenant_id)
    transaction.on_commit(lambda: _bump(tenant_id))


def _on_change(sender, instance, **kwargs):
    if sender is django_apps.get_model("tenantauth", "Tenant"):
        tenant_changed(instance.pk)
    else:
        tenant_changed(getattr(instance, "tenant_id", None))


def connect() -> None:
    """Wire the invalidation to every model whose rows a delegation decision reads."""
    for label_ in (
        "tenantauth.Tenant",
        "tenantauth.Application",
        "tenantauth.SigningKey",
        "addons.AddonConfiguration",
    ):
        model = django_apps.get_model(label_)
        uid = f"delegation-config-cache-{label_}"
        post_save.connect(_on_change, sender=model, dispatch_uid=uid + "-save")
        post_delete.connect(_on_change, sender=model, dispatch_uid=uid + "-delete")

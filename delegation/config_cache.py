"""Per-process cache of what ``/delegation`` reads about a tenant's configuration, never
served stale.

What is cached: the result of ``selectors.delegation_parties_get`` (the tenant with its
active signing key, and the source and target applications: secrets, algorithms, allow-lists,
grants, the enabled-add-on flag), per (tenant slug, client IDs); and the live users read by
``selectors.delegation_user_get`` (found and not blocked: an unknown or blocked user is always
read anew), per (tenant id, user_id), each under the configuration entry it was read with.

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

Users the same way, with a version per user (``deleg-user:<tenant id>:<sha256 of user_id>``)
set anew when a TenantUser is saved or deleted (blocked, unblocked, profile edited, removed,
its tenant removed); the rate-limit round trip returns it next to the tenant's. A user entry is
served only with the configuration entry it was stored under, so any configuration change
drops the tenant's users too. (``last_login``, the only TenantUser column written with
``update()``, is not read by a delegation.)

Writes through ``QuerySet.update()`` send no signal: services that change these tables that
way must call ``tenant_changed`` themselves. (Signing-key rotation retires keys and points
the tenant at the new key with ``update()``, in the transaction that creates the new key row,
whose save sends the signal.)
"""

import hashlib
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


@dataclass(frozen=True)
class UserEntry:
    key: tuple  # (tenant id, user_id)
    config_version: str  # the configuration entry's version it was stored under
    version: str
    user: object
    stored_at: float


MAX_USERS = 4096

_lock = threading.Lock()
_entries: OrderedDict[tuple, Entry] = OrderedDict()
_users: OrderedDict[tuple, UserEntry] = OrderedDict()
_tenant_ids: dict[str, int] = {}  # slug -> tenant id, learnt from the database


def _ttl() -> float:
    return float(settings.DELEGATION_CONFIG_CACHE_SECONDS)


def version_key(tenant_id: int) -> str | None:
    """The Redis key of the tenant's configuration version (None without Redis)."""
    return limiter.redis_key(f"deleg-cfg:{tenant_id}")


def active() -> bool:
    """Whether entries may be served: Redis configured, its breaker closed, a TTL set."""
    if _ttl() <= 0 or not limiter.uses_redis():
        return False
    if limiter.breaker.is_open:
        clear()  # a token written while Redis was unreachable may have been lost
        return False
    return True


def clear() -> None:
    with _lock:
        _entries.clear()
        _users.clear()
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
    value = _label_key(version_key(tenant_id))
    return None if value is None else (tenant_id, value)


def _label_key(key: str) -> str | None:
    """The version held in ``key``, set to a new random one when absent; None on failure."""
    try:
        value = limiter.redis_call(
            lambda client: client.eval(_LABEL, 1, key, secrets.token_hex(16))
        )
    except limiter.LimiterUnavailable:
        return None
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


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


def is_current(entry: Entry, user_entry: UserEntry | None = None) -> bool:
    """Whether Redis still holds the entry's version, and the user entry's (one round trip;
    False when unreachable)."""
    keys = [version_key(entry.tenant_id)]
    if user_entry is not None:
        keys.append(user_version_key(*user_entry.key))
    try:
        values = limiter.redis_call(lambda client: client.mget(keys))
    except limiter.LimiterUnavailable:
        return False
    if values is None:
        return False
    values = [v.decode() if isinstance(v, bytes) else v for v in values]
    wanted = [entry.version] + ([user_entry.version] if user_entry is not None else [])
    return values == wanted


# --- users ----------------------------------------------------------------------------------
def user_version_key(tenant_id: int, user_id: str) -> str | None:
    """The Redis key of one user's version (None without Redis). The user_id is hashed: it is
    the token's ``sub``, up to 128 characters of anything."""
    digest = hashlib.sha256(user_id.encode()).hexdigest()[:32]
    return limiter.redis_key(f"deleg-user:{tenant_id}:{digest}")


def user_lookup(entry: Entry, user_id: str) -> UserEntry | None:
    """The live user kept for ``user_id`` under the configuration ``entry`` (not confirmed
    yet: the rate-limit round trip confirms both versions), or None."""
    key = (entry.tenant_id, user_id)
    with _lock:
        found = _users.get(key)
        if found is None:
            return None
        if found.config_version != entry.version or time.monotonic() - found.stored_at > _ttl():
            del _users[key]
            return None
        _users.move_to_end(key)
        return found


def user_label(tenant_id: int, user_id: str) -> str | None:
    """The user's current version, to label the row about to be read (None: do not keep it)."""
    if not active():
        return None
    return _label_key(user_version_key(tenant_id, user_id))


def user_store(entry: Entry, user_id: str, labelled: str | None, user) -> UserEntry | None:
    """Keep a live user read after ``user_label`` returned ``labelled``, under ``entry``."""
    if labelled is None or user is None or user.blocked:
        return None
    key = (entry.tenant_id, user_id)
    kept = UserEntry(key, entry.version, labelled, user, time.monotonic())
    with _lock:
        _users[key] = kept
        _users.move_to_end(key)
        while len(_users) > MAX_USERS:
            _users.popitem(last=False)
    return kept


def user_discard(user_entry: UserEntry) -> None:
    with _lock:
        if _users.get(user_entry.key) is user_entry:
            del _users[user_entry.key]


def _bump_user(tenant_id: int, user_id: str) -> None:
    with _lock:
        _users.pop((tenant_id, user_id), None)
    key = user_version_key(tenant_id, user_id)
    if key is None:
        return
    try:
        limiter.redis_call(lambda client: client.set(key, secrets.token_hex(16)))
    except limiter.LimiterUnavailable:
        logger.warning(
            "delegation config cache: version of a user of tenant %s not updated", tenant_id
        )


def user_changed(tenant_id: int | None, user_id: str | None) -> None:
    """Invalidate every process's entry of this user: now, and again on commit."""
    if tenant_id is None or not user_id:
        return
    _bump_user(tenant_id, user_id)
    transaction.on_commit(lambda: _bump_user(tenant_id, user_id))


def _on_user_change(sender, instance, **kwargs):
    user_changed(instance.tenant_id, instance.user_id)


def _bump(tenant_id: int) -> None:
    with _lock:
        for key in [k for k, e in _entries.items() if e.tenant_id == tenant_id]:
            del _entries[key]
        for key in [k for k in _users if k[0] == tenant_id]:
            del _users[key]
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
    user = django_apps.get_model("tenantauth.TenantUser")
    uid = "delegation-config-cache-tenantauth.TenantUser"
    post_save.connect(_on_user_change, sender=user, dispatch_uid=uid + "-save")
    post_delete.connect(_on_user_change, sender=user, dispatch_uid=uid + "-delete")

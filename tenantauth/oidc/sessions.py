"""The hosted-login session: who signed in on a tenant's hosted login page in this browser.

After a successful sign-in on ``/t/<slug>/authorize`` the tenant user is remembered in the
Django session (the same signed, HttpOnly cookie as the rest of the site, stored server side),
one entry per tenant: ``{"user_id", "auth_time", "auth_hash"}``. ``authorize`` with
``prompt=none`` (silent authentication, e.g. auth0-spa-js ``getTokenSilently``) then issues a
code without showing the page; ``v2/logout`` forgets the entry.

An entry stops counting when the user is deleted or blocked, when their password changes
(``auth_hash`` is an HMAC of the stored password hash, as Django's own session auth hash),
when it is older than ``settings.OIDC_SESSION_MAX_AGE_SECONDS`` (default 7 days), or when the
request's ``max_age`` is shorter than the time since ``auth_time`` (OIDC Core 3.1.2.1).
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from tenantauth import selectors as core_selectors
from tenantauth.models import Tenant, TenantUser

SESSION_KEY = "tenantauth.hosted_login"
_HASH_SALT = "tenantauth.oidc.sessions.auth_hash"


def session_max_age() -> int:
    return getattr(settings, "OIDC_SESSION_MAX_AGE_SECONDS", 7 * 24 * 3600)


@dataclass(frozen=True)
class HostedSession:
    user: TenantUser
    auth_time: int  # seconds since the epoch, when the user entered their password


def _auth_hash(user: TenantUser) -> str:
    return salted_hmac(_HASH_SALT, user.password, algorithm="sha256").hexdigest()


def session_remember(request, *, tenant: Tenant, user: TenantUser, auth_time: int) -> None:
    """Remember ``user`` as signed in to ``tenant`` in this browser since ``auth_time``.

    The session key is cycled first (no session fixation); other entries (other tenants, an
    admin sign-in) are kept.
    """
    request.session.cycle_key()
    entries = dict(request.session.get(SESSION_KEY) or {})
    entries[str(tenant.pk)] = {
        "user_id": user.user_id,
        "auth_time": int(auth_time),
        "auth_hash": _auth_hash(user),
    }
    request.session[SESSION_KEY] = entries


def session_forget(request, *, tenant: Tenant) -> bool:
    """Forget the tenant's entry; True when there was one."""
    entries = dict(request.session.get(SESSION_KEY) or {})
    found = entries.pop(str(tenant.pk), None) is not None
    if found:
        request.session[SESSION_KEY] = entries
    return found


def session_get(request, *, tenant: Tenant, max_age: int | None = None) -> HostedSession | None:
    """The live hosted-login session of ``tenant`` in this browser, or None.

    ``max_age`` (seconds, from the authorization request) narrows how long ago the user may
    have entered their password.
    """
    entry = (request.session.get(SESSION_KEY) or {}).get(str(tenant.pk))
    if not isinstance(entry, dict):
        return None
    auth_time = entry.get("auth_time")
    if not isinstance(auth_time, int):
        return None
    age = time.time() - auth_time
    if age > session_max_age() or (max_age is not None and age > max_age):
        return None
    user = core_selectors.tenant_user_get(tenant=tenant, user_id=str(entry.get("user_id", "")))
    if user is None or user.blocked:
        return None
    if not constant_time_compare(str(entry.get("auth_hash", "")), _auth_hash(user)):
        return None
    return HostedSession(user=user, auth_time=auth_time)

"""Which browser origins may call a tenant's token endpoints (CORS), decided per request.

``django-cors-headers`` does the protocol (preflight answers, ``Vary: Origin``, the allowed
methods and headers from settings); this module only tells it, through its
``check_request_enabled`` signal, whether the request's ``Origin`` may read the answer:

* only for ``oauth/token``, ``delegation``, ``userinfo`` and ``dbconnections/signup`` of a
  tenant (``CORS_PATH_RE``); discovery and JWKS answer ``*`` on their own, everything else
  (the admin, the hosted login page) gets no CORS at all;
* once the view knows the calling application it records it as ``request.cors_application``
  (the token request's ``client_id``, the delegation source, the access token's ``azp`` for
  userinfo): the origin must then be one of *that* application's Allowed Web Origins or the
  origin of one of its callback URLs (as Auth0 does);
* before that (a preflight, which has no body yet; or a request refused before the client is
  known, whose error the SDK must still be able to read) the origin must be allowed for some
  active application of the tenant.

Never ``*`` and never credentials on these paths: the SDKs send no cookies to them.
"""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError

from tenantauth.models import Application, Tenant

# The paths django-cors-headers handles (settings.CORS_URLS_REGEX names the tenant "slug").
CORS_PATH_RE = re.compile(settings.CORS_URLS_REGEX)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Marks "the view has not named an application yet"; the view may also record None (unknown).
_UNSET = object()


def origin_of(url: str) -> str | None:
    """The ASCII serialisation of a URL's origin (``scheme://host[:port]``, lower case, the
    default port left out, RFC 6454 section 6.2); None for anything but http(s) with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def application_origins(application: Application) -> set[str]:
    """The origins an application's browser code runs on: its Allowed Web Origins and the
    origins of its callback URLs."""
    urls = list(application.allowed_origins or []) + list(application.callback_urls or [])
    return {origin for origin in map(origin_of, urls) if origin}


def origin_allowed_for_application(*, application: Application | None, origin: str) -> bool:
    """Whether ``origin`` may read an answer made for ``application`` (False for None or a
    disabled application)."""
    if application is None or not application.is_active:
        return False
    wanted = origin_of(origin)
    return wanted is not None and wanted == origin and wanted in application_origins(application)


def origin_allowed_for_tenant(*, tenant: Tenant, origin: str) -> bool:
    """Whether some active application of ``tenant`` allows ``origin``."""
    wanted = origin_of(origin)
    if wanted is None or wanted != origin:
        return False
    applications = Application.objects.filter(tenant=tenant, is_active=True).only(
        "allowed_origins", "callback_urls", "is_active"
    )
    return any(wanted in application_origins(app) for app in applications)


def _tenant_decision(request, slug: str, origin: str) -> bool:
    # Asked twice per request (before the view and after it): look the tenant up once.
    cached = getattr(request, "_cors_tenant_decision", None)
    if cached is not None:
        return cached
    from tenantauth import selectors

    tenant = selectors.tenant_get(slug=slug)
    decision = tenant is not None and origin_allowed_for_tenant(tenant=tenant, origin=origin)
    request._cors_tenant_decision = decision
    return decision


def cors_request_allowed(sender, request, **kwargs) -> bool:
    """``corsheaders.signals.check_request_enabled`` receiver: see the module docstring."""
    origin = request.headers.get("Origin")
    match = CORS_PATH_RE.match(request.path_info)
    if not origin or match is None:
        return False
    application = getattr(request, "cors_application", _UNSET)
    if application is not _UNSET and application is not None:
        return origin_allowed_for_application(application=application, origin=origin)
    try:
        return _tenant_decision(request, match["slug"], origin)
    except DatabaseError:  # the view answers the outage (503); no CORS on top of it
        return False

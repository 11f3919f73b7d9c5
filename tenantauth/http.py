"""Request helpers shared by the tenant endpoints."""

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    """The client's address: the socket peer, unless trusted proxies say otherwise.

    With ``TRUSTED_PROXY_COUNT = n`` the n-th address from the right of X-Forwarded-For is
    taken (each trusted proxy appends the address it saw); anything a client wrote further
    left is ignored. Malformed values fall back to the socket address.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= count:
            candidate = forwarded[-count]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return remote

"""The one seam for outbound HTTP: calls this service makes to a provider's token service.

Add-ons that trade an assertion at a remote service (AWS STS, Salesforce, SAP) put an HTTP
call inside ``/delegation``; a slow, hostile or misconfigured provider must never hold a
worker, read our secrets back, or make us reach the internal network. Every call goes through
``send`` (httpx underneath), which enforces:

* **TLS verified** with certifi's CA bundle, or ``OUTBOUND_CA_BUNDLE`` (a PEM file; tests use
  it for a loopback CA);
* **one total deadline** per call (``OUTBOUND_TIMEOUT_SECONDS``): connecting, the TLS
  handshake, writing and every read share it (each socket operation gets the time that is
  left, never a fresh per-read timeout), so a provider trickling one byte at a time cannot
  hold the worker past it; the TCP connect alone is also capped by
  ``OUTBOUND_CONNECT_TIMEOUT_SECONDS``;
* **no redirects** followed (a 3xx is a fault), no proxies from the environment, no retries;
* **a response size cap** (``OUTBOUND_MAX_RESPONSE_BYTES``): the body is streamed (no content
  encoding accepted, so no decompression bomb) and the read stops at the cap;
* **https only, and no private address** unless ``OUTBOUND_ALLOW_PRIVATE_NETWORKS`` (true in
  development, false in production; tests use it to reach loopback services over http). The
  guard resolves the host at connection time and connects to the address it checked (no DNS
  rebinding between check and connect); ``url_problem`` applies the same rule to the URLs an
  admin saves (server-side request forgery, as Sentry's ``is_ipaddress_allowed``).

Faults are raised as ``ProviderUnavailable`` (timeouts, connection failures, 5xx, redirects,
oversize answers, a refused destination: the caller answers 503 ``temporarily_unavailable``
with ``Retry-After``) and a provider's refusal as ``ProviderRefused`` (4xx; its OAuth ``error``
and ``error_description`` sanitised by ``provider_text``). Nothing here logs a request body,
a header or a URL's query, and httpx's own request log is silenced in settings.
"""

import ipaddress
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core import checks

from tenantauth import text

USER_AGENT = "tenantauth-outbound/1"
# RFC 6749 section 5.2: error and error_description are %x20-21 / %x23-5B / %x5D-7E.
_OAUTH_ERROR_TEXT = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]+$")
# A run this long of base64 / base64url / JWT characters may be our own assertion echoed back.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/_=.-]{40,}")
ERROR_CODE_MAX_CHARS = 64
ERROR_DESCRIPTION_MAX_CHARS = 200
RETRY_AFTER_MAX_SECONDS = 300


class OutboundError(Exception):
    """Base class of the seam's errors. ``reason`` is a short fixed label (audit row, log)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(OutboundError):
    """The provider could not give an answer in time (or gave one we refuse to read).

    ``retry_after``: seconds (the provider's own ``Retry-After`` when it sent a small integer).
    """

    def __init__(self, reason: str, *, retry_after: int | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class DestinationRefused(ProviderUnavailable):
    """The URL is not one this service calls (scheme, private or loopback address)."""


class ProviderRefused(OutboundError):
    """The provider answered 4xx. ``error`` / ``description``: its OAuth error code and text,
    sanitised (``provider_text``; '' when absent or unsafe); ``status``: the HTTP status."""

    def __init__(self, *, status: int, error: str = "", description: str = ""):
        super().__init__(f"provider refused: {error or status}")
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Response:
    """A provider's answer: status, headers (lower-case names) and the body (at most the cap)."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    url: str = ""

    def json(self) -> dict:
        """The body as a JSON object; ``ProviderUnavailable`` when it is not one."""
        try:
            value = json.loads(self.content)
        except ValueError:
            raise ProviderUnavailable("provider answer not json") from None
        if not isinstance(value, dict):
            raise ProviderUnavailable("provider answer not json")
        return value


def provider_text(value, *, max_chars: int) -> str:
    """A provider's error code or description, safe to put in our own answer.

    Returns '' (never a stripped or partial value) unless ``value`` is a string of RFC 6749
    section 5.2 characters without control characters (``tenantauth.text``) and without a long
    token-like run (the provider may echo our assertion back); cut at ``max_chars``.
    """
    if not isinstance(value, str) or not value or text.has_control_characters(value):
        return ""
    if not _OAUTH_ERROR_TEXT.match(value) or _TOKEN_LIKE.search(value):
        return ""
    return value[:max_chars]


def refusal_from(response: Response) -> ProviderRefused:
    """The ``ProviderRefused`` for a 4xx answer carrying an RFC 6749 section 5.2 body."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ProviderRefused(
        status=response.status_code,
        error=provider_text(body.get("error"), max_chars=ERROR_CODE_MAX_CHARS),
        description=provider_text(
            body.get("error_description"), max_chars=ERROR_DESCRIPTION_MAX_CHARS
        ),
    )


# --- destinations -------------------------------------------------------------------------------
def _private_allowed() -> bool:
    return bool(settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS)


def address_allowed(address: str) -> bool:
    """True when ``address`` (an IP literal) is a public unicast address, or private networks
    are allowed (development, tests). Loopback, private (RFC 1918, ULA), link-local (cloud
    metadata at 169.254.169.254), multicast, reserved and unspecified addresses are refused."""
    if _private_allowed():
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why this service would not call ``url`` (None when it would): for save-time validation
    of an admin's URL and for every call.

    Only ``https`` (``http`` too when private networks are allowed), a host, no user info; with
    ``resolve`` every address the host resolves to must pass ``address_allowed`` (a host that
    does not resolve is refused).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    schemes = {"https", "http"} if _private_allowed() else {"https"}
    if parts.scheme not in schemes:
        return "Only https URLs are allowed."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username is not None or parts.password is not None:
        return "The URL cannot carry a user name or password."
    if parts.fragment:
        return "The URL cannot carry a fragment."
    if not resolve or _private_allowed():
        return None
    try:
        addresses = _resolve(parts.hostname, port or 443)
    except OSError:
        return "The URL's host does not resolve."
    if not all(address_allowed(address) for address in addresses):
        return "The URL points at a private, loopback or link-local address."
    return None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


# --- the transport: every socket operation within the deadline ----------------------------------
class _Deadline:
    def __init__(self, seconds: float):
        self.ends = time.monotonic() + seconds

    def left(self, timeout: float | None, exc: type[Exception]) -> float:
        remaining = self.ends - time.monotonic()
        if remaining <= 0:
            raise exc("deadline reached")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline):
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(
            ssl_context, server_hostname, self._deadline.left(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host, refuses disallowed addresses, connects to a checked address."""

    def __init__(self, deadline: _Deadline):
        self._deadline = deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = _resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError("host does not resolve") from exc
        if not addresses or not all(address_allowed(address) for address in addresses):
            raise _AddressRefused("address not allowed")
        last: Exception = httpcore.ConnectError("no address")
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    address,
                    port,
                    timeout=self._deadline.left(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise last


class _AddressRefused(Exception):
    """Raised by the backend (not an httpcore error, so httpx passes it through unchanged)."""


@lru_cache(maxsize=8)
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    # Loading a CA store costs milliseconds: one context per bundle and process.
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return httpx.create_ssl_context(verify=True, trust_env=False)


def _client(deadline: _Deadline) -> httpx.Client:
    context = _ssl_context(settings.OUTBOUND_CA_BUNDLE or "")
    transport = httpx.HTTPTransport(verify=context, trust_env=False, retries=0)
    # One pool per call with the guarded backend (httpx has no public hook for it).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=context, network_backend=_GuardedBackend(deadline), max_connections=1
    )
    connect = min(settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS, settings.OUTBOUND_TIMEOUT_SECONDS)
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(settings.OUTBOUND_TIMEOUT_SECONDS, connect=connect),
    )


def _retry_after(headers: dict[str, str]) -> int | None:
    value = headers.get("retry-after", "")
    if value.isascii() and value.isdigit() and 0 < int(value) <= RETRY_AFTER_MAX_SECONDS:
        return int(value)
    return None


def send(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    data: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Response:
    """Send one request to a provider and return its 2xx or 4xx answer.

    ``data`` is sent as ``application/x-www-form-urlencoded``, ``content`` as is; ``auth`` is
    HTTP Basic (RFC 7617). Raises ``DestinationRefused`` (scheme or address not allowed,
    before anything is sent), ``ProviderUnavailable`` (connection failure, TLS failure, the
    deadline, a 3xx, a 5xx, a body over the cap) and never returns later than
    ``OUTBOUND_TIMEOUT_SECONDS`` after the call (name resolution excepted, which the
    operating system bounds). 4xx answers are returned (see ``refusal_from``).
    """
    problem = url_problem(url, resolve=False)
    if problem:
        raise DestinationRefused("provider url refused")
    deadline = _Deadline(settings.OUTBOUND_TIMEOUT_SECONDS)
    cap = settings.OUTBOUND_MAX_RESPONSE_BYTES
    request_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    request_headers.update(headers or {})
    try:
        with _client(deadline) as client:
            request = client.build_request(
                method, url, headers=request_headers, content=content, data=data
            )
            basic = httpx.BasicAuth(*auth) if auth is not None else None
            answer = client.send(request, stream=True, auth=basic)
            try:
                answer_headers = {k.lower(): v for k, v in answer.headers.items()}
                if 300 <= answer.status_code < 400:
                    raise ProviderUnavailable("provider redirected")
                if answer.status_code >= 500:
                    raise ProviderUnavailable(
                        "provider 5xx", retry_after=_retry_after(answer_headers)
                    )
                if answer.status_code < 200:
                    raise ProviderUnavailable("provider answer unexpected")
                declared = answer_headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise ProviderUnavailable("provider answer too large")
                if answer_headers.get("content-encoding", "identity") not in ("identity", ""):
                    raise ProviderUnavailable("provider answer encoded")
                body = bytearray()
                for chunk in answer.iter_raw():
                    body += chunk
                    if len(body) > cap:
                        raise ProviderUnavailable("provider answer too large")
                return Response(answer.status_code, answer_headers, bytes(body), url)
            finally:
                answer.close()
    except _AddressRefused:
        raise DestinationRefused("provider address refused") from None
    except httpx.TimeoutException:
        raise ProviderUnavailable("provider timeout") from None
    except (httpx.TransportError, ssl.SSLError):
        # ConnectError (refused, TLS failure), ReadError, RemoteProtocolError, ...
        raise ProviderUnavailable("provider unreachable") from None
    except httpx.HTTPError:
        raise ProviderUnavailable("provider unreachable") from None


def post_form(url: str, *, data: dict[str, str], auth: tuple[str, str] | None = None):
    """POST ``data`` as a form (RFC 6749 section 4.5 / RFC 7521 section 4.1 token requests) and
    return the provider's JSON object; 4xx raises ``ProviderRefused`` (see ``send``)."""
    response = send("POST", url, data=data, auth=auth, headers={"Accept": "application/json"})
    if response.status_code >= 400:
        raise refusal_from(response)
    return response.json()


@checks.register(checks.Tags.security, deploy=True)
def check_private_networks_closed(app_configs=None, **kwargs):
    """``check --deploy``: provider calls must not reach private networks in production."""
    if settings.PRODUCTION and settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS:
        return [
            checks.Warning(
                "OUTBOUND_ALLOW_PRIVATE_NETWORKS is on in production: add-on token URLs may "
                "reach loopback, private and cloud-metadata addresses over plain http.",
                id="tenantauth.W020",
            )
        ]
    return []

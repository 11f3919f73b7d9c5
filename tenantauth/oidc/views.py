"""The hosted login page of the authorization-code flow (``GET/POST /t/<slug>/authorize``) and
the end of a hosted-login session (``GET /t/<slug>/v2/logout``, also ``oidc/logout``).

The authorization request lives in the query string of both the GET and the form POST, and is
validated identically each time. Errors go back to the client only once the client and its
redirect_uri are known to be genuine (RFC 6749 section 4.1.2.1); before that they are shown on
the page, so this endpoint can never be used as an open redirector.

Answers go back in the requested ``response_mode``:

* ``query`` (default): a 302 to ``redirect_uri?code=...&state=...`` (or ``error=...``);
* ``web_message`` (Auth0's silent authentication, used by auth0-spa-js ``getTokenSilently``
  in a hidden iframe and by popups): a small page whose static script ``postMessage``s
  ``{type: "authorization_response", response: {...}}`` to its parent or opener, addressed to
  the origin of the (registered) redirect_uri only, never ``*``. Only that origin may frame
  the page (CSP ``frame-ancestors``; no ``X-Frame-Options``, which cannot name an origin).

``prompt=none`` never shows the page: with a live hosted-login session (``sessions``) the code
is issued at once, otherwise the answer is ``login_required``.
"""

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from tenantauth import outages, text
from tenantauth import selectors as core_selectors
from tenantauth.http import client_ip
from tenantauth.models import GRANT_AUTHORIZATION_CODE, Application
from tenantauth.oidc import selectors, services, sessions, throttling
from tenantauth.oidc.apis import client_for_sign_in
from tenantauth.oidc.cors import origin_of
from tenantauth.oidc.errors import OAuthError, error_response
from tenantauth.oidc.forms import LoginForm

logger = logging.getLogger(__name__)

TEMPLATE = "oidc/login.html"
WEB_MESSAGE_TEMPLATE = "oidc/web_message.html"
LOGOUT_TEMPLATE = "oidc/logout.html"
SINGLE_VALUED = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "connection",
)
UNSAFE_SCHEMES = {"javascript", "data", "vbscript", "file", ""}
RESPONSE_MODES = ("query", "web_message")
PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})
# The web_message page runs one static script and nothing else, and only the client's own
# origin may frame it.
WEB_MESSAGE_CSP = (
    "default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors {origin}"
)


@dataclass(frozen=True)
class AuthorizationRequest:
    application: Application
    redirect_uri: str
    state: str
    scopes: list[str]
    nonce: str
    code_challenge: str
    login_hint: str
    connection_name: str
    response_mode: str = "query"
    prompt: frozenset = frozenset()
    max_age: int | None = None

    @property
    def web_message_origin(self) -> str | None:
        """Where a web_message answer is posted: the redirect_uri's origin."""
        return origin_of(self.redirect_uri) if self.response_mode == "web_message" else None


@dataclass(frozen=True)
class ReplyTo:
    """Where an answer goes once the client is genuine: the callback, by its response mode."""

    redirect_uri: str
    state: str
    response_mode: str = "query"


class PageError(Exception):
    """An error that must be shown on the page, never sent to an unverified redirect_uri."""


class RedirectError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(error)
        self.error = error
        self.description = description


def _with_query(uri: str, params: dict) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((k, v) for k, v in params.items() if v)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _redirect(uri: str, params: dict) -> HttpResponse:
    # Built by hand because HttpResponseRedirect refuses native apps' custom schemes; the
    # target is always an exactly registered callback URL.
    response = HttpResponse(status=302)
    response["Location"] = _with_query(uri, params)
    response["Cache-Control"] = "no-store"
    return response


def _web_message(request, *, origin: str, params: dict) -> TemplateResponse:
    """The web_message answer page: ``params`` posted to ``origin`` by oidc/web_message.js."""
    response = TemplateResponse(
        request,
        WEB_MESSAGE_TEMPLATE,
        {"target_origin": origin, "response": {k: v for k, v in params.items() if v}},
    )
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    response["Content-Security-Policy"] = WEB_MESSAGE_CSP.format(origin=origin)
    # A popup's opener must stay reachable (same-origin COOP would sever it); an iframe's
    # parent is unaffected. Framing is governed by frame-ancestors alone.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    response.xframe_options_exempt = True
    return response


def _reply(request, reply: ReplyTo, params: dict) -> HttpResponse:
    """Send ``params`` (a code or an error, plus state) to the client in its response mode."""
    params = {**params, "state": reply.state}
    origin = origin_of(reply.redirect_uri) if reply.response_mode == "web_message" else None
    if origin:
        return _web_message(request, origin=origin, params=params)
    return _redirect(reply.redirect_uri, params)


def _prompt(query) -> frozenset:
    values = frozenset(query.get("prompt", "").split())
    if not values <= PROMPT_VALUES:
        raise RedirectError("invalid_request", "Unsupported prompt value.")
    if "none" in values and len(values) > 1:
        raise RedirectError("invalid_request", "prompt=none cannot be combined with others.")
    return values


def _max_age(query) -> int | None:
    raw = query.get("max_age")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise RedirectError("invalid_request", "max_age must be a number of seconds.")
    return int(raw)


def _reply_to(application: Application, query) -> ReplyTo:
    """The verified callback of a request whose client is genuine, or PageError."""
    redirect_uri = query.get("redirect_uri", "")
    if (
        not redirect_uri
        or redirect_uri not in (application.callback_urls or [])
        or urlsplit(redirect_uri).scheme.lower() in UNSAFE_SCHEMES
    ):
        raise PageError(
            "The redirect_uri is missing or is not one of the application's allowed callback URLs."
        )
    mode = query.get("response_mode", "query")
    if len(query.getlist("response_mode")) > 1 or mode not in RESPONSE_MODES:
        mode = "query"  # errors about the mode itself go back the default way
    elif mode == "web_message" and origin_of(redirect_uri) is None:
        raise PageError(
            "response_mode=web_message needs an http or https redirect_uri (a web origin)."
        )
    return ReplyTo(redirect_uri=redirect_uri, state=query.get("state", ""), response_mode=mode)


def _parse(query, reply: ReplyTo, application: Application) -> AuthorizationRequest:
    """Validate the rest of the authorization request (RedirectError from here on)."""
    for name in SINGLE_VALUED:
        if len(query.getlist(name)) > 1:
            raise RedirectError("invalid_request", f"Parameter '{name}' is duplicated.")
    if query.get("response_type") != "code":
        raise RedirectError("unsupported_response_type", "Only response_type=code is supported.")
    if query.get("response_mode", "query") not in RESPONSE_MODES:
        raise RedirectError("invalid_request", "response_mode must be query or web_message.")
    if not application.has_grant(GRANT_AUTHORIZATION_CODE):
        raise RedirectError(
            "unauthorized_client",
            f"Grant type '{GRANT_AUTHORIZATION_CODE}' not allowed for the client.",
        )
    challenge = query.get("code_challenge", "")
    method = query.get("code_challenge_method", "")
    if challenge or method:
        if method != "S256":
            raise RedirectError("invalid_request", "code_challenge_method must be S256.")
        if not services.PKCE_CHALLENGE.match(challenge):
            raise RedirectError("invalid_request", "Invalid code_challenge.")
    elif application.is_public:
        raise RedirectError("invalid_request", "code_challenge (S256) is required.")
    scopes = services.scopes_parse(query.get("scope"))
    state, nonce = query.get("state", ""), query.get("nonce", "")
    if len(state) > 2048 or len(nonce) > 512:
        raise RedirectError("invalid_request", "state or nonce is too long.")
    return AuthorizationRequest(
        application=application,
        redirect_uri=reply.redirect_uri,
        state=state,
        scopes=scopes,
        nonce=nonce,
        code_challenge=challenge,
        login_hint=query.get("login_hint", "")[:254],
        connection_name=query.get("connection", ""),
        response_mode=reply.response_mode,
        prompt=_prompt(query),
        max_age=_max_age(query),
    )


def _page(request, *, tenant, auth=None, form=None, error="", status=200, headers=None):
    context = {"tenant": tenant, "auth": auth, "form": form, "error": error}
    response = TemplateResponse(request, TEMPLATE, context, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    if auth is not None and auth.response_mode == "web_message":
        # A popup sign-in (web_message without prompt=none) must keep its opener.
        response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _outage_page(view):
    """A store that cannot be reached (PostgreSQL on the GET, Redis on the password POST) is
    the 503 page with Retry-After, not a 500."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Exception as exc:
            if not outages.is_outage(exc):
                raise
            logger.warning("hosted login unavailable: %s", type(exc).__name__)
            return outages.unavailable_page(request, outages.retry_after_of(exc))

    return wrapper


def _issue_code(request, *, tenant, auth: AuthorizationRequest, user, auth_time: datetime):
    code = services.authorization_code_create(
        tenant=tenant,
        application=auth.application,
        user=user,
        redirect_uri=auth.redirect_uri,
        scopes=auth.scopes,
        nonce=auth.nonce,
        code_challenge=auth.code_challenge,
        auth_time=auth_time,
    )
    reply = ReplyTo(auth.redirect_uri, auth.state, auth.response_mode)
    return _reply(request, reply, {"code": code})


@sensitive_post_parameters("password")
@csrf_protect
@_outage_page
def authorize(request, tenant_slug: str):
    """``GET`` shows the hosted login page (or answers at once for ``prompt=none``); ``POST``
    checks the password, remembers the hosted-login session and answers with a code."""
    tenant = core_selectors.tenant_get(slug=tenant_slug)
    if tenant is None:
        return error_response(OAuthError("not_found", "Unknown tenant."))
    if request.method not in ("GET", "POST"):
        return error_response(
            OAuthError("method_not_allowed", "Use GET or POST.", headers={"Allow": "GET, POST"})
        )
    if text.query_has_control_characters(request.GET):
        # Before anything is looked up: such a value names no client, callback or state.
        return _page(
            request,
            tenant=tenant,
            error="The request contains control characters, which are not allowed.",
            status=400,
        )
    query = request.GET
    try:
        if len(query.getlist("client_id")) > 1 or len(query.getlist("redirect_uri")) > 1:
            raise PageError("The request is malformed: a parameter is duplicated.")
        application = client_for_sign_in(tenant=tenant, client_id=query.get("client_id", ""))
        if application is None:
            raise PageError("Unknown or disabled application.")
        reply = _reply_to(application, query)
    except PageError as exc:
        return _page(request, tenant=tenant, error=str(exc), status=400)
    # From here on the client and its callback are genuine: errors go back to the client.
    try:
        auth = _parse(query, reply, application)
    except RedirectError as exc:
        return _reply(request, reply, {"error": exc.error, "error_description": exc.description})
    connection = selectors.connection_get(tenant=tenant, name=auth.connection_name or None)
    if connection is None:
        return _reply(
            request, reply, {"error": "invalid_request", "error_description": "Unknown connection."}
        )

    if "none" in auth.prompt:
        # Silent authentication: a live session answers with a code, never with the page.
        session = sessions.session_get(request, tenant=tenant, max_age=auth.max_age)
        if session is None or session.user.connection_id != connection.pk:
            return _reply(
                request,
                reply,
                {"error": "login_required", "error_description": "The user must sign in."},
            )
        auth_time = datetime.fromtimestamp(session.auth_time, tz=UTC)
        return _issue_code(
            request, tenant=tenant, auth=auth, user=session.user, auth_time=auth_time
        )

    if request.method == "GET":
        form = LoginForm(initial={"email": auth.login_hint})
        return _page(request, tenant=tenant, auth=auth, form=form)

    form = LoginForm(request.POST)
    if not form.is_valid():
        return _page(request, tenant=tenant, auth=auth, form=form, status=400)
    try:
        user = services.user_authenticate(
            tenant=tenant,
            connection=connection,
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            ip=client_ip(request),
        )
    except throttling.Throttled as exc:
        form = LoginForm(initial={"email": form.cleaned_data["email"]})
        return _page(
            request,
            tenant=tenant,
            auth=auth,
            form=form,
            error="Too many failed attempts. Wait a while before trying again.",
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except OAuthError as exc:
        message = {
            "invalid_grant": "Your account has been blocked."
            if exc.description == services.USER_BLOCKED
            else services.WRONG_CREDENTIALS,
        }.get(exc.error, "Sign-in failed.")
        form = LoginForm(initial={"email": form.cleaned_data["email"]})
        return _page(
            request,
            tenant=tenant,
            auth=auth,
            form=form,
            error=message,
            status=400,
            headers=exc.headers,
        )
    # Whole seconds: auth_time is a NumericDate in id_tokens, and the session keeps it so.
    auth_time = timezone.now().replace(microsecond=0)
    sessions.session_remember(
        request, tenant=tenant, user=user, auth_time=int(auth_time.timestamp())
    )
    return _issue_code(request, tenant=tenant, auth=auth, user=user, auth_time=auth_time)


@_outage_page
def logout(request, tenant_slug: str):
    """End the tenant's hosted-login session in this browser (Auth0 ``GET /v2/logout``; also
    OIDC RP-Initiated Logout 1.0 at ``oidc/logout``).

    Parameters: ``client_id`` and ``returnTo`` (Auth0) or ``post_logout_redirect_uri`` (OIDC,
    which also echoes ``state``). The session is always cleared; the browser is sent back only
    to a URL in that client's Allowed Logout URLs (exact match), otherwise a page says it is
    signed out (or, for a URL not allowed, why it was not sent back).
    """
    tenant = core_selectors.tenant_get(slug=tenant_slug)
    if tenant is None:
        return error_response(OAuthError("not_found", "Unknown tenant."))
    if request.method not in ("GET", "HEAD"):
        return error_response(
            OAuthError("method_not_allowed", "Use GET.", headers={"Allow": "GET, HEAD"})
        )
    sessions.session_forget(request, tenant=tenant)
    query = request.GET
    return_to = query.get("returnTo") or query.get("post_logout_redirect_uri") or ""
    if not return_to:
        return _logout_page(request, tenant=tenant)
    application = client_for_sign_in(tenant=tenant, client_id=query.get("client_id", ""))
    if (
        application is None
        or return_to not in (application.allowed_logout_urls or [])
        or urlsplit(return_to).scheme.lower() in UNSAFE_SCHEMES
    ):
        return _logout_page(
            request,
            tenant=tenant,
            error="You are signed out, but the address to return to is not one of the "
            "application's Allowed Logout URLs.",
            status=400,
        )
    extra = {"state": query.get("state", "")} if "post_logout_redirect_uri" in query else {}
    return _redirect(return_to, extra)


def _logout_page(request, *, tenant, error="", status=200):
    response = TemplateResponse(
        request, LOGOUT_TEMPLATE, {"tenant": tenant, "error": error}, status=status
    )
    response["Cache-Control"] = "no-store"
    return response

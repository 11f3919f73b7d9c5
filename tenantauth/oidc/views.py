"""The hosted login page of the authorization-code flow (``GET/POST /t/<slug>/authorize``).

The authorization request lives in the query string of both the GET and the form POST, and is
validated identically each time. Errors go back to the client's redirect_uri only once the
client and that redirect_uri are known to be genuine (RFC 6749 section 4.1.2.1); before that
they are shown on the page, so this endpoint can never be used as an open redirector.
"""

import functools
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from tenantauth import outages, text
from tenantauth import selectors as core_selectors
from tenantauth.http import client_ip
from tenantauth.models import GRANT_AUTHORIZATION_CODE, Application, Tenant
from tenantauth.oidc import selectors, services, throttling
from tenantauth.oidc.apis import client_for_sign_in
from tenantauth.oidc.errors import OAuthError, error_response
from tenantauth.oidc.forms import LoginForm

logger = logging.getLogger(__name__)

TEMPLATE = "oidc/login.html"
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
    "login_hint",
    "connection",
)
UNSAFE_SCHEMES = {"javascript", "data", "vbscript", "file", ""}


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


def _parse(tenant: Tenant, query) -> AuthorizationRequest:
    """Validate the authorization request: PageError first, RedirectError once it is safe."""
    if len(query.getlist("client_id")) > 1 or len(query.getlist("redirect_uri")) > 1:
        raise PageError("The request is malformed: a parameter is duplicated.")
    application = client_for_sign_in(tenant=tenant, client_id=query.get("client_id", ""))
    if application is None:
        raise PageError("Unknown or disabled application.")
    redirect_uri = query.get("redirect_uri", "")
    if (
        not redirect_uri
        or redirect_uri not in (application.callback_urls or [])
        or urlsplit(redirect_uri).scheme.lower() in UNSAFE_SCHEMES
    ):
        raise PageError(
            "The redirect_uri is missing or is not one of the application's allowed callback URLs."
        )
    # From here on the client and its callback are genuine: errors go back to the client.
    for name in SINGLE_VALUED:
        if len(query.getlist(name)) > 1:
            raise RedirectError("invalid_request", f"Parameter '{name}' is duplicated.")
    if query.get("response_type") != "code":
        raise RedirectError("unsupported_response_type", "Only response_type=code is supported.")
    if query.get("response_mode", "query") != "query":
        raise RedirectError("invalid_request", "Only response_mode=query is supported.")
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
    try:
        scopes = services.scopes_parse(query.get("scope"))
    except OAuthError as exc:
        raise RedirectError(exc.error, exc.description) from exc
    state, nonce = query.get("state", ""), query.get("nonce", "")
    if len(state) > 2048 or len(nonce) > 512:
        raise RedirectError("invalid_request", "state or nonce is too long.")
    if query.get("prompt") == "none":
        raise RedirectError("login_required", "The user must sign in.")
    return AuthorizationRequest(
        application=application,
        redirect_uri=redirect_uri,
        state=state,
        scopes=scopes,
        nonce=nonce,
        code_challenge=challenge,
        login_hint=query.get("login_hint", "")[:254],
        connection_name=query.get("connection", ""),
    )


def _page(request, *, tenant, auth=None, form=None, error="", status=200, headers=None):
    context = {"tenant": tenant, "auth": auth, "form": form, "error": error}
    response = TemplateResponse(request, TEMPLATE, context, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
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


@sensitive_post_parameters("password")
@csrf_protect
@_outage_page
def authorize(request, tenant_slug: str):
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
            error="The request contains characters that are not allowed.",
            status=400,
        )
    try:
        auth = _parse(tenant, request.GET)
    except PageError as exc:
        return _page(request, tenant=tenant, error=str(exc), status=400)
    except RedirectError as exc:
        return _redirect(
            request.GET.get("redirect_uri", ""),
            {
                "error": exc.error,
                "error_description": exc.description,
                "state": request.GET.get("state", ""),
            },
        )
    connection = selectors.connection_get(tenant=tenant, name=auth.connection_name or None)
    if connection is None:
        return _redirect(
            auth.redirect_uri,
            {
                "error": "invalid_request",
                "error_description": "Unknown connection.",
                "state": auth.state,
            },
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
    code = services.authorization_code_create(
        tenant=tenant,
        application=auth.application,
        user=user,
        redirect_uri=auth.redirect_uri,
        scopes=auth.scopes,
        nonce=auth.nonce,
        code_challenge=auth.code_challenge,
        auth_time=timezone.now(),
    )
    return _redirect(auth.redirect_uri, {"code": code, "state": auth.state})

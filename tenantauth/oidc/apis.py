"""JSON endpoints of the Auth0 Authentication API under /t/<slug>/: token, sign-up, userinfo,
discovery and JWKS.

Plain Django views rather than DRF views: the token endpoint must see the raw body to cap its
size and refuse duplicated parameters before anything parses it.
"""

import hmac

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from tenantauth import selectors as core_selectors
from tenantauth import text
from tenantauth.http import client_ip
from tenantauth.models import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    Application,
    Tenant,
)
from tenantauth.oidc import claims as claims_table
from tenantauth.oidc import selectors, services, throttling, tokens
from tenantauth.oidc.errors import OAuthError, no_store, oauth_endpoint
from tenantauth.oidc.parsing import basic_credentials, parse_body, require

SUPPORTED_GRANTS = (
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
)
# Profile attributes of Auth0's POST /dbconnections/signup, stored and echoed.
SIGNUP_PROFILE_ATTRIBUTES = ("username", "given_name", "family_name", "name", "nickname", "picture")
# Applications that may sign users in; an API (resource server) is never a client here.
CLIENT_TYPES = (
    Application.AppType.REGULAR_WEB,
    Application.AppType.SPA,
    Application.AppType.NATIVE,
    Application.AppType.M2M,
)


def tenant_or_404(tenant_slug: str) -> Tenant:
    tenant = core_selectors.tenant_get(slug=tenant_slug)
    if tenant is None:
        raise OAuthError("not_found", "Unknown tenant.")
    return tenant


def client_for_sign_in(*, tenant: Tenant, client_id: str) -> Application | None:
    """An active, signing-in application of this tenant; anything else is simply unknown."""
    app = core_selectors.application_get(tenant=tenant, client_id=client_id)
    if app is None or not app.is_active or app.app_type not in CLIENT_TYPES:
        return None
    return app


def _require_method(request, *methods: str) -> None:
    if request.method not in methods:
        raise OAuthError(
            "method_not_allowed",
            f"Use {' or '.join(methods)}.",
            headers={"Allow": ", ".join(methods)},
        )


def _client_credentials(request, *, params: dict) -> tuple[str, str, bool]:
    """(client_id, client_secret, via Basic): client_secret_basic or client_secret_post."""
    basic = basic_credentials(request)
    if basic is not None:
        if "client_secret" in params:
            raise OAuthError("invalid_request", "Use only one client authentication method.")
        if params.get("client_id") not in (None, basic[0]):
            raise OAuthError("invalid_request", "client_id does not match the Basic credentials.")
        return basic[0], basic[1], True
    return require(params, "client_id"), params.get("client_secret", ""), False


def authenticate_client(
    request, *, tenant: Tenant, params: dict, attempt: throttling.Attempt | None = None
) -> Application:
    """client_secret_basic, client_secret_post, or none (public apps, which must use PKCE).

    A secret check reports its outcome to ``attempt`` (the request's throttle reservation,
    taken before the check when a secret is presented).
    """
    client_id, secret, via_basic = _client_credentials(request, params=params)
    failed = OAuthError(
        "invalid_client",
        "Client authentication failed.",
        headers={"WWW-Authenticate": 'Basic realm="oauth"'} if via_basic else None,
    )
    app = client_for_sign_in(tenant=tenant, client_id=client_id)
    request.cors_application = app  # CORS: whose Allowed Web Origins may read the answer
    if app is None:
        if secret and attempt is not None:
            attempt.failed("client")
        raise failed
    if secret:
        if not hmac.compare_digest(secret.encode(), app.client_secret().encode()):
            if attempt is not None:
                attempt.failed("client")
            raise failed
        if attempt is not None:
            attempt.passed("client")
    elif not app.is_public:
        raise failed
    return app


def _token_attempt(request, *, tenant: Tenant, params: dict, grant_type: str):
    """The throttle slots of one token request, reserved in one round trip before any
    credential is checked: the client secret (when one is presented) and the password of the
    password grants."""
    ip = client_ip(request)
    client_id, secret, _ = _client_credentials(request, params=params)
    counters = []
    if secret:
        counters += throttling.client_counters(tenant=tenant, client_id=client_id, ip=ip)
    if grant_type in (GRANT_PASSWORD, GRANT_PASSWORD_REALM) and params.get("username"):
        counters += throttling.password_counters(
            realm=f"t{tenant.pk}", account=params["username"], ip=ip
        )
    return throttling.attempt(counters)


def _json(data: dict, status: int = 200) -> JsonResponse:
    return no_store(JsonResponse(data, status=status))


@csrf_exempt
@oauth_endpoint
def token(request, tenant_slug: str):
    tenant = tenant_or_404(tenant_slug)
    _require_method(request, "POST")
    params = parse_body(request)
    grant_type = require(params, "grant_type")
    with _token_attempt(request, tenant=tenant, params=params, grant_type=grant_type) as attempt:
        return _json(_token_grant(request, tenant=tenant, params=params, attempt=attempt))


def _token_grant(request, *, tenant: Tenant, params: dict, attempt) -> dict:
    grant_type = params["grant_type"]
    application = authenticate_client(request, tenant=tenant, params=params, attempt=attempt)
    if grant_type not in SUPPORTED_GRANTS:
        raise OAuthError("unsupported_grant_type", "Unsupported grant type.")
    if not application.has_grant(grant_type):
        raise OAuthError(
            "unauthorized_client", f"Grant type '{grant_type}' not allowed for the client."
        )
    if grant_type in (GRANT_PASSWORD, GRANT_PASSWORD_REALM):
        if grant_type == GRANT_PASSWORD_REALM:
            connection = selectors.connection_get(tenant=tenant, name=require(params, "realm"))
            if connection is None:
                raise OAuthError("invalid_request", "Unknown realm.")
        else:
            connection = selectors.connection_get(tenant=tenant)
            if connection is None:
                raise OAuthError("invalid_request", "The tenant has no default connection.")
        return services.password_grant(
            tenant=tenant,
            application=application,
            connection=connection,
            username=require(params, "username"),
            password=require(params, "password"),
            scopes=services.scopes_parse(params.get("scope")),
            ip=client_ip(request),
            attempt=attempt,
        )
    if grant_type == GRANT_AUTHORIZATION_CODE:
        return services.authorization_code_exchange(
            tenant=tenant,
            application=application,
            code=require(params, "code"),
            redirect_uri=require(params, "redirect_uri"),
            code_verifier=params.get("code_verifier", ""),
        )
    return services.refresh_token_exchange(
        tenant=tenant,
        application=application,
        token=require(params, "refresh_token"),
        scope=params.get("scope") or None,
    )


@csrf_exempt
@oauth_endpoint(signup=True)
def signup(request, tenant_slug: str):
    tenant = tenant_or_404(tenant_slug)
    _require_method(request, "POST")
    params = parse_body(request, allow_objects=("user_metadata",))
    application = client_for_sign_in(tenant=tenant, client_id=require(params, "client_id"))
    request.cors_application = application
    if application is None:
        raise OAuthError("invalid_client", "Unknown client.")
    email = require(params, "email")
    password = require(params, "password")
    connection = selectors.connection_get(tenant=tenant, name=require(params, "connection"))
    if connection is None:
        raise OAuthError("invalid_connection", "Connection not found.")
    # Counted before the password is hashed, whatever the outcome (SIGNUP_THROTTLE_*).
    throttling.signup_reserve(tenant=tenant, email=email, ip=client_ip(request))
    user = services.tenant_user_signup(
        tenant=tenant,
        connection=connection,
        email=email,
        password=password,
        user_metadata=params.get("user_metadata"),
        profile={name: params[name] for name in SIGNUP_PROFILE_ATTRIBUTES if name in params},
    )
    # Auth0's answer: the stored user, attributes it does not have left out.
    body = {
        "_id": user.user_id.split("|", 1)[-1],
        "email": user.email,
        "email_verified": user.email_verified,
    }
    for name in SIGNUP_PROFILE_ATTRIBUTES:
        if getattr(user, name):
            body[name] = getattr(user, name)
    if user.user_metadata:
        body["user_metadata"] = user.user_metadata
    return _json(body)


@csrf_exempt
@oauth_endpoint
def userinfo(request, tenant_slug: str):
    tenant = tenant_or_404(tenant_slug)
    _require_method(request, "GET", "POST")
    invalid = OAuthError(
        "invalid_token",
        "The access token is missing, invalid or expired.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        raise OAuthError(
            "invalid_token",
            "A Bearer access token is required.",
            headers={"WWW-Authenticate": 'Bearer realm="userinfo"'},
        )
    try:
        claims = tokens.verify_access_token(tenant=tenant, token=value.strip())
    except tokens.InvalidAccessToken as exc:
        raise invalid from exc
    if text.contains_control_characters(claims):  # verified claims obey the text rule too
        raise invalid
    azp = claims.get("azp")
    if isinstance(azp, str):
        request.cors_application = core_selectors.application_get(tenant=tenant, client_id=azp)
    user = core_selectors.tenant_user_get(tenant=tenant, user_id=claims["sub"])
    if user is None or user.blocked:
        raise invalid
    scopes = set(str(claims.get("scope", "")).split())
    return _json({"sub": user.user_id, **tokens.user_claims(user=user, scopes=scopes)})


def _public_json(data: dict) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@oauth_endpoint
def openid_configuration(request, tenant_slug: str):
    tenant = tenant_or_404(tenant_slug)
    _require_method(request, "GET", "HEAD")
    issuer = tenant.issuer
    return _public_json(
        {
            "issuer": issuer,
            "authorization_endpoint": issuer + "authorize",
            "token_endpoint": issuer + "oauth/token",
            "userinfo_endpoint": tokens.userinfo_url(tenant),
            "jwks_uri": issuer + ".well-known/jwks.json",
            "end_session_endpoint": issuer + "oidc/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "web_message"],
            "grant_types_supported": list(SUPPORTED_GRANTS),
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["HS256", "RS256"],
            "subject_types_supported": ["public"],
            "scopes_supported": list(services.SUPPORTED_SCOPES),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "claims_supported": sorted(
                {"aud", "auth_time", "azp", "exp", "iat", "iss", "nonce", "sub"}
                | {claim for claims in claims_table.SCOPE_CLAIMS.values() for claim in claims}
            ),
            "request_uri_parameter_supported": False,
        }
    )


@oauth_endpoint
def jwks(request, tenant_slug: str):
    tenant = tenant_or_404(tenant_slug)
    _require_method(request, "GET", "HEAD")
    keys = [key.public_jwk for key in core_selectors.verification_keys(tenant=tenant)]
    return _public_json({"keys": keys})

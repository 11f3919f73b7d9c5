"""Writes of the sign-in endpoints: sign-up, password checks, authorization codes, token issuance
and refresh-token rotation.

Codes and refresh tokens are stored only as SHA-256 hashes. A code or a refresh token is spent
by a conditional UPDATE inside the transaction that issues its successors, so two concurrent
presentations can never both succeed; the loser is treated as a replay and revokes the family.
"""

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenantauth import services as core_services
from tenantauth.crypto import fingerprint
from tenantauth.models import (
    GRANT_REFRESH_TOKEN,
    Application,
    AuthorizationCode,
    Connection,
    RefreshToken,
    Tenant,
    TenantUser,
)
from tenantauth.oidc import claims, selectors, throttling, tokens
from tenantauth.oidc.errors import OAuthError

SUPPORTED_SCOPES = claims.OIDC_SCOPES
DEFAULT_SCOPE = "openid"
AUTHORIZATION_CODE_LIFETIME = timedelta(seconds=60)
MAX_PASSWORD_CHARS = 128
MAX_METADATA_KEYS = 10
MAX_METADATA_VALUE_CHARS = 500
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")

WRONG_CREDENTIALS = "Wrong email or password."
USER_BLOCKED = "user is blocked"


def refresh_token_lifetime() -> timedelta:
    return timedelta(seconds=getattr(settings, "OIDC_REFRESH_TOKEN_LIFETIME_SECONDS", 30 * 86400))


# --- scopes ----------------------------------------------------------------------------------
def scopes_parse(scope: str | None) -> list[str]:
    """The scopes granted for a request's ``scope`` (space-separated; absent = ``openid``):
    the supported ones, in request order, without duplicates.

    Values we do not support (``address``, ``phone``, an API permission such as
    ``read:messages``) are ignored, not refused: OpenID Connect Core 1.0 section 3.1.2.1
    ("Scope values used that are not understood by an implementation SHOULD be ignored") and
    RFC 6749 section 3.3 (the server may grant less; the token response's ``scope`` says what
    was granted). May return an empty list when nothing requested is supported.
    """
    requested = dict.fromkeys((scope or DEFAULT_SCOPE).split())
    return [value for value in requested if value in SUPPORTED_SCOPES]


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- sign-up ---------------------------------------------------------------------------------
def password_policy_check(*, connection: Connection, password: str, email: str) -> None:
    problems = []
    if len(password) < connection.password_min_length:
        problems.append(
            f"The password must contain at least {connection.password_min_length} characters."
        )
    if len(password) > MAX_PASSWORD_CHARS:
        problems.append(f"The password must contain at most {MAX_PASSWORD_CHARS} characters.")
    try:
        validate_password(password, user=TenantUser(email=email))
    except ValidationError as exc:
        problems.extend(m for m in exc.messages if m not in problems)
    if problems:
        raise OAuthError("invalid_password", "Password is too weak: " + " ".join(problems))


def _clean_user_metadata(user_metadata: dict | None) -> dict:
    metadata = user_metadata or {}
    if len(metadata) > MAX_METADATA_KEYS:
        raise OAuthError("invalid_request", "user_metadata holds at most 10 properties.")
    for key, value in metadata.items():
        if len(key) > 100 or not isinstance(value, str) or len(value) > MAX_METADATA_VALUE_CHARS:
            raise OAuthError(
                "invalid_request",
                "user_metadata values must be strings of at most 500 characters.",
            )
    return metadata


# Auth0's user profile limits for the attributes sign-up accepts (characters).
SIGNUP_NAME_ATTRIBUTES = {"given_name": 150, "family_name": 150, "name": 300, "nickname": 300}
MAX_PICTURE_CHARS = 500
# Auth0's username alphabet, without "@": a username never looks like an email address, so a
# sign-in identifier is unambiguous.
USERNAME_RE = re.compile(r"^[A-Za-z0-9_+\-.!#$'^`~]+$")
_picture_url = URLValidator(schemes=["http", "https"])


def _has_control_characters(value: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value)


def _clean_name_attribute(name: str, value) -> str:
    limit = SIGNUP_NAME_ATTRIBUTES[name]
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > limit
        or _has_control_characters(value)
    ):
        raise OAuthError(
            "invalid_request",
            f"{name} must be a non-blank string of at most {limit} characters "
            "without control characters.",
        )
    return value.strip()


def _clean_picture(value) -> str:
    invalid = OAuthError(
        "invalid_request",
        f"picture must be an http or https URL of at most {MAX_PICTURE_CHARS} characters.",
    )
    if not isinstance(value, str) or len(value) > MAX_PICTURE_CHARS:
        raise invalid
    try:
        _picture_url(value)
    except ValidationError:
        raise invalid from None
    return value


def _clean_username(*, connection: Connection, username) -> str:
    if not connection.requires_username:
        if username is None:
            return ""
        raise OAuthError(
            "invalid_request",
            "username is only accepted by connections that require a username; this one "
            "signs users in by email address.",
        )
    if username is None or username == "":
        raise OAuthError("invalid_request", "Missing required parameter: username")
    low, high = connection.username_min_length, connection.username_max_length
    if not isinstance(username, str) or not (low <= len(username) <= high):
        raise OAuthError(
            "invalid_request", f"username must be between {low} and {high} characters long."
        )
    if not USERNAME_RE.match(username):
        raise OAuthError(
            "invalid_request",
            "username may contain only letters, digits and _ + - . ! # $ ' ^ ` ~.",
        )
    return username.lower()


def signup_profile_clean(*, connection: Connection, attributes: dict) -> dict:
    """The profile attributes of an Auth0 sign-up request, checked, as ``TenantUser`` fields.

    ``attributes`` may hold ``username``, ``given_name``, ``family_name``, ``name``,
    ``nickname`` (strings, Auth0's length limits, no control characters) and ``picture`` (an
    http(s) URL); an absent (or JSON ``null``) attribute is simply not set. ``username`` is
    required by, and only accepted by, a connection with ``requires_username`` (Auth0: "Only
    valid if the connection requires a username"); it is stored in lower case. Raises
    ``OAuthError("invalid_request", <what is wrong>)``.
    """
    fields = {
        "username": _clean_username(connection=connection, username=attributes.get("username"))
    }
    for name in SIGNUP_NAME_ATTRIBUTES:
        if attributes.get(name) is not None:
            fields[name] = _clean_name_attribute(name, attributes[name])
    if attributes.get("picture") is not None:
        fields["picture"] = _clean_picture(attributes["picture"])
    return fields


def tenant_user_signup(
    *,
    tenant: Tenant,
    connection: Connection,
    email: str,
    password: str,
    user_metadata: dict | None = None,
    profile: dict | None = None,
) -> TenantUser:
    """Create a user of a database connection (Auth0 ``POST /dbconnections/signup``).

    ``profile`` holds the request's profile attributes (see ``signup_profile_clean``); they
    are stored and later appear in id_tokens and userinfo per scope. A taken email (or
    username) gets Auth0's opaque ``invalid_signup`` / "Invalid sign up" answer.
    """
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise OAuthError("invalid_signup", "Invalid email address.") from exc
    metadata = _clean_user_metadata(user_metadata)
    fields = signup_profile_clean(connection=connection, attributes=profile or {})
    password_policy_check(connection=connection, password=password, email=email)
    invalid_signup = OAuthError("invalid_signup", "Invalid sign up")
    if selectors.tenant_user_exists(
        tenant=tenant, connection=connection, email=email, username=fields["username"]
    ):
        make_password(password)  # as much work as a real sign-up
        raise invalid_signup
    try:
        with transaction.atomic():
            return core_services.tenant_user_create(
                tenant=tenant,
                email=email,
                password=password,
                connection=connection,
                user_metadata=metadata,
                **fields,
            )
    except (IntegrityError, ValidationError) as exc:  # lost a race for the same email
        raise invalid_signup from exc


# --- passwords -------------------------------------------------------------------------------
def user_authenticate(
    *,
    tenant: Tenant,
    connection: Connection,
    email: str,
    password: str,
    ip: str,
    attempt: throttling.Attempt | None = None,
) -> TenantUser:
    """Check an email and password under the password throttle (``throttling``).

    ``attempt`` is the caller's reservation when it covers more than this check (the token
    endpoint reserves client and password slots in one round trip); without one, slots are
    reserved here, before anything is looked up or hashed. Raises ``throttling.Throttled``
    (429) when a counter is full, ``limiter.LimiterUnavailable`` (503) when the counters cannot
    be reached, ``OAuthError("invalid_grant")`` for wrong credentials.

    An unknown email costs the same password hashing as a known one, and answers the same.
    A blocked user is told so only after giving the right password.
    """
    if attempt is None:
        with throttling.attempt(
            throttling.password_counters(realm=f"t{tenant.pk}", account=email, ip=ip)
        ) as own:
            return _password_check(
                tenant=tenant, connection=connection, email=email, password=password, attempt=own
            )
    return _password_check(
        tenant=tenant, connection=connection, email=email, password=password, attempt=attempt
    )


def _password_check(
    *, tenant: Tenant, connection: Connection, email: str, password: str, attempt
) -> TenantUser:
    user = selectors.tenant_user_get_by_email(tenant=tenant, connection=connection, email=email)
    if user is None:
        make_password(password)  # the same hashing work as checking a real password
        valid = False
    else:
        valid = check_password(
            password,
            user.password,
            setter=lambda raw: core_services.tenant_user_set_password(user=user, password=raw),
        )
    if not valid:
        attempt.failed("password")
        raise OAuthError("invalid_grant", WRONG_CREDENTIALS)
    attempt.passed("password")
    if user.blocked:
        raise OAuthError("invalid_grant", USER_BLOCKED)
    TenantUser.objects.filter(tenant=tenant, pk=user.pk).update(last_login=timezone.now())
    return user


# --- token issuance --------------------------------------------------------------------------
def _refresh_token_create(
    *,
    tenant: Tenant,
    application: Application,
    user: TenantUser,
    scope: str,
    family: uuid.UUID,
    expires_at: datetime,
) -> str:
    token = secrets.token_urlsafe(48)
    row = RefreshToken(
        tenant=tenant,
        application=application,
        user=user,
        token_hash=fingerprint(token),
        family=family,
        scope=scope,
        expires_at=expires_at,
    )
    row.validate_same_tenant()  # application and user of this tenant (no query: both loaded)
    row.save(force_insert=True)
    return token


def tokens_issue(
    *,
    tenant: Tenant,
    application: Application,
    user: TenantUser,
    scopes: list[str],
    auth_time: datetime | None,
    nonce: str = "",
    family: uuid.UUID | None = None,
    refresh_expires_at: datetime | None = None,
    refresh_scope: str | None = None,
) -> dict:
    """The token response: access_token, id_token (openid), refresh_token (offline_access).

    ``refresh_scope`` keeps a rotated grant's original scope when the request narrowed it.
    Call inside a transaction: the refresh-token row and the response stand or fall together.
    """
    with_refresh = "offline_access" in scopes and application.has_grant(GRANT_REFRESH_TOKEN)
    granted = [s for s in scopes if s != "offline_access" or with_refresh]
    scope = " ".join(granted)
    now = int(time.time())
    response = {
        "access_token": tokens.access_token_build(
            tenant=tenant, application=application, user=user, scope=scope, now=now
        ),
        "token_type": "Bearer",
        "expires_in": tokens.access_token_lifetime(),
        "scope": scope,
    }
    if "openid" in granted:
        response["id_token"] = tokens.id_token_build(
            tenant=tenant,
            application=application,
            user=user,
            scopes=set(granted),
            now=now,
            auth_time=auth_time,
            nonce=nonce,
        )
    if with_refresh:
        response["refresh_token"] = _refresh_token_create(
            tenant=tenant,
            application=application,
            user=user,
            scope=refresh_scope or scope,
            family=family or uuid.uuid4(),
            expires_at=refresh_expires_at or timezone.now() + refresh_token_lifetime(),
        )
    return response


@transaction.atomic
def password_grant(
    *,
    tenant: Tenant,
    application: Application,
    connection: Connection,
    username: str,
    password: str,
    scopes: list[str],
    ip: str,
    attempt: throttling.Attempt | None = None,
) -> dict:
    user = user_authenticate(
        tenant=tenant,
        connection=connection,
        email=username,
        password=password,
        ip=ip,
        attempt=attempt,
    )
    return tokens_issue(
        tenant=tenant,
        application=application,
        user=user,
        scopes=scopes,
        auth_time=timezone.now(),
    )


# --- authorization codes ---------------------------------------------------------------------
def authorization_code_create(
    *,
    tenant: Tenant,
    application: Application,
    user: TenantUser,
    redirect_uri: str,
    scopes: list[str],
    nonce: str,
    code_challenge: str,
    auth_time: datetime,
) -> str:
    """A fresh one-time code; only its hash is stored."""
    code = secrets.token_urlsafe(32)
    row = AuthorizationCode(
        tenant=tenant,
        application=application,
        user=user,
        code_hash=fingerprint(code),
        redirect_uri=redirect_uri,
        scope=" ".join(scopes),
        nonce=nonce,
        code_challenge=code_challenge,
        auth_time=auth_time,
        expires_at=timezone.now() + AUTHORIZATION_CODE_LIFETIME,
    )
    row.validate_same_tenant()  # application and user of this tenant (no query: both loaded)
    row.save(force_insert=True)
    return code


def _family_revoke(*, tenant: Tenant, family: uuid.UUID) -> int:
    live = RefreshToken.objects.filter(tenant=tenant, family=family, revoked_at__isnull=True)
    return live.update(revoked_at=timezone.now())


def authorization_code_exchange(
    *,
    tenant: Tenant,
    application: Application,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> dict:
    """Redeem a code once. A replayed code is refused and its refresh tokens are revoked."""
    invalid = OAuthError("invalid_grant", "Invalid authorization code.")
    row = selectors.authorization_code_get(tenant=tenant, application=application, code=code)
    if row is None:
        raise invalid
    if row.used_at is not None:
        _family_revoke(tenant=tenant, family=row.refresh_token_family)
        raise invalid
    if row.expires_at <= timezone.now():
        raise invalid
    if redirect_uri != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    if row.code_challenge:
        if not PKCE_VERIFIER.match(code_verifier or ""):
            raise OAuthError("invalid_grant", "Invalid code_verifier.")
        if not hmac.compare_digest(pkce_s256(code_verifier), row.code_challenge):
            raise OAuthError("invalid_grant", "Invalid code_verifier.")
    elif code_verifier:
        raise OAuthError("invalid_grant", "Invalid code_verifier.")
    elif application.is_public:  # defence in depth: authorize never issues these
        raise invalid
    if row.user.blocked:
        raise OAuthError("invalid_grant", USER_BLOCKED)
    with transaction.atomic():
        claimed = AuthorizationCode.objects.filter(
            tenant=tenant, pk=row.pk, used_at__isnull=True
        ).update(used_at=timezone.now())
        if claimed:
            return tokens_issue(
                tenant=tenant,
                application=application,
                user=row.user,
                scopes=row.scope.split(),
                auth_time=row.auth_time,
                nonce=row.nonce,
                family=row.refresh_token_family,
            )
    # Another request spent the code first: a replay.
    _family_revoke(tenant=tenant, family=row.refresh_token_family)
    raise invalid


# --- refresh tokens --------------------------------------------------------------------------
def refresh_token_exchange(
    *,
    tenant: Tenant,
    application: Application,
    token: str,
    scope: str | None,
) -> dict:
    """Rotate a refresh token. Presenting a rotated token revokes its whole family."""
    invalid = OAuthError("invalid_grant", "Unknown or invalid refresh token.")
    row = selectors.refresh_token_get(tenant=tenant, application=application, token=token)
    if row is None or row.revoked_at is not None:
        raise invalid
    if row.rotated_at is not None:
        _family_revoke(tenant=tenant, family=row.family)
        raise invalid
    if row.expires_at <= timezone.now():
        raise invalid
    if row.user.blocked:
        raise OAuthError("invalid_grant", USER_BLOCKED)
    granted = row.scope.split()
    scopes = scopes_parse(scope) if scope else granted
    if not set(scopes) <= set(granted):
        raise OAuthError("invalid_scope", "The scope exceeds the one originally granted.")
    if "offline_access" not in scopes:
        scopes.append("offline_access")  # rotation always hands back a successor
    with transaction.atomic():
        claimed = RefreshToken.objects.filter(
            tenant=tenant, pk=row.pk, rotated_at__isnull=True, revoked_at__isnull=True
        ).update(rotated_at=timezone.now())
        if claimed:
            return tokens_issue(
                tenant=tenant,
                application=application,
                user=row.user,
                scopes=scopes,
                auth_time=selectors.refresh_family_started_at(tenant=tenant, family=row.family),
                family=row.family,
                refresh_expires_at=row.expires_at,
                refresh_scope=row.scope,  # a narrower request never shrinks the grant itself
            )
    _family_revoke(tenant=tenant, family=row.family)
    raise invalid

"""Settings for the whole project, read from the environment through django-environ.

Two modes:

* development (``DJANGO_ENV`` unset or ``development``): works with no environment at all.
  Missing secrets are generated once and kept in ``.dev-secrets.json`` (git-ignored) so the
  SQLite database stays readable across runs.
* production (``DJANGO_ENV=production``): every secret must come from the environment, or the
  process refuses to start.
"""

import json
import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
PRODUCTION = DJANGO_ENV == "production"


def _dev_secret(name: str, make) -> str:
    """Return a development-only secret, generated once and kept out of the repository."""
    path = BASE_DIR / ".dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        stored[name] = make()
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored[name]


def _required(name: str, make, cast=str):
    # An empty or blank variable counts as missing: ``SECRET_KEY=`` must not start a server.
    raw = env.str(name, default="").strip()
    if raw:
        return [item.strip() for item in raw.split(",") if item.strip()] if cast is list else raw
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production.")
    value = _dev_secret(name, make)
    return [value] if cast is list else value


def _check_fernet_keys(keys: list[str]) -> list[str]:
    """Fail at start-up, not at the first encrypt, and never echo the key in the message."""
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return keys


SECRET_KEY = _required("SECRET_KEY", lambda: secrets.token_urlsafe(50))
# Field-encryption keys: the first one encrypts, every one decrypts (MultiFernet).
FIELD_ENCRYPTION_KEYS = _check_fernet_keys(
    _required("FIELD_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode(), cast=list)
)

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production.")

# The tenant issuer is PUBLIC_BASE_URL + "/t/<slug>/", an exact string. In development it
# follows PORT (``make run PORT=8101`` exports it), so issuer, discovery and printed links name
# the port the server listens on; PUBLIC_BASE_URL, when set, wins.
_port = env.str("PORT", default="").strip() or "8000"
if not _port.isdigit() or not 0 < int(_port) < 65536:
    raise ImproperlyConfigured("PORT must be a TCP port number (1-65535).")
PORT = int(_port)
PUBLIC_BASE_URL = env.str(
    "PUBLIC_BASE_URL", default="" if PRODUCTION else f"http://127.0.0.1:{PORT}"
).rstrip("/")
if PRODUCTION and not PUBLIC_BASE_URL:
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be set when DJANGO_ENV=production.")

INSTALLED_APPS = [
    "tenantauth.apps.TenantAuthAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "tenantauth.apps.TenantAuthConfig",
    "delegation.apps.DelegationConfig",
    "addons.apps.AddonsConfig",
]

MIDDLEWARE = [
    # First: it answers CORS preflights before anything else can refuse them.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenantauth.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The token endpoints' own, shorter list (tenantauth.wsgi): CORS and HTTPS/HSTS/nosniff only.
API_MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
]
API_PATHS = r"^/t/[-a-zA-Z0-9_]+/(?:oauth/token|delegation|userinfo|dbconnections/signup)$"

ROOT_URLCONF = "tenantauth.urls"
WSGI_APPLICATION = "tenantauth.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets readers run beside one writer; IMMEDIATE takes the write lock when a
        # transaction starts, so two writers queue on the busy timeout instead of deadlocking.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
    # Server-side prepared statements for the hot statements (tenantauth.sql.hot_cursor):
    # psycopg prepares a statement on a connection after it ran this many times there. Set
    # DATABASE_PREPARE_THRESHOLD to an empty value behind a transaction-pooling PgBouncer
    # older than 1.21 (or without max_prepared_statements): a prepared statement lives in one
    # server session, which such a pooler does not keep for a client (README, "PgBouncer").
    _prepare = env.str("DATABASE_PREPARE_THRESHOLD", default="5").strip()
    _db["OPTIONS"].setdefault("prepare_threshold", int(_prepare) if _prepare else None)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits and login throttling live here) ------------------------------------
# Only the limiter (tenantauth.limiter) uses the cache. Short socket timeouts and no retries:
# a hung Redis costs one timeout, after which the limiter's circuit breaker answers at once
# (503 with Retry-After) for CACHE_BREAKER_COOLOFF_SECONDS before it probes again.
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_SOCKET_CONNECT_TIMEOUT = env.float("CACHE_SOCKET_CONNECT_TIMEOUT", default=0.25)
CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=0.5)
CACHE_BREAKER_COOLOFF_SECONDS = env.float("CACHE_BREAKER_COOLOFF_SECONDS", default=5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tenantauth",
            "OPTIONS": {
                "socket_connect_timeout": CACHE_SOCKET_CONNECT_TIMEOUT,
                "socket_timeout": CACHE_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Throttles of credential checks and sign-ups (tenantauth.oidc.throttling): attempts per
# fixed window. Password checks (hosted login, oauth/token password grants, /admin/login/):
# per account at one address (Auth0's 10 consecutive failures), per account from anywhere,
# per address across accounts. Client-secret checks: per client at one address. Sign-ups:
# per address and per e-mail.
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=15 * 60)
LOGIN_THROTTLE_USER_IP = env.int("LOGIN_THROTTLE_USER_IP", default=10)
LOGIN_THROTTLE_USER = env.int("LOGIN_THROTTLE_USER", default=50)
LOGIN_THROTTLE_IP = env.int("LOGIN_THROTTLE_IP", default=100)
CLIENT_AUTH_THROTTLE_CLIENT_IP = env.int("CLIENT_AUTH_THROTTLE_CLIENT_IP", default=10)
SIGNUP_THROTTLE_WINDOW_SECONDS = env.int("SIGNUP_THROTTLE_WINDOW_SECONDS", default=3600)
SIGNUP_THROTTLE_IP = env.int("SIGNUP_THROTTLE_IP", default=20)
SIGNUP_THROTTLE_EMAIL = env.int("SIGNUP_THROTTLE_EMAIL", default=5)

# --- Auth / sessions -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Static files (served locally, no CDN) -------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
if not PRODUCTION:
    STATIC_ROOT.mkdir(
        exist_ok=True
    )  # WhiteNoise expects it; `collectstatic` fills it in production
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# --- CORS (django-cors-headers) --------------------------------------------------------------
# Only the token endpoints a browser SDK calls, and only for origins an application of the
# tenant allows: the per-request decision is tenantauth.oidc.cors.cors_request_allowed.
# Discovery and JWKS answer "Access-Control-Allow-Origin: *" themselves.
CORS_URLS_REGEX = (
    r"^/t/(?P<slug>[-a-zA-Z0-9_]+)/(?:oauth/token|delegation|userinfo|dbconnections/signup)$"
)
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_ALL_ORIGINS = False
CORS_ALLOW_CREDENTIALS = False  # the SDKs send no cookies here; never "*" with credentials
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
# What the SDKs send: auth0-js and auth0-spa-js add Auth0-Client (telemetry).
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "auth0-client")
CORS_EXPOSE_HEADERS = (
    "Retry-After",
    "WWW-Authenticate",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
CORS_PREFLIGHT_MAX_AGE = 600

# --- Delegation ----------------------------------------------------------------------------
# Body cap for the token endpoints, well below Django's 2.5 MB.
DELEGATION_MAX_BODY_BYTES = env.int("DELEGATION_MAX_BODY_BYTES", default=64 * 1024)
# How many reverse proxies in front of us append to X-Forwarded-For. 0 = trust the socket.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# How long a process may keep a tenant's delegation configuration (delegation.config_cache);
# it is checked against Redis on every request anyway, this only bounds a lost invalidation.
# 0 turns the cache off. Without REDIS_URL nothing is cached.
DELEGATION_CONFIG_CACHE_SECONDS = env.float("DELEGATION_CONFIG_CACHE_SECONDS", default=30)
# Clock leeway when checking exp/iat/nbf of incoming tokens, and the oldest id_token accepted.
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=30)
MAX_ID_TOKEN_AGE_SECONDS = env.int("MAX_ID_TOKEN_AGE_SECONDS", default=30 * 24 * 3600)

# --- Outbound calls to providers' token services (AWS STS, Salesforce, SAP) ----------------
# tenantauth.outbound: one total deadline per call, a connect cap, a response size cap, TLS
# verified with certifi's CA bundle or this PEM file. Private networks (loopback, RFC 1918,
# link-local, http) are reachable only when allowed: development and tests, never production.
OUTBOUND_TIMEOUT_SECONDS = env.float("OUTBOUND_TIMEOUT_SECONDS", default=5.0)
OUTBOUND_CONNECT_TIMEOUT_SECONDS = env.float("OUTBOUND_CONNECT_TIMEOUT_SECONDS", default=2.0)
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=256 * 1024)
OUTBOUND_CA_BUNDLE = env.str("OUTBOUND_CA_BUNDLE", default="")
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env.bool(
    "OUTBOUND_ALLOW_PRIVATE_NETWORKS", default=not PRODUCTION
)

# --- Logging: one line per event, no control characters from user input -------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"single_line": {"()": "tenantauth.logging.SingleLineFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["single_line"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default configuration gives "django" its own console handler; records
        # also propagate to the root's, so each line was printed twice ("Watching for file
        # changes ..."). Our handler alone prints them. ("django.server", the request log of
        # runserver, keeps Django's handler and does not propagate.)
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # httpx/httpcore log each outbound request (URL, status) at INFO/DEBUG; the seam
        # (tenantauth.outbound) decides what is logged about a provider call.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
    },
}

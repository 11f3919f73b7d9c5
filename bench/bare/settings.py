"""The bare reference project: only what an ideal delegation view (and django-oauth-toolkit's
token endpoint) needs. No project code, no middleware, no sessions, no admin.

Served by its own gunicorn next to the project, on the same PostgreSQL database (its own
tables: ``bench_bare_*`` and ``oauth2_provider_*``), so ``bench/delegation.py`` compares both
in one run on equal terms.
"""

import os

import environ

env = environ.Env()

SECRET_KEY = "bench-bare-not-a-secret"  # noqa: S105 - signs nothing; the bench is local only
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "oauth2_provider",
    "bench.bare",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.urls"
WSGI_APPLICATION = "bench.bare.wsgi.application"
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
TEMPLATES: list = []
OAUTH2_PROVIDER = {"ACCESS_TOKEN_EXPIRE_SECONDS": 3600}
# The RS256 reference signs with a key read once per process, as an ideal project would.
BARE_RSA_PRIVATE_KEY_FILE = os.environ.get("BARE_RSA_PRIVATE_KEY_FILE", "")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING"},
}

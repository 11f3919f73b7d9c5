"""Benchmark settings: the project's settings plus the reference view's URL."""

from tenantauth.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

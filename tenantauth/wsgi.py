"""The WSGI application: two Django handlers, one per kind of route.

Token endpoints (``settings.API_PATHS``: ``/t/<slug>/delegation``, ``oauth/token``,
``userinfo``, ``dbconnections/signup``) run through ``settings.API_MIDDLEWARE``: CORS and
Django's SecurityMiddleware (HTTPS redirect, HSTS, nosniff) only. They use no session, CSRF
token (they are csrf-exempt), authenticated user or messages, and answer JSON, so the page
middleware (sessions, CSRF, auth, messages, CSP and frame headers, static files) would be pure
per-request cost there (about 120 us of CPU per request, measured in issue 13). Every other
path (admin, hosted login, discovery, static files) runs through the full ``MIDDLEWARE``.
Django's test client always uses the full list; ``tests/tenantauth/test_wsgi.py`` drives this
application itself.
"""

import os
import re

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenantauth.settings")

pages = get_wsgi_application()  # sets Django up


class ApiHandler(WSGIHandler):
    """Django's WSGI handler with ``settings.API_MIDDLEWARE`` as its middleware chain."""

    def load_middleware(self, is_async=False):
        from django.conf import settings

        # BaseHandler reads the list from settings; swap it for the time of loading only
        # (once, at start-up, before any request is served).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full


def _build():
    from django.conf import settings

    api = ApiHandler()
    api_paths = re.compile(settings.API_PATHS)

    def application(environ, start_response):
        handler = api if api_paths.match(environ.get("PATH_INFO", "")) else pages
        return handler(environ, start_response)

    return application


application = _build()

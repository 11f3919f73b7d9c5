"""Real client libraries against the real service on loopback, nothing mocked.

* ``server``: pytest-django's live server, with the tenant issuer (``PUBLIC_BASE_URL``)
  pointing at it (``http://localhost:<port>``).
* ``static_origin``: a second loopback server on another port, so another *origin* (same
  site, as a SPA on its own host next to its identity service): it serves the SDKs' bundles
  from ``tests/node/node_modules`` (installed by ``make test`` from the lockfile, never a CDN)
  and the test pages of ``tests/interop/pages``.
* ``browser``: a fresh Chromium context per test, in the session's one Chromium
  (``tests/chromium.py``).
* ``interop``: tenant A of the shared fixtures, with a public SPA application ("spa",
  RS256) whose callback pages and Allowed Web Origin are on the static origin, and apiC
  allowing it.
"""

import gc
import os
import posixpath
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from django.db import connections

from tenantauth import services
from tenantauth.models import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_DELEGATION_ID_TOKEN,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    Application,
)

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
NODE_MODULES = HERE.parent / "node" / "node_modules"
REALM = "Username-Password-Authentication"


def _required(what: str):
    if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"{what} is missing (make test installs it)")
    pytest.skip(f"{what} is missing (make test installs it)")


class _StaticHandler(SimpleHTTPRequestHandler):
    """/node_modules/... from tests/node/node_modules, /pages/... from tests/interop/pages;
    nothing else, nothing outside those folders."""

    roots = {"/node_modules/": NODE_MODULES, "/pages/": PAGES}

    def translate_path(self, path):
        path = unquote(urlsplit(path).path)
        for prefix, root in self.roots.items():
            if path.startswith(prefix):
                relative = posixpath.normpath(path[len(prefix) :])
                if relative.startswith(("..", "/")):
                    break
                return str(root / relative)
        return str(HERE / "no-such-file")

    def do_GET(self):  # noqa: N802 - the base class's name
        if self.path == "/favicon.ico":  # browsers ask for it; an answer keeps consoles clean
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def static_origin():
    """``http://localhost:<port>``: the origin the SDK pages run on."""
    if not (NODE_MODULES / "@auth0" / "auth0-spa-js").is_dir():
        _required(f"{NODE_MODULES} (npm ci in tests/node)")
    httpd = ThreadingHTTPServer(("localhost", 0), _StaticHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def _drain_live_server(live_server):
    """At the end of the session, before the live server stops: collect forgotten client
    sockets and let the server's request threads finish while the in-memory SQLite
    connection they share is still theirs (otherwise they close it from a foreign thread)."""
    yield
    gc.collect()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=10)


@pytest.fixture
def server(live_server, _drain_live_server, settings, monkeypatch):
    """The live server's URL, with every tenant issuer under it. Server threads close their
    database connection after each request, so no kept-alive socket holds one past the test."""
    settings.PUBLIC_BASE_URL = live_server.url
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback only, no TLS
    return live_server.url


@pytest.fixture(autouse=True)
def _close_http_sessions(monkeypatch):
    """Close every requests session a test opens (Authlib's clients are sessions), ending its
    keep-alive sockets so the live server's threads (and their database connections) end
    with the test, as tests/e2e does."""
    opened = []
    original = requests.Session.__init__

    def tracking_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(requests.Session, "__init__", tracking_init)
    yield
    for session in opened:
        session.close()


@pytest.fixture
def interop(server, static_origin, transactional_db, tenant_a):
    """Tenant A set up for the SDKs (see the module docstring)."""
    setup = dict(tenant_a)
    tenant = setup["tenant"]
    pages = [f"{static_origin}/pages/{name}" for name in ("spa.html", "oidc.html", "callback.html")]
    spa = services.application_create(
        tenant=tenant,
        name="spa",
        app_type=Application.AppType.SPA,
        grant_types=[
            GRANT_AUTHORIZATION_CODE,
            GRANT_REFRESH_TOKEN,
            GRANT_PASSWORD_REALM,
            GRANT_DELEGATION_ID_TOKEN,
        ],
        callback_urls=pages,
        allowed_origins=[static_origin],
        allowed_logout_urls=[f"{static_origin}/pages/callback.html"],
    )
    services.application_update(
        application=setup["appA"],
        callback_urls=[f"{static_origin}/pages/callback.html"],
        allowed_logout_urls=[f"{static_origin}/pages/callback.html"],
    )
    services.application_update(
        application=setup["apiC"],
        allowed_clients=[setup["appA"].client_id, setup["appB"].client_id, spa.client_id],
    )
    setup.update(
        spa=spa,
        server=server,
        static=static_origin,
        domain=f"{server}/t/{tenant.slug}",  # what the SDKs call "domain"
        issuer=tenant.issuer,
    )
    return setup


@pytest.fixture
def browser(chromium):
    """A fresh context (no cookies, no storage) per test; page errors are collected in
    ``page.problems``."""
    context = chromium.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))

    def console(msg):
        url = msg.location.get("url", "")
        # Chromium asks every origin for /favicon.ico on its own; that 404 is nobody's error.
        if msg.type == "error" and not url.endswith("/favicon.ico"):
            page.problems.append(f"{msg.text} {url}")

    page.on("console", console)
    page.on(
        "response",
        lambda r: page.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    yield page
    context.close()


def sign_in_on_hosted_page(page, setup):
    """Fill in and submit the hosted login page the browser is on."""
    page.wait_for_selector("#id_email")
    page.fill("#id_email", setup["user"].email)
    from tests.conftest import USER_PASSWORD

    page.fill("#id_password", USER_PASSWORD)
    page.click("button[type=submit]")

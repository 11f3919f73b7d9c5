"""Local stand-ins for the providers' token services, for development and tests only.

``manage.py addons_devserver`` serves them (with moto's STS) for the demo's ``addonsDemo``;
the tests start their own. Both need the test extras (``pip install -e '.[test]'``: Authlib,
moto); nothing in the product imports this module.

* ``SalesforceTokenEndpoint``: an RFC 7523 token endpoint built with Authlib
  (``JWTBearerGrant`` on an ``AuthorizationServer``): it knows one connected app (consumer
  key + the certificate's public key), its audiences and a set of usernames, and answers a
  Salesforce-shaped token (``access_token``, ``instance_url``, ``id``, ``token_type``).
* ``SapTokenEndpoint``: checks HTTP Basic ``client_id:password`` and records each form it
  receives; answers a bearer token.

They listen on 127.0.0.1 (a free port unless one is given) in a thread and stop when the
``with`` block ends.
"""

import base64
import json
import os
import secrets
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerGrant
from joserfc.jwk import RSAKey

# Authlib refuses plain http unless told this is a test.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


class LoopbackServer:
    """A ThreadingHTTPServer on loopback whose requests go to ``self.handle(handler)``."""

    def __init__(self, *, tls: tuple[str, str] | None = None, port: int = 0):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's naming
                owner.handle(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.scheme = "http"
        if tls is not None:  # (certificate PEM path, key PEM path)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.requests: list[dict] = []
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def read(handler) -> tuple[bytes, dict]:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        return body, {k.lower(): v for k, v in handler.headers.items()}

    @staticmethod
    def answer(handler, status: int, body: bytes, headers: dict | None = None):
        handler.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def handle(self, handler):
        raise NotImplementedError


# --- Salesforce: Authlib's RFC 7523 grant -------------------------------------------------------
class _Client:
    def __init__(self, client_id: str, public_key_pem: str):
        self.client_id = client_id
        self.public_key_pem = public_key_pem

    def check_grant_type(self, grant_type):
        return grant_type == JWTBearerGrant.GRANT_TYPE

    def get_allowed_scope(self, scope):
        return scope or ""


class _FormRequest(OAuth2Request):
    def __init__(self, method, uri, form, headers):
        super().__init__(method, uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def args(self):
        return {}

    @property
    def form(self):
        return self._form


class SalesforceTokenEndpoint(LoopbackServer):
    """``POST /services/oauth2/token`` with Authlib's ``JWTBearerGrant``: the signature is
    checked with ``public_key_pem`` for ``consumer_key`` only, ``aud`` must be ``audience`` (or
    one of a list),
    ``exp`` must be present and not past (Authlib's leeway set to 0 here), ``sub`` must be one
    of ``usernames``."""

    def __init__(
        self, *, consumer_key: str, public_key_pem: str, audience, usernames, port: int = 0
    ):
        super().__init__(port=port)
        audiences = [audience] if isinstance(audience, str) else list(audience)
        self.issued: list[dict] = []
        clients = {consumer_key: _Client(consumer_key, public_key_pem)}
        users = set(usernames)
        endpoint = self

        class Grant(JWTBearerGrant):
            LEEWAY = 0
            CLAIMS_OPTIONS = {
                "iss": {"essential": True},
                "aud": {"essential": True},
                "exp": {"essential": True},
                "sub": {"essential": True},
            }

            def resolve_issuer_client(self, issuer):
                return clients.get(issuer)

            def resolve_client_public_key(self, client):
                return RSAKey.import_key(client.public_key_pem)

            def authenticate_user(self, subject):
                return subject if subject in users else None

            def get_audiences(self):
                return audiences

            def has_granted_permission(self, client, user):
                return True

        class Server(AuthorizationServer):
            def query_client(self, client_id):
                return clients.get(client_id)

            def save_token(self, token, request):
                endpoint.issued.append(token)

            def create_oauth2_request(self, request):
                return request

            def handle_response(self, status, body, headers):
                return status, body, headers

            def send_signal(self, name, *args, **kwargs):
                pass

        self.server = Server()
        self.server.register_grant(Grant)

        def bearer(grant_type, client, user=None, scope=None, **kwargs):
            return {
                "access_token": "00D" + secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "scope": "api",
                "instance_url": "https://acme.my.salesforce.com",
                "id": f"https://login.salesforce.com/id/00Dxx/{user}",
                "issued_at": str(int(time.time() * 1000)),
            }

        self.server.register_token_generator("default", bearer)

    @property
    def token_url(self) -> str:
        return f"{self.base}/services/oauth2/token"

    def handle(self, handler):
        body, headers = self.read(handler)
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        self.requests.append({"path": handler.path, "form": form, "headers": headers})
        request = _FormRequest("POST", f"{self.base}{handler.path}", form, headers)
        status, answer, answer_headers = self.server.create_token_response(request)
        self.answer(handler, status, json.dumps(answer).encode())


# --- SAP: HTTP Basic and the RFC 7522 form ------------------------------------------------------
class SapTokenEndpoint(LoopbackServer):
    """Answers 401 ``invalid_client`` unless HTTP Basic carries ``client_id:password``; records
    every form (``requests``) and answers a bearer token."""

    def __init__(self, *, client_id: str, password: str, port: int = 0):
        super().__init__(port=port)
        self.expected = "Basic " + base64.b64encode(f"{client_id}:{password}".encode()).decode()

    @property
    def token_url(self) -> str:
        return f"{self.base}/oauth/token"

    def handle(self, handler):
        body, headers = self.read(handler)
        form = {k: v for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        self.requests.append({"path": handler.path, "form": form, "headers": headers})
        if headers.get("authorization") != self.expected:
            answer = {"error": "invalid_client", "error_description": "Bad credentials"}
            self.answer(handler, 401, json.dumps(answer).encode())
            return
        answer = {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "bearer",
            "expires_in": 43199,
            "scope": " ".join(v[0] for k, v in form.items() if k == "scope"),
        }
        self.answer(handler, 200, json.dumps(answer).encode())

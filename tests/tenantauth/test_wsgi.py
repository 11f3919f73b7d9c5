"""The WSGI application gunicorn serves: token endpoints on the short API middleware list,
pages on the full one (tenantauth.wsgi). Django's test client always runs the full list, so
these drive the WSGI application itself."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from tenantauth.wsgi import application


def _call(method: str, path: str, body: bytes = b"", **headers) -> tuple[str, dict, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json" if body else "",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        **headers,
    }
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = status
        answer["headers"] = {}
        for name, value in response_headers:
            answer["headers"].setdefault(name.lower(), []).append(value)

    result = application(environ, start_response)
    content = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return answer["status"], answer["headers"], content


@pytest.mark.django_db(transaction=True)
def test_token_endpoint_runs_on_the_api_middleware_list(tenant_a):
    """/delegation answers through CORS + SecurityMiddleware only: nosniff, no page headers
    (CSP, frame options), no session or CSRF cookie; the answer itself is the endpoint's."""
    body = json.dumps({"client_id": "nobody", "grant_type": "x"}).encode()
    status, headers, content = _call("POST", f"/t/{tenant_a['tenant'].slug}/delegation", body)
    assert status.startswith("4"), (status, content)
    assert json.loads(content)["error"]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert headers["cache-control"] == ["no-store"]
    assert "content-security-policy" not in headers
    assert "x-frame-options" not in headers
    assert "set-cookie" not in headers


@pytest.mark.django_db(transaction=True)
def test_pages_keep_the_full_middleware_list():
    """The admin's sign-in page keeps CSP, frame options and the opener policy."""
    status, headers, _ = _call("GET", "/admin/login/")
    assert status.startswith("200")
    assert headers["content-security-policy"][0].startswith("default-src 'self'")
    assert headers["x-frame-options"] == ["DENY"]
    assert headers["cross-origin-opener-policy"] == ["same-origin"]

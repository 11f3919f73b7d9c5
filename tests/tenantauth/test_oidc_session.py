"""The hosted-login session, prompt=none, response_mode=web_message and v2/logout (issue 7
fault 8), with Django's test client. The same flows in Chromium with auth0-spa-js are in
tests/interop/test_browser_sdks.py."""

import json
import re
import time
from urllib.parse import urlencode

import pytest
import time_machine

from tenantauth import services as core_services
from tenantauth.models import AuthorizationCode
from tests.tenantauth.oidc_support import (
    CALLBACK,
    authorize_params,
    login_for_code,
    pkce_pair,
    query_of,
)

pytestmark = pytest.mark.django_db
CALLBACK_ORIGIN = "http://127.0.0.1:9999"


def _url(setup):
    return f"/t/{setup['tenant'].slug}/authorize"


def _silent(client, setup, app_name="appA", **extra):
    params = authorize_params(setup[app_name], challenge=pkce_pair()[1], prompt="none", **extra)
    return client.get(_url(setup), params), params


def _web_message_response(response) -> dict:
    """The response a web_message page posts, and checks of how it posts it."""
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(
        r'<script id="authorization-response" type="application/json">(.*?)</script>',
        html,
        re.S,
    )
    assert match, html[:500]
    assert f'data-target-origin="{CALLBACK_ORIGIN}"' in html
    assert '<script src="/static/oidc/web_message.js"></script>' in html
    assert "<script>" not in html  # no inline script
    assert response["Content-Security-Policy"].endswith(f"frame-ancestors {CALLBACK_ORIGIN}")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response
    assert response["Cache-Control"] == "no-store"
    return json.loads(match.group(1))


def test_prompt_none_without_session_is_login_required_at_once(client, tenant_a):
    """No hosted-login session: prompt=none redirects login_required with the state, fast."""
    started = time.monotonic()
    response, params = _silent(client, tenant_a)
    assert time.monotonic() - started < 1
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert query["error"] == "login_required" and query["state"] == params["state"]
    assert not AuthorizationCode.objects.exists()


def test_prompt_none_with_session_returns_a_code_without_the_page(client, tenant_a):
    """After a sign-in on the hosted page, prompt=none issues a code at once (no page), with
    the original auth_time; the code works at the token endpoint."""
    login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    first = AuthorizationCode.objects.get()
    response, params = _silent(client, tenant_a)
    assert response.status_code == 302, response.content[:300]
    query = query_of(response["Location"])
    assert query["state"] == params["state"] and query["code"]
    second = AuthorizationCode.objects.exclude(pk=first.pk).get()
    assert second.auth_time == first.auth_time


def test_session_is_per_tenant_and_serves_every_client_of_it(client, tenant_a, tenant_b):
    """A session at tenant A serves appB of tenant A too, but not tenant B."""
    login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    response, _ = _silent(client, tenant_a, "appB")
    assert "code" in query_of(response["Location"])
    response, _ = _silent(client, tenant_b)
    assert query_of(response["Location"])["error"] == "login_required"


def test_web_message_with_session_posts_the_code_to_the_callback_origin(client, tenant_a):
    """response_mode=web_message + prompt=none with a session answers a page posting
    {code, state} to the redirect_uri's origin only; only that origin may frame it."""
    login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    response, params = _silent(client, tenant_a, response_mode="web_message")
    data = _web_message_response(response)
    assert set(data) == {"code", "state"} and data["state"] == params["state"]


def test_web_message_without_session_posts_login_required(client, tenant_a):
    """Without a session the web_message page carries login_required (never a redirect into
    the iframe, which the SDK would never hear)."""
    response, params = _silent(client, tenant_a, response_mode="web_message")
    data = _web_message_response(response)
    assert data["error"] == "login_required" and data["state"] == params["state"]


def test_web_message_errors_after_the_client_check_are_posted_too(client, tenant_a):
    """An error found once client and redirect_uri are genuine goes back by web_message."""
    params = authorize_params(
        tenant_a["appA"], challenge=None, response_mode="web_message", response_type="token"
    )
    data = _web_message_response(client.get(_url(tenant_a), params))
    assert data["error"] == "unsupported_response_type"


def test_web_message_never_to_an_unregistered_redirect_uri(client, tenant_a):
    """An unregistered redirect_uri is shown on the page, never posted anywhere."""
    params = authorize_params(
        tenant_a["appA"],
        challenge=pkce_pair()[1],
        response_mode="web_message",
        prompt="none",
        redirect_uri="https://evil.example/cb",
    )
    response = client.get(_url(tenant_a), params)
    assert response.status_code == 400
    assert b"authorization-response" not in response.content
    assert b"evil.example" not in response.content
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_web_message_after_the_login_form(client, tenant_a):
    """A popup sign-in (web_message without prompt=none) shows the page, which keeps its
    opener (COOP unsafe-none) but cannot be framed; the POST answers by web_message."""
    params = authorize_params(
        tenant_a["appA"], challenge=pkce_pair()[1], response_mode="web_message"
    )
    page = client.get(_url(tenant_a), params)
    assert page.status_code == 200 and b'type="password"' in page.content
    assert page["Cross-Origin-Opener-Policy"] == "unsafe-none"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    from tests.tenantauth.oidc_support import csrf_token_from

    response = client.post(
        f"{_url(tenant_a)}?{urlencode(params)}",
        {
            "email": tenant_a["user"].email,
            "password": "correct horse battery staple",
            "csrfmiddlewaretoken": csrf_token_from(page.content.decode()),
        },
    )
    assert "code" in _web_message_response(response)


def test_web_message_needs_a_web_redirect_uri(client, tenant_a):
    """A native app's custom-scheme callback has no web origin to post to: shown on the page."""
    app = tenant_a["appA"]
    core_services.application_update(application=app, callback_urls=["com.example.app:/cb"])
    params = authorize_params(
        app,
        challenge=pkce_pair()[1],
        response_mode="web_message",
        redirect_uri="com.example.app:/cb",
    )
    response = client.get(_url(tenant_a), params)
    assert response.status_code == 400 and b"web_message" in response.content


def test_blocked_user_or_changed_password_ends_the_session(client, tenant_a):
    """Blocking the user, or changing their password, ends the hosted-login session."""
    login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    core_services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    assert query_of(_silent(client, tenant_a)[0]["Location"])["error"] == "login_required"
    core_services.tenant_user_set_blocked(user=tenant_a["user"], blocked=False)
    assert "code" in query_of(_silent(client, tenant_a)[0]["Location"])
    core_services.tenant_user_set_password(user=tenant_a["user"], password="a-new-password-77")
    assert query_of(_silent(client, tenant_a)[0]["Location"])["error"] == "login_required"


def test_session_age_and_max_age(client, tenant_a, settings):
    """max_age shorter than the time since sign-in, or a session older than
    OIDC_SESSION_MAX_AGE_SECONDS, is login_required; within them a code."""
    settings.OIDC_SESSION_MAX_AGE_SECONDS = 3600
    start = int(time.time())
    with time_machine.travel(start, tick=False):
        login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    with time_machine.travel(start + 600, tick=False):
        assert "code" in query_of(_silent(client, tenant_a, max_age="600")[0]["Location"])
        refused = _silent(client, tenant_a, max_age="599")[0]
        assert query_of(refused["Location"])["error"] == "login_required"
    with time_machine.travel(start + 3601, tick=False):
        assert query_of(_silent(client, tenant_a)[0]["Location"])["error"] == "login_required"


def test_sign_in_cycles_the_session_key(client, tenant_a):
    """Signing in on the hosted page issues a new session key (no session fixation)."""
    client.get(_url(tenant_a), authorize_params(tenant_a["appA"], challenge=pkce_pair()[1]))
    client.session.save()
    before = client.cookies.get("sessionid")
    login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    after = client.cookies["sessionid"].value
    assert before is None or before.value != after


# --- logout --------------------------------------------------------------------------------
def test_logout_clears_the_session(client, tenant_a):
    """v2/logout ends the session: prompt=none is login_required afterwards."""
    login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    response = client.get(f"/t/{tenant_a['tenant'].slug}/v2/logout")
    assert response.status_code == 200 and b"signed out" in response.content
    assert query_of(_silent(client, tenant_a)[0]["Location"])["error"] == "login_required"


def test_logout_returns_only_to_allowed_logout_urls(client, tenant_a, tenant_b):
    """returnTo must be one of the client's Allowed Logout URLs (exactly): then a redirect;
    an unlisted URL, another tenant's client or no client_id are refused (400) but the
    session is still cleared. OIDC's post_logout_redirect_uri also echoes state."""
    app = tenant_a["appA"]
    core_services.application_update(application=app, allowed_logout_urls=[CALLBACK])
    base = f"/t/{tenant_a['tenant'].slug}"
    ok = client.get(f"{base}/v2/logout", {"client_id": app.client_id, "returnTo": CALLBACK})
    assert ok.status_code == 302 and ok["Location"] == CALLBACK
    oidc = client.get(
        f"{base}/oidc/logout",
        {"client_id": app.client_id, "post_logout_redirect_uri": CALLBACK, "state": "s1"},
    )
    assert oidc.status_code == 302 and query_of(oidc["Location"]) == {"state": "s1"}
    for params in (
        {"client_id": app.client_id, "returnTo": "https://evil.example/"},
        {"client_id": tenant_b["appA"].client_id, "returnTo": CALLBACK},
        {"returnTo": CALLBACK},
    ):
        login_for_code(client, tenant_a, challenge=pkce_pair()[1])
        refused = client.get(f"{base}/v2/logout", params)
        assert refused.status_code == 400 and not refused.has_header("Location")
        assert b"evil.example" not in refused.content
        assert query_of(_silent(client, tenant_a)[0]["Location"])["error"] == "login_required"


def test_logout_of_one_tenant_keeps_the_other(client, tenant_a, tenant_b):
    """Logging out of tenant B leaves tenant A's session alone."""
    login_for_code(client, tenant_a, challenge=pkce_pair()[1])
    client.get(f"/t/{tenant_b['tenant'].slug}/v2/logout")
    assert "code" in query_of(_silent(client, tenant_a)[0]["Location"])


def test_logout_unknown_tenant_and_wrong_method(client, tenant_a):
    """An unknown tenant is 404; POST is 405."""
    assert client.get("/t/ghost/v2/logout").status_code == 404
    assert client.post(f"/t/{tenant_a['tenant'].slug}/v2/logout").status_code == 405


def test_discovery_lists_web_message_and_end_session(client, tenant_a):
    """Discovery announces response_mode web_message and the end-session endpoint."""
    tenant = tenant_a["tenant"]
    doc = client.get(f"/t/{tenant.slug}/.well-known/openid-configuration").json()
    assert doc["response_modes_supported"] == ["query", "web_message"]
    assert doc["end_session_endpoint"] == tenant.issuer + "oidc/logout"
    assert {"given_name", "family_name", "preferred_username", "updated_at"} <= set(
        doc["claims_supported"]
    )

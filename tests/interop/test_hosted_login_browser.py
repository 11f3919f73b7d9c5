"""Issue 7 fault 1: the hosted login page in Debian's Chromium. The page's own form POST passes
CSRF (the page no longer makes Chromium send "Origin: null"); a POST from another origin is
refused even with a valid CSRF token."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tenantauth.models import AuthorizationCode
from tests.conftest import USER_PASSWORD
from tests.interop.conftest import sign_in_on_hosted_page
from tests.tenantauth.oidc_support import pkce_pair

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_issue_input_signs_in_through_the_hosted_page(interop, browser):
    """The issue's exact request (appA, response_type=code, scope=openid, state=s, S256): the
    user signs in on the page in Chromium and lands on the callback with a code that the token
    endpoint exchanges."""
    app, page = interop["appA"], browser
    verifier, challenge = pkce_pair()
    callback = f"{interop['static']}/pages/callback.html"
    query = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": callback,
        "scope": "openid",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page.goto(f"{interop['domain']}/authorize?{urlencode(query)}")
    assert page.locator("h1").inner_text() == "Log in"
    with page.expect_request(lambda r: r.method == "POST") as posted:
        sign_in_on_hosted_page(page, interop)
    origin = posted.value.header_value("origin")
    assert origin == interop["server"], origin  # a real origin, never "null"
    page.wait_for_url(f"{callback}?*")
    # The callback (another origin) learns nothing of the login page's URL.
    assert page.evaluate("document.referrer") == ""
    answer = _query(page.url)
    assert answer["state"] == "s" and answer["code"]
    token = requests.post(
        f"{interop['domain']}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": app.client_secret(),
            "code": answer["code"],
            "redirect_uri": callback,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text[:300]
    assert token.json()["scope"] == "openid"
    assert not page.problems, page.problems


def test_wrong_password_re_renders_the_page_in_the_browser(interop, browser):
    """A wrong password in Chromium gets the page again with the error (CSRF passes)."""
    page = browser
    query = {
        "client_id": interop["appA"].client_id,
        "response_type": "code",
        "redirect_uri": f"{interop['static']}/pages/callback.html",
        "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256",
    }
    page.goto(f"{interop['domain']}/authorize?{urlencode(query)}")
    page.fill("#id_email", interop["user"].email)
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error")
    assert "Wrong email or password." in page.inner_text("#login-error")
    assert not AuthorizationCode.objects.exists()


def test_cross_origin_post_is_refused_even_with_a_valid_csrf_token(interop, browser):
    """A page on another origin posting the login form (with the browser's own CSRF cookie and
    a valid token) is refused with 403 by the Origin check; no code is issued."""
    page = browser
    query = {
        "client_id": interop["appA"].client_id,
        "response_type": "code",
        "redirect_uri": f"{interop['static']}/pages/callback.html",
        "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256",
    }
    authorize = f"{interop['domain']}/authorize?{urlencode(query)}"
    page.goto(authorize)
    token = page.locator('input[name="csrfmiddlewaretoken"]').get_attribute("value")
    attack = {
        "action": authorize,
        "csrfmiddlewaretoken": token,
        "email": interop["user"].email,
        "password": USER_PASSWORD,
    }
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.goto(f"{interop['static']}/pages/cross-origin-post.html?{urlencode(attack)}")
    response = answered.value
    assert response.status == 403
    assert response.request.header_value("origin") == interop["static"]
    assert re.search(r"CSRF verification failed", response.text())
    assert not AuthorizationCode.objects.exists()

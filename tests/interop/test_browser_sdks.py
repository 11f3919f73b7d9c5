"""The official browser SDKs, unchanged, in Debian's Chromium: auth0-js v9, @auth0/auth0-spa-js
and oidc-client-ts, each loaded from the static server (another origin than the service) and
calling the service across origins (CORS), through the hosted login page where they redirect.

Must-hold points of issue 7 shown here: auth0-js login (realm) / userInfo / delegation;
auth0-spa-js loginWithRedirect through the hosted page, handleRedirectCallback and
getTokenSilently through web_message in a hidden iframe with the hosted-login session, and
login_required promptly without one; oidc-client-ts code + PKCE with userinfo."""

import jwt
import pytest

from tenantauth.models import AuthorizationCode
from tests.conftest import USER_PASSWORD
from tests.interop.conftest import REALM, sign_in_on_hosted_page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _verify_rs256(setup, token: str, audience: str) -> dict:
    key = jwt.PyJWKClient(f"{setup['issuer']}.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(
        token, key.key, algorithms=["RS256"], audience=audience, issuer=setup["issuer"]
    )


# --- auth0-js v9 -------------------------------------------------------------------------
def _auth0js(page, setup, origin=None):
    page.goto(f"{origin or setup['static']}/pages/auth0js.html")
    return {"domain": setup["domain"], "clientId": setup["spa"].client_id, "realm": REALM}


def test_auth0_js_login_userinfo_delegation(interop, browser):
    """WebAuth.client.login with realm (password-realm, a public SPA, no secret), userInfo
    with the access token, delegation for apiC: all across origins, all readable."""
    page, spa, api_c, user = browser, interop["spa"], interop["apiC"], interop["user"]
    config = _auth0js(page, interop)
    login = page.evaluate(
        "([c, u, p]) => interop.login(c, u, p)", [config, user.email, USER_PASSWORD]
    )
    assert login["ok"], login
    result = login["result"]
    assert result["tokenType"] == "Bearer" and result["scope"] == "openid profile email"
    claims = _verify_rs256(interop, result["idToken"], spa.client_id)
    assert claims["sub"] == user.user_id and claims["email"] == user.email

    info = page.evaluate("([c, t]) => interop.userInfo(c, t)", [config, result["accessToken"]])
    assert info["ok"], info
    assert info["result"]["sub"] == user.user_id and info["result"]["name"] == user.name

    delegated = page.evaluate(
        "([c, t, a]) => interop.delegation(c, t, a)",
        [config, result["idToken"], api_c.client_id],
    )
    assert delegated["ok"], delegated
    token = delegated["result"]["idToken"]
    issued = jwt.decode(
        token,
        api_c.client_secret(),
        algorithms=["HS256"],
        audience=api_c.client_id,
        issuer=interop["issuer"],
    )
    assert issued["sub"] == user.user_id and issued["email"] == user.email
    assert not page.problems, page.problems


def test_auth0_js_reads_refusals(interop, browser):
    """An SDK on an allowed origin reads the service's refusals (CORS headers on errors): a
    wrong password is invalid_grant, a target not allowed is invalid_target."""
    page, user = browser, interop["user"]
    config = _auth0js(page, interop)
    wrong = page.evaluate(
        "([c, u, p]) => interop.login(c, u, p)", [config, user.email, "not-the-password"]
    )
    assert not wrong["ok"]
    assert (wrong["error"]["code"], wrong["error"]["statusCode"]) == ("invalid_grant", 400)
    login = page.evaluate(
        "([c, u, p]) => interop.login(c, u, p)", [config, user.email, USER_PASSWORD]
    )
    refused = page.evaluate(
        "([c, t, a]) => interop.delegation(c, t, a)",
        [config, login["result"]["idToken"], interop["appB"].client_id],
    )
    assert not refused["ok"] and refused["error"]["code"] == "invalid_target"


def test_auth0_js_from_a_foreign_origin_cannot_read_anything(interop, browser):
    """The same page served from an origin no application allows (127.0.0.1 instead of
    localhost): the browser refuses the preflight, so the SDK gets no answer to read."""
    page = browser
    foreign = interop["static"].replace("localhost", "127.0.0.1")
    config = _auth0js(page, interop, origin=foreign)
    answer = page.evaluate(
        "([c, u, p]) => interop.login(c, u, p)", [config, interop["user"].email, USER_PASSWORD]
    )
    assert not answer["ok"]
    assert answer["error"].get("code") not in ("invalid_grant", "invalid_client")
    assert "statusCode" not in answer["error"] or not answer["error"]["statusCode"]
    assert any("CORS" in problem for problem in page.problems), page.problems


# --- @auth0/auth0-spa-js --------------------------------------------------------------------
def _spa(page, setup):
    page.goto(f"{setup['static']}/pages/spa.html")
    page.evaluate(
        "(c) => interop.configure(c)",
        {"domain": setup["domain"], "clientId": setup["spa"].client_id},
    )


def test_auth0_spa_js_redirect_login_then_silent_token(interop, browser):
    """loginWithRedirect goes through the hosted page; handleRedirectCallback exchanges the
    code (PKCE) and validates the id_token; getTokenSilently then gets fresh tokens through
    a hidden iframe (prompt=none, response_mode=web_message) from the hosted-login session,
    without showing the page; after logout the same call is login_required."""
    page, spa, user = browser, interop["spa"], interop["user"]
    static = interop["static"]
    _spa(page, interop)
    page.evaluate("() => { interop.login(); }")
    page.wait_for_url(f"{interop['domain']}/authorize?*")
    sign_in_on_hosted_page(page, interop)
    page.wait_for_url(f"{static}/pages/spa.html?*")

    done = page.evaluate("() => interop.callback()")
    assert done["authenticated"] is True and done["appState"] == {"back": "/pages/spa.html"}
    assert done["user"]["sub"] == user.user_id and done["user"]["email"] == user.email
    assert done["claims"]["iss"] == interop["issuer"] and done["claims"]["aud"] == spa.client_id
    codes = AuthorizationCode.objects.count()

    frames = []
    page.on("frameattached", lambda frame: frames.append(frame))
    silent = page.evaluate("() => interop.silent()")
    assert silent["ok"], silent
    assert AuthorizationCode.objects.count() == codes + 1  # a new code, no page shown
    assert frames, "getTokenSilently did not use an iframe"
    claims = _verify_rs256(interop, silent["id_token"], spa.client_id)
    assert claims["sub"] == user.user_id
    assert claims["auth_time"] == done["claims"]["auth_time"]  # the same sign-in
    assert not page.problems, page.problems

    page.evaluate("(url) => { interop.logout(url); }", f"{static}/pages/callback.html")
    page.wait_for_url(f"{static}/pages/callback.html*")
    _spa(page, interop)
    after = page.evaluate("() => interop.silent()")
    assert not after["ok"] and after["error"] == "login_required", after


def test_auth0_spa_js_silent_without_session_is_login_required_promptly(interop, browser):
    """A browser that never signed in: getTokenSilently rejects with login_required (posted
    by the web_message page) at once, not after the SDK's timeout."""
    page = browser
    _spa(page, interop)
    silent = page.evaluate("() => interop.silent()")
    assert not silent["ok"]
    assert silent["error"] == "login_required", silent
    assert silent["ms"] < 5000, silent  # the SDK would time out after 20 s here
    assert not AuthorizationCode.objects.exists()


# --- oidc-client-ts -------------------------------------------------------------------------
def test_oidc_client_ts_code_pkce_and_userinfo(interop, browser):
    """oidc-client-ts discovers the tenant, runs code + PKCE through the hosted page, checks
    the id_token's claims and merges userinfo into the profile."""
    page, spa, user = browser, interop["spa"], interop["user"]
    page.goto(f"{interop['static']}/pages/oidc.html")
    page.evaluate(
        "(c) => interop.configure(c)", {"issuer": interop["issuer"], "clientId": spa.client_id}
    )
    page.evaluate("() => { interop.login(); }")
    page.wait_for_url(f"{interop['domain']}/authorize?*")
    sent = page.url
    assert "code_challenge_method=S256" in sent and "code_challenge=" in sent
    sign_in_on_hosted_page(page, interop)
    page.wait_for_url(f"{interop['static']}/pages/oidc.html?*")

    done = page.evaluate("() => interop.callback()")
    assert done["token_type"] == "Bearer" and done["scope"] == "openid profile email"
    profile = done["profile"]
    assert profile["sub"] == user.user_id and profile["iss"] == interop["issuer"]
    assert profile["email"] == user.email and profile["name"] == user.name
    assert _verify_rs256(interop, done["id_token"], spa.client_id)["sub"] == user.user_id
    assert not page.problems, page.problems

"""Every path that checks a credential or hashes a password, as one table for the throttle
tests: how to make an attempt with any account from any address, and what each answer is."""

from dataclasses import dataclass
from urllib.parse import urlencode

from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from tests.tenantauth.oidc_support import REALM_GRANT, authorize_params

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class CredentialPath:
    name: str
    counts: str  # "password", "client" or "signup": which throttle it is under
    failed: int  # status of a wrong credential
    succeeded: int  # status of a right one

    def attempt(self, client, setup, *, account: str | None, right: bool, ip: str):
        """One attempt as ``account`` (None: the setup's real account) from ``ip``."""
        return _ATTEMPTS[self.name](client, setup, account=account, right=right, ip=ip)


def _hosted_login(client, setup, *, account, right, ip):
    params = authorize_params(setup["appA"], challenge=None)
    url = f"/t/{setup['tenant'].slug}/authorize?{urlencode(params)}"
    password = USER_PASSWORD if right else "wrong password!"
    return client.post(
        url, {"email": account or setup["user"].email, "password": password}, REMOTE_ADDR=ip
    )


def _token(client, setup, *, account, right, ip, realm=False):
    app = setup["appA"]
    data = {
        "grant_type": REALM_GRANT if realm else "password",
        "client_id": app.client_id,
        "client_secret": app.client_secret(),
        "username": account or setup["user"].email,
        "password": USER_PASSWORD if right else "wrong password!",
        "scope": "openid",
    }
    if realm:
        data["realm"] = "Username-Password-Authentication"
    url = f"/t/{setup['tenant'].slug}/oauth/token"
    return client.post(url, urlencode(data), content_type=FORM, REMOTE_ADDR=ip)


def _admin_login(client, setup, *, account, right, ip):
    data = {
        "username": account or setup["admin"].username,
        "password": ADMIN_PASSWORD if right else "wrong password!",
        "next": "/admin/",
    }
    return client.post("/admin/login/", data, REMOTE_ADDR=ip)


def _client_secret(client, setup, *, account, right, ip):
    """A token request whose client authentication is checked first (a refresh grant with a
    token that does not exist: a right secret gets past the client check to invalid_grant)."""
    apps = {setup[n].client_id: setup[n] for n in ("appA", "appB")}
    app = apps.get(account) or setup["appA"]
    secret = app.client_secret() if right else "wrong-secret-" + "x" * 40
    data = {
        "grant_type": "refresh_token",
        "client_id": account or app.client_id,
        "client_secret": secret,
        "refresh_token": "no-such-refresh-token",
    }
    url = f"/t/{setup['tenant'].slug}/oauth/token"
    return client.post(url, urlencode(data), content_type=FORM, REMOTE_ADDR=ip)


def _signup(client, setup, *, account, right, ip):
    data = {
        "client_id": setup["appA"].client_id,
        "email": account or "new-user@tenant-a.example",
        "password": "a long enough passphrase 42" if right else "short",
        "connection": "Username-Password-Authentication",
    }
    url = f"/t/{setup['tenant'].slug}/dbconnections/signup"
    return client.post(url, urlencode(data), content_type=FORM, REMOTE_ADDR=ip)


_ATTEMPTS = {
    "hosted login": _hosted_login,
    "oauth/token password": _token,
    "oauth/token password-realm": lambda *a, **k: _token(*a, **k, realm=True),
    "admin login": _admin_login,
    "oauth/token client secret": _client_secret,
    "dbconnections/signup": _signup,
}

PATHS = [
    CredentialPath("hosted login", "password", failed=400, succeeded=302),
    CredentialPath("oauth/token password", "password", failed=400, succeeded=200),
    CredentialPath("oauth/token password-realm", "password", failed=400, succeeded=200),
    CredentialPath("admin login", "password", failed=200, succeeded=302),
    CredentialPath("oauth/token client secret", "client", failed=401, succeeded=400),
    CredentialPath("dbconnections/signup", "signup", failed=400, succeeded=200),
]
PASSWORD_PATHS = [path for path in PATHS if path.counts == "password"]


def assert_throttled(response, *, window: int):
    """429 with a Retry-After inside the window; JSON on the API paths, a page otherwise."""
    assert response.status_code == 429, (response.status_code, response.content[:300])
    assert 0 < int(response["Retry-After"]) <= window
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert body.get("error", body.get("code")) == "too_many_requests", body
    else:
        assert "Too many failed attempts" in response.content.decode()

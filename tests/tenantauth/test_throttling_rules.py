"""The settling rules of the login, client-secret and sign-up throttles
(tenantauth/oidc/throttling.py), on the local memory store and on a real Redis
(``counter_store``): a check that was not attempted, or that passed, gives its slots back; a
success clears only the (account, address) counter; each counter counts only what it names;
and a refusal says which counter refused, and for how long.

The limits per path and the windows: tests/tenantauth/test_throttling.py.
"""

import time

import pytest
import time_machine

from tenantauth.oidc import selectors, services, throttling
from tenantauth.oidc.errors import OAuthError
from tests.conftest import USER_PASSWORD
from tests.tenantauth.oidc_support import password_grant
from tests.tenantauth.throttle_paths import PASSWORD_PATHS, PATHS, assert_throttled

WINDOW = 15 * 60
SIGNUP_WINDOW = 3600
WRONG_SECRET = "wrong-secret-" + "x" * 40
CLIENT = next(path for path in PATHS if path.counts == "client")
SIGNUP = next(path for path in PATHS if path.counts == "signup")


def _fresh_window_start(window: int) -> int:
    """10 s into the next fixed window: Retry-After is then exactly ``window - 10``."""
    return (int(time.time()) // window + 1) * window + 10


def _wrong_password(tenant_setup, *, email: str, ip: str) -> None:
    """One wrong password: refused as wrong credentials (not throttled)."""
    with pytest.raises(OAuthError) as refused:
        _sign_in(tenant_setup, email=email, password="wrong password!", ip=ip)
    assert (refused.value.error, refused.value.description) == (
        "invalid_grant",
        services.WRONG_CREDENTIALS,
    )


def _sign_in(tenant_setup, *, email: str, password: str, ip: str):
    """One password check through the service every sign-in path uses."""
    tenant = tenant_setup["tenant"]
    return services.user_authenticate(
        tenant=tenant,
        connection=selectors.connection_get(tenant=tenant),
        email=email,
        password=password,
        ip=ip,
    )


# --- a check that was never attempted, or that passed, does not count --------------------------
def test_a_wrong_client_secret_does_not_count_against_the_account(client, tenant_a, limits):
    """The password of a token request whose client secret is wrong is never checked: the
    account's counters (at this address and from anywhere) give their slots back. Three such
    requests against account limits of 2 leave the user free to sign in from that address."""
    limits.LOGIN_THROTTLE_USER_IP = limits.LOGIN_THROTTLE_USER = 2
    for _ in range(3):
        response = password_grant(
            client, tenant_a, client_secret=WRONG_SECRET, REMOTE_ADDR="10.20.0.1"
        )
        assert response.status_code == 401, response.content
        assert response.json()["error"] == "invalid_client"
    response = password_grant(client, tenant_a, REMOTE_ADDR="10.20.0.1")
    assert response.status_code == 200, response.content
    assert response.json()["access_token"]


def test_wrong_passwords_do_not_count_against_the_client_at_the_address(client, tenant_a, limits):
    """Users typing wrong passwords through an application do not lock the application's
    client out at their address: the client secret passed, so its slot is given back. Three
    wrong passwords against a client-at-address limit of 2, then the client's next request
    from there is checked (and the user signs in)."""
    limits.CLIENT_AUTH_THROTTLE_CLIENT_IP = 2
    for n in range(3):
        response = password_grant(
            client,
            tenant_a,
            username=f"someone{n}@tenant-a.example",
            password="wrong password!",
            REMOTE_ADDR="10.21.0.1",
        )
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_grant"
    secret_only = CLIENT.attempt(client, tenant_a, account=None, right=True, ip="10.21.0.1")
    assert secret_only.status_code == CLIENT.succeeded, secret_only.content
    response = password_grant(client, tenant_a, REMOTE_ADDR="10.21.0.1")
    assert response.status_code == 200, response.content


# --- a success clears the (account, address) counter, and only that ---------------------------
@pytest.mark.parametrize("path", PASSWORD_PATHS, ids=[path.name for path in PASSWORD_PATHS])
def test_a_success_does_not_clear_the_address_counter(client, tenant_a, limits, path):
    """Password spraying from one address with one valid account in hand: signing in with it
    gives back its own slot, but the failures of the other accounts stay counted at the
    address. Limit 3: two wrong, one right, one wrong, and the next attempt is 429."""
    limits.LOGIN_THROTTLE_IP = 3
    for n in range(2):
        account = f"spray{n}@tenant-a.example" if path.name != "admin login" else f"spray{n}"
        response = path.attempt(client, tenant_a, account=account, right=False, ip="10.22.0.1")
        assert response.status_code == path.failed
    response = path.attempt(client, tenant_a, account=None, right=True, ip="10.22.0.1")
    assert response.status_code == path.succeeded
    client.logout()
    account = "spray2@tenant-a.example" if path.name != "admin login" else "spray2"
    response = path.attempt(client, tenant_a, account=account, right=False, ip="10.22.0.1")
    assert response.status_code == path.failed
    assert_throttled(
        path.attempt(client, tenant_a, account=None, right=True, ip="10.22.0.1"), window=WINDOW
    )


def test_a_success_does_not_clear_the_accounts_failures_from_elsewhere(tenant_a, limits):
    """The right password from one address gives back that attempt's slot of the account's
    counter, not the failures made from other addresses: with a limit of 3, two failures, a
    success, one more failure, and the account is refused from a fifth address."""
    limits.LOGIN_THROTTLE_USER = 3
    email = tenant_a["user"].email
    for ip in ("10.23.0.1", "10.23.0.2"):
        _wrong_password(tenant_a, email=email, ip=ip)
    assert _sign_in(tenant_a, email=email, password=USER_PASSWORD, ip="10.23.0.3").pk == (
        tenant_a["user"].pk
    )
    _wrong_password(tenant_a, email=email, ip="10.23.0.4")
    with pytest.raises(throttling.Throttled) as refused:
        _sign_in(tenant_a, email=email, password=USER_PASSWORD, ip="10.23.0.5")
    assert refused.value.counter == "user"


# --- each counter counts what it names -----------------------------------------------------
def test_the_signup_email_counter_counts_one_email(client, tenant_a, tenant_b, limits):
    """Sign-ups of different e-mails do not count against each other: with a per-e-mail limit
    of 2, three new e-mails (from three addresses) all sign up; the same e-mail a third time
    is 429, in this tenant only."""
    limits.SIGNUP_THROTTLE_EMAIL = 2
    for n in range(3):
        response = SIGNUP.attempt(
            client, tenant_a, account=f"fresh{n}@tenant-a.example", right=True, ip=f"10.24.0.{n}"
        )
        assert response.status_code == SIGNUP.succeeded, response.content
    again = SIGNUP.attempt(
        client, tenant_a, account="fresh0@tenant-a.example", right=False, ip="10.24.0.9"
    )
    assert again.status_code == SIGNUP.failed, again.content
    assert_throttled(
        SIGNUP.attempt(
            client, tenant_a, account="fresh0@tenant-a.example", right=True, ip="10.24.0.9"
        ),
        window=SIGNUP_WINDOW,
    )
    elsewhere = SIGNUP.attempt(
        client, tenant_b, account="fresh0@tenant-a.example", right=True, ip="10.24.0.9"
    )
    assert elsewhere.status_code == SIGNUP.succeeded, elsewhere.content


# --- a refusal names the full counter and the end of its window -----------------------------
@pytest.mark.parametrize(
    ("counter", "limit_setting", "second"),
    [
        # the same account at the same address
        ("user_ip", "LOGIN_THROTTLE_USER_IP", ("user@tenant-a.example", "10.25.0.1")),
        # the same account from another address
        ("user", "LOGIN_THROTTLE_USER", ("user@tenant-a.example", "10.25.0.2")),
        # another account from the same address
        ("ip", "LOGIN_THROTTLE_IP", ("other@tenant-a.example", "10.25.0.1")),
    ],
)
def test_a_password_refusal_names_its_counter(tenant_a, limits, counter, limit_setting, second):
    """One wrong password against a limit of 1: the next check that shares the full counter is
    refused before the password is looked at (the right one included), by that counter, with
    Retry-After the end of the window."""
    setattr(limits, limit_setting, 1)
    start = _fresh_window_start(WINDOW)
    with time_machine.travel(start, tick=False):
        _wrong_password(tenant_a, email="user@tenant-a.example", ip="10.25.0.1")
        email, ip = second
        with pytest.raises(throttling.Throttled) as refused:
            _sign_in(tenant_a, email=email, password=USER_PASSWORD, ip=ip)
    assert refused.value.counter == counter
    assert refused.value.retry_after == WINDOW - 10


def test_a_client_secret_refusal_names_its_counter(tenant_a, limits):
    """Client-secret checks: a failed check of a client at an address fills the client-at-address
    counter (limit 1); the next check of that client there is refused by it."""
    limits.CLIENT_AUTH_THROTTLE_CLIENT_IP = 1
    counters = throttling.client_counters(
        tenant=tenant_a["tenant"], client_id=tenant_a["appA"].client_id, ip="10.26.0.1"
    )
    start = _fresh_window_start(WINDOW)
    with time_machine.travel(start, tick=False):
        with throttling.attempt(counters) as attempt:
            attempt.failed("client")
        with pytest.raises(throttling.Throttled) as refused:
            with throttling.attempt(counters):
                pass
    assert refused.value.counter == "client_ip"
    assert refused.value.retry_after == WINDOW - 10


@pytest.mark.parametrize(
    ("counter", "limit_setting", "second"),
    [
        ("signup_ip", "SIGNUP_THROTTLE_IP", ("another@tenant-a.example", "10.27.0.1")),
        ("signup_email", "SIGNUP_THROTTLE_EMAIL", ("first@tenant-a.example", "10.27.0.2")),
    ],
)
def test_a_signup_refusal_names_its_counter(tenant_a, limits, counter, limit_setting, second):
    """One sign-up against a limit of 1: another from the same address, or of the same e-mail,
    is refused by that counter until the end of the sign-up window."""
    setattr(limits, limit_setting, 1)
    tenant = tenant_a["tenant"]
    start = _fresh_window_start(SIGNUP_WINDOW)
    with time_machine.travel(start, tick=False):
        throttling.signup_reserve(tenant=tenant, email="first@tenant-a.example", ip="10.27.0.1")
        email, ip = second
        with pytest.raises(throttling.Throttled) as refused:
            throttling.signup_reserve(tenant=tenant, email=email, ip=ip)
    assert refused.value.counter == counter
    assert refused.value.retry_after == SIGNUP_WINDOW - 10


# --- the safe default of the settling table ------------------------------------------------
def test_a_counter_the_settling_table_does_not_name_stays_counted_after_a_failure(tenant_a, limits):
    """A counter whose name the settling table does not list guards every check of the
    attempt: it keeps its slot when any check failed (the safe side), and gives it back when
    none did. Here the sign-up counters (limit 1) under an attempt."""
    limits.SIGNUP_THROTTLE_IP = limits.SIGNUP_THROTTLE_EMAIL = 1
    tenant = tenant_a["tenant"]
    passed = throttling.signup_counters(tenant=tenant, email="ok@tenant-a.example", ip="10.28.0.1")
    for _ in range(2):
        with throttling.attempt(passed) as attempt:
            attempt.passed("password")
    failed = throttling.signup_counters(tenant=tenant, email="no@tenant-a.example", ip="10.28.0.2")
    with throttling.attempt(failed) as attempt:
        attempt.failed("password")
    with pytest.raises(throttling.Throttled) as refused:
        throttling.signup_reserve(tenant=tenant, email="no@tenant-a.example", ip="10.28.0.2")
    assert refused.value.counter == "signup_ip"

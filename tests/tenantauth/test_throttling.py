"""SECURITY-CASES A12, in-process: every path that checks a credential or hashes a password is
throttled per address and per account, answers 429 with Retry-After at the limit, gives a
successful attempt's slot back, and counts in fixed windows that end when they say. Each test
runs on the local memory store and on a real Redis (``counter_store``).

Parallel attempts and two worker processes: tests/e2e/test_throttle_concurrency.py.
"""

import time

import pytest
import time_machine

from tenantauth.models import TenantUser
from tests.tenantauth.throttle_paths import PASSWORD_PATHS, PATHS, assert_throttled

WINDOW = 15 * 60


def _ids(paths):
    return [path.name for path in paths]


@pytest.mark.parametrize("path", PASSWORD_PATHS, ids=_ids(PASSWORD_PATHS))
def test_per_account_and_address(client, tenant_a, limits, path):
    """Auth0's rule: 3 wrong passwords for one account from one address, then even the right
    password from there is 429; the same account from another address still signs in."""
    limits.LOGIN_THROTTLE_USER_IP = 3
    for _ in range(3):
        response = path.attempt(client, tenant_a, account=None, right=False, ip="10.0.0.1")
        assert response.status_code == path.failed
    assert_throttled(
        path.attempt(client, tenant_a, account=None, right=True, ip="10.0.0.1"), window=WINDOW
    )
    other = path.attempt(client, tenant_a, account=None, right=True, ip="10.0.0.2")
    assert other.status_code == path.succeeded


@pytest.mark.parametrize("path", PASSWORD_PATHS, ids=_ids(PASSWORD_PATHS))
def test_per_account_from_anywhere(client, tenant_a, limits, path):
    """3 wrong passwords for one account from 3 addresses: the account is throttled from a 4th
    address too (right password included); another account is not."""
    limits.LOGIN_THROTTLE_USER = 3
    for n in range(3):
        response = path.attempt(client, tenant_a, account=None, right=False, ip=f"10.1.0.{n}")
        assert response.status_code == path.failed
    assert_throttled(
        path.attempt(client, tenant_a, account=None, right=True, ip="10.1.0.9"), window=WINDOW
    )
    unrelated = path.attempt(
        client, tenant_a, account="someone@else.example", right=False, ip="10.1.0.9"
    )
    assert unrelated.status_code == path.failed


@pytest.mark.parametrize("path", PASSWORD_PATHS, ids=_ids(PASSWORD_PATHS))
def test_per_address_across_accounts(client, tenant_a, limits, path):
    """3 wrong passwords for 3 different accounts from one address: that address is throttled
    for every account (the real one, right password, included); another address is not."""
    limits.LOGIN_THROTTLE_IP = 3
    for n in range(3):
        account = f"spray{n}@tenant-a.example"
        response = path.attempt(client, tenant_a, account=account, right=False, ip="10.2.0.1")
        assert response.status_code == path.failed
    assert_throttled(
        path.attempt(client, tenant_a, account=None, right=True, ip="10.2.0.1"), window=WINDOW
    )
    elsewhere = path.attempt(client, tenant_a, account=None, right=True, ip="10.2.0.2")
    assert elsewhere.status_code == path.succeeded


def test_the_address_counter_spans_paths_and_tenants(client, tenant_a, tenant_b, limits):
    """One address spraying wrong passwords over the token endpoint of tenant A and the admin
    login is throttled on tenant B's hosted login page too: "per address" means the address."""
    limits.LOGIN_THROTTLE_IP = 4
    token, admin = PASSWORD_PATHS[1], PASSWORD_PATHS[3]
    for n in range(2):
        token.attempt(client, tenant_a, account=f"a{n}@x.example", right=False, ip="10.3.0.1")
        admin.attempt(client, tenant_a, account=f"admin{n}", right=False, ip="10.3.0.1")
    hosted = PASSWORD_PATHS[0]
    assert_throttled(
        hosted.attempt(client, tenant_b, account=None, right=True, ip="10.3.0.1"), window=WINDOW
    )


CLIENT = next(path for path in PATHS if path.counts == "client")
SIGNUP = next(path for path in PATHS if path.counts == "signup")


def test_client_secret_per_client_and_address(client, tenant_a, limits):
    """3 wrong client secrets for appA from one address: appA's right secret from there is
    429; from another address, and appB from the first, are not throttled."""
    limits.CLIENT_AUTH_THROTTLE_CLIENT_IP = 3
    app_a, app_b = tenant_a["appA"].client_id, tenant_a["appB"].client_id
    for _ in range(3):
        response = CLIENT.attempt(client, tenant_a, account=app_a, right=False, ip="10.4.0.1")
        assert response.status_code == CLIENT.failed
    assert_throttled(
        CLIENT.attempt(client, tenant_a, account=app_a, right=True, ip="10.4.0.1"), window=WINDOW
    )
    elsewhere = CLIENT.attempt(client, tenant_a, account=app_a, right=True, ip="10.4.0.2")
    assert elsewhere.status_code == CLIENT.succeeded
    assert (
        CLIENT.attempt(client, tenant_a, account=app_b, right=True, ip="10.4.0.1").status_code
        == CLIENT.succeeded
    )


def test_client_secret_per_address(client, tenant_a, limits):
    """Wrong secrets for different clients (and unknown client IDs) from one address count in
    the address counter: the 4th check from there is 429."""
    limits.LOGIN_THROTTLE_IP = 3
    for account in (tenant_a["appA"].client_id, tenant_a["appB"].client_id, "no-such-client"):
        response = CLIENT.attempt(client, tenant_a, account=account, right=False, ip="10.5.0.1")
        assert response.status_code == CLIENT.failed
    assert_throttled(
        CLIENT.attempt(client, tenant_a, account=None, right=True, ip="10.5.0.1"), window=WINDOW
    )


def test_signup_per_address(client, tenant_a, limits):
    """3 sign-ups (successful: each hashes a password) from one address, then 429 for a 4th
    e-mail from there; another address still signs up. Nobody was created by the refusal."""
    limits.SIGNUP_THROTTLE_IP = 3
    for n in range(3):
        response = SIGNUP.attempt(
            client, tenant_a, account=f"new{n}@tenant-a.example", right=True, ip="10.6.0.1"
        )
        assert response.status_code == SIGNUP.succeeded, response.content
    refused = SIGNUP.attempt(
        client, tenant_a, account="new3@tenant-a.example", right=True, ip="10.6.0.1"
    )
    assert_throttled(refused, window=3600)
    assert not TenantUser.objects.filter(email="new3@tenant-a.example").exists()
    other = SIGNUP.attempt(
        client, tenant_a, account="new3@tenant-a.example", right=True, ip="10.6.0.2"
    )
    assert other.status_code == SIGNUP.succeeded


def test_signup_per_email(client, tenant_a, limits):
    """Sign-ups for one e-mail count whatever their outcome (the second is a taken e-mail):
    the third, from yet another address, is 429."""
    limits.SIGNUP_THROTTLE_EMAIL = 2
    email = "target@tenant-a.example"
    first = SIGNUP.attempt(client, tenant_a, account=email, right=True, ip="10.7.0.1")
    assert first.status_code == 200
    taken = SIGNUP.attempt(client, tenant_a, account=email, right=True, ip="10.7.0.2")
    assert taken.status_code == 400 and taken.json()["code"] == "invalid_signup"
    assert_throttled(
        SIGNUP.attempt(client, tenant_a, account=email, right=True, ip="10.7.0.3"), window=3600
    )


@pytest.mark.parametrize("path", PASSWORD_PATHS, ids=_ids(PASSWORD_PATHS))
def test_success_clears_the_account_address_counter(client, tenant_a, limits, path):
    """Two failures, a success, two failures, a success ... never reach a limit of 3 at one
    address: a correct password clears the account-at-address counter, as Auth0 does."""
    limits.LOGIN_THROTTLE_USER_IP = 3
    for _ in range(3):
        for _ in range(2):
            response = path.attempt(client, tenant_a, account=None, right=False, ip="10.8.0.1")
            assert response.status_code == path.failed
        response = path.attempt(client, tenant_a, account=None, right=True, ip="10.8.0.1")
        assert response.status_code == path.succeeded
        client.logout()


@pytest.mark.parametrize("path", PATHS[:5], ids=_ids(PATHS[:5]))
def test_successes_do_not_count(client, tenant_a, limits, path):
    """A successful check gives its slots back: with every limit at 3, five successes in a row
    from one address all go through."""
    limits.LOGIN_THROTTLE_USER_IP = limits.LOGIN_THROTTLE_USER = limits.LOGIN_THROTTLE_IP = 3
    limits.CLIENT_AUTH_THROTTLE_CLIENT_IP = 3
    for _ in range(5):
        response = path.attempt(client, tenant_a, account=None, right=True, ip="10.8.0.2")
        assert response.status_code == path.succeeded
        client.logout()


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_the_window_ends_when_retry_after_says(client, tenant_a, limits, path):
    """At the limit, Retry-After counts down to the end of the fixed window: one second before
    it the answer is still 429 with Retry-After 1, at the end the attempt goes through."""
    limits.LOGIN_THROTTLE_USER_IP = 2
    limits.CLIENT_AUTH_THROTTLE_CLIENT_IP = 2
    limits.SIGNUP_THROTTLE_EMAIL = 2
    window = 3600 if path.counts == "signup" else WINDOW
    start = (int(time.time()) // window + 1) * window + 10  # 10 s into a fresh window
    account = "windowed@tenant-a.example" if path.counts == "signup" else None
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(2):
            path.attempt(client, tenant_a, account=account, right=False, ip="10.9.0.1")
        refused = path.attempt(client, tenant_a, account=account, right=False, ip="10.9.0.1")
        assert_throttled(refused, window=window)
        assert int(refused["Retry-After"]) == window - 10
        clock.move_to(start - 10 + window - 1)
        last = path.attempt(client, tenant_a, account=account, right=False, ip="10.9.0.1")
        assert_throttled(last, window=window)
        assert last["Retry-After"] == "1"
        clock.move_to(start - 10 + window)
        again = path.attempt(client, tenant_a, account=account, right=False, ip="10.9.0.1")
        assert again.status_code == path.failed

"""SECURITY-CASES D33: a delegated token fed back into /delegation again and again (a
self-delegation chain) cannot outlive the sign-in it descends from. Every delegation token
carries the original authentication time (``auth_time`` of the incoming id_token, else its
``iat``; for a refresh token, the start of its family) and MAX_ID_TOKEN_AGE_SECONDS applies to
that time after any number of hops. The clock is time-machine's."""

import time

import jwt
import pytest
import time_machine

from tenantauth import services
from tests.delegation.helpers import DROP, assert_error, delegate, id_token_for
from tests.tenantauth.oidc_support import password_grant

MAX_AGE = 3 * 3600
LEEWAY = 30


@pytest.fixture
def chain(settings, tenant_a):
    settings.MAX_ID_TOKEN_AGE_SECONDS = MAX_AGE
    settings.JWT_LEEWAY_SECONDS = LEEWAY
    # Hop tokens must live long enough to be fed back, and no longer than the maximum age.
    services.application_update(application=tenant_a["appA"], jwt_lifetime_seconds=3600)
    tenant = tenant_a["tenant"]
    tenant.delegation_rate_limit = 1000
    tenant.save()
    return tenant_a


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _hop(client, setup, token):
    """Self-delegation: appA trades its token for a token for appA."""
    return delegate(client, setup, token=token, target=setup["appA"].client_id)


def test_d33_a_self_delegation_chain_ends_at_the_maximum_age(client, chain):
    """Sign in (password grant), then feed each delegated token back every 50 minutes: each hop
    carries the sign-in's auth_time; the hop at max age + leeway still works, one second later
    the chain ends with invalid_grant."""
    start = (int(time.time()) // 60 + 1) * 60
    with time_machine.travel(start, tick=False) as clock:
        signed_in = password_grant(client, chain, scope="openid")
        token = signed_in.json()["id_token"]
        assert _claims(token)["auth_time"] == start
        hops = 0
        while True:
            clock.shift(50 * 60)
            if time.time() - start > MAX_AGE + LEEWAY:
                break
            response = _hop(client, chain, token)
            assert response.status_code == 200, response.content
            token = response.json()["id_token"]
            claims = _claims(token)
            assert claims["auth_time"] == start and claims["iat"] == int(time.time())
            hops += 1
        assert hops == 3
        # Exactly at the boundary (max age + leeway after sign-in) the last token still works.
        clock.move_to(start + MAX_AGE + LEEWAY)
        assert _hop(client, chain, token).status_code == 200
        clock.move_to(start + MAX_AGE + LEEWAY + 1)
        assert_error(_hop(client, chain, token), 400, "invalid_grant")


def test_d33_without_auth_time_the_token_iat_is_the_sign_in(client, chain):
    """An incoming id_token without auth_time: its iat is the authentication time carried on."""
    now = int(time.time())
    token = id_token_for(chain["tenant"], chain["appA"], chain["user"], iat=now - 600)
    response = _hop(client, chain, token)
    assert response.status_code == 200
    assert _claims(response.json()["id_token"])["auth_time"] == now - 600


@pytest.mark.parametrize(
    ("offset", "status"),
    [(MAX_AGE + LEEWAY, 200), (MAX_AGE + LEEWAY + 1, 400)],
    ids=["at-the-boundary", "one-second-past"],
)
def test_d33_auth_time_boundary(client, chain, offset, status):
    """A fresh token (new iat) naming an old sign-in: the sign-in's age decides, to the second
    (the clock is frozen, so "now" is the same instant for the token and the check)."""
    now = int(time.time())
    with time_machine.travel(now, tick=False):
        token = id_token_for(chain["tenant"], chain["appA"], chain["user"], auth_time=now - offset)
        assert _hop(client, chain, token).status_code == status


@pytest.mark.parametrize("case", ["in the future", "after iat", "a string", "out of range"])
def test_d33_implausible_auth_time_is_refused(client, chain, case):
    now = int(time.time())
    auth_time = {
        "in the future": now + 3600,
        "after iat": now + LEEWAY + 5,
        "a string": str(now),
        "out of range": 1e30,
    }[case]
    token = id_token_for(
        chain["tenant"], chain["appA"], chain["user"], iat=now, auth_time=auth_time
    )
    assert_error(_hop(client, chain, token), 400, "invalid_grant")


def test_d33_refresh_token_input_carries_the_family_start(client, chain, settings):
    """The refresh-token input: the issued token's auth_time is when the refresh family began
    (the sign-in), and the family stops working for delegation at the maximum age."""
    settings.OIDC_REFRESH_TOKEN_LIFETIME_SECONDS = 10 * MAX_AGE
    start = (int(time.time()) // 60 + 1) * 60
    with time_machine.travel(start, tick=False) as clock:
        refresh = password_grant(client, chain, scope="openid offline_access").json()[
            "refresh_token"
        ]
        clock.shift(MAX_AGE)
        body = {"refresh_token": refresh, "id_token": DROP}
        response = delegate(client, chain, token="unused", **body)
        assert response.status_code == 200, response.content
        assert _claims(response.json()["id_token"])["auth_time"] == start
        clock.move_to(start + MAX_AGE + LEEWAY + 1)
        assert_error(delegate(client, chain, token="unused", **body), 400, "invalid_grant")

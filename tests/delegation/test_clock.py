"""A clock we control (issue 14): every time check, at its exact boundary.

Each check is tried at the boundary itself, one second before and one second after, with the
clock stopped by time-machine (``tick=False``), so no case depends on when the suite runs.
With leeway L (``JWT_LEEWAY_SECONDS``) and maximum age A (``MAX_ID_TOKEN_AGE_SECONDS``):

* ``exp``: refused when ``exp <= now - L`` (RFC 7519 4.1.4: now must be *before* exp);
* ``iat`` and ``nbf``: refused when later than ``now + L`` (4.1.5, 4.1.6);
* lifetime ``exp - iat`` at most A; ``auth_time`` not after ``min(now, iat) + L``; the
  original sign-in not older than ``A + L`` (OIDC Core 2, SECURITY-CASES D33);
* authorization codes and refresh tokens: refused from their ``expires_at`` on;
* the ``/delegation`` rate limit: a window of ``WINDOW_SECONDS`` aligned to the epoch, its
  end in ``X-RateLimit-Reset`` and ``Retry-After`` counting down to it.
"""

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from delegation import ratelimit, tokens
from delegation.errors import DelegationError
from tenantauth.models import AuthorizationCode, RefreshToken
from tests.delegation.helpers import assert_error, delegate, id_token_for
from tests.tenantauth.oidc_support import (
    login_for_code,
    password_grant,
    pkce_pair,
    post_token,
    refresh_grant,
)

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z, a multiple of 60: a rate-limit window starts here
L = settings.JWT_LEEWAY_SECONDS
A = settings.MAX_ID_TOKEN_AGE_SECONDS
BEFORE, AT, AFTER = -1, 0, 1


def refusal(**claims) -> str | None:
    """The reason ``check_times`` refuses ``claims`` at NOW (a fresh token by default), or None."""
    claims = {"iat": NOW - 60, "exp": NOW + 3600, **claims}
    with time_machine.travel(NOW, tick=False):
        try:
            tokens.check_times(claims)
        except DelegationError as exc:
            return exc.reason
    return None


def test_the_clock_is_ours():
    assert L > 1 and A > L  # the cases below need room on both sides of each boundary
    with time_machine.travel(NOW, tick=False):
        assert int(timezone.now().timestamp()) == NOW


@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_exp_boundary_is_now_minus_leeway(offset):
    """exp == now - L is expired (the check is ``<=``); one second later it is not yet."""
    expected = None if offset == AFTER else "jwt expired"
    assert refusal(iat=NOW - 3600, exp=NOW - L + offset) == expected


@pytest.mark.parametrize("claim", ["iat", "nbf"])
@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_iat_and_nbf_may_be_at_most_leeway_in_the_future(claim, offset):
    expected = f"{claim} in the future" if offset == AFTER else None
    assert refusal(**{claim: NOW + L + offset}) == expected


@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_lifetime_is_at_most_the_maximum_age(offset):
    expected = "lifetime above maximum" if offset == AFTER else None
    assert refusal(iat=NOW - 60, exp=NOW - 60 + A + offset) == expected


@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_exp_may_equal_but_not_precede_iat(offset):
    expected = "exp before iat" if offset == BEFORE else None
    assert refusal(iat=NOW - 10, exp=NOW - 10 + offset) == expected


@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_auth_time_at_most_leeway_after_iat_or_now(offset):
    """auth_time may not follow the token it is in (nor now) by more than the leeway."""
    expected = "auth_time in the future" if offset == AFTER else None
    assert refusal(iat=NOW - 600, auth_time=NOW - 600 + L + offset) == expected
    assert refusal(iat=NOW + L, exp=NOW + 600, auth_time=NOW + L + offset) == expected


@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_the_original_sign_in_may_be_at_most_max_age_plus_leeway_old(offset):
    expected = "authentication too old" if offset == BEFORE else None
    assert refusal(auth_time=NOW - A - L + offset) == expected


def test_check_times_returns_the_original_sign_in_time():
    with time_machine.travel(NOW, tick=False):
        assert tokens.check_times({"iat": NOW - 60, "exp": NOW + 60}) == NOW - 60
        assert tokens.check_times({"iat": NOW - 60, "exp": NOW + 60, "auth_time": NOW - 90}) == (
            NOW - 90
        )
        assert tokens.check_times({"iat": NOW - 60.5, "exp": NOW + 60}) == NOW - 61


@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_delegation_refuses_an_id_token_from_exp_minus_leeway_on(client, tenant_a, offset):
    """End to end: the same boundary through ``POST /delegation`` (400 "jwt expired")."""
    with time_machine.travel(NOW - 3600, tick=False):
        token = id_token_for(
            tenant_a["tenant"], tenant_a["appA"], tenant_a["user"], exp=NOW - L + offset
        )
    with time_machine.travel(NOW, tick=False):
        response = delegate(client, tenant_a, token=token)
    if offset == AFTER:
        assert response.status_code == 200, response.content
    else:
        body = assert_error(response, 400, "invalid_grant")
        assert body["error_description"] == "jwt expired"


# --- the /delegation rate limit ------------------------------------------------------------
def test_rate_limit_window_boundaries(client, tenant_a):
    """Ten requests in the window's last second pass, the eleventh is 429 with Retry-After 1
    and X-RateLimit-Reset at the window's end; at that very second a new window starts."""
    window = ratelimit.WINDOW_SECONDS
    limit = tenant_a["tenant"].delegation_rate_limit
    with time_machine.travel(NOW, tick=False):
        token = id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"])
        first = delegate(client, tenant_a, token=token)
    assert first.status_code == 200
    assert first["X-RateLimit-Reset"] == str(NOW + window)
    assert first["X-RateLimit-Remaining"] == str(limit - 1)
    with time_machine.travel(NOW + window - 1, tick=False):
        for n in range(2, limit + 1):
            response = delegate(client, tenant_a, token=token)
            assert response.status_code == 200, n
        assert response["X-RateLimit-Remaining"] == "0"
        refused = delegate(client, tenant_a, token=token)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "1"
        assert refused["X-RateLimit-Reset"] == str(NOW + window)
    with time_machine.travel(NOW + window, tick=False):
        fresh = delegate(client, tenant_a, token=token)
        assert fresh.status_code == 200
        assert fresh["X-RateLimit-Reset"] == str(NOW + 2 * window)
        assert fresh["X-RateLimit-Remaining"] == str(limit - 1)


def test_rate_limit_state_counts_down_to_the_window_end():
    state = ratelimit.RateLimitState(limit=10, count=11, reset=NOW + 60)
    for elapsed, retry_after in [(0, 60), (59, 1), (60, 1), (61, 1)]:
        with time_machine.travel(NOW + elapsed, tick=False):
            assert state.retry_after == retry_after
    assert state.exceeded and state.remaining == 0
    at_limit = ratelimit.RateLimitState(limit=10, count=10, reset=NOW + 60)
    assert not at_limit.exceeded and at_limit.remaining == 0
    assert "Retry-After" not in at_limit.headers()
    with time_machine.travel(NOW + 15, tick=False):
        assert state.headers() == {
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(NOW + 60),
            "Retry-After": "45",
        }


# --- authorization codes and refresh tokens ------------------------------------------------
@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_authorization_code_expires_at_expires_at(client, tenant_a, offset):
    verifier, challenge = pkce_pair()
    with time_machine.travel(NOW, tick=False):
        query = login_for_code(client, tenant_a, challenge=challenge)
    row = AuthorizationCode.objects.get(tenant=tenant_a["tenant"])
    expires = int(row.expires_at.timestamp())
    app = tenant_a["appA"]
    with time_machine.travel(expires + offset, tick=False):
        response = post_token(
            client,
            tenant_a["tenant"],
            {
                "grant_type": "authorization_code",
                "client_id": app.client_id,
                "client_secret": app.client_secret(),
                "code": query["code"],
                "redirect_uri": row.redirect_uri,
                "code_verifier": verifier,
            },
        )
    if offset == BEFORE:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("offset", [BEFORE, AT, AFTER], ids=["before", "at", "after"])
def test_refresh_token_expires_at_expires_at(client, tenant_a, offset):
    with time_machine.travel(NOW, tick=False):
        issued = password_grant(client, tenant_a, scope="openid offline_access").json()
    row = RefreshToken.objects.get(tenant=tenant_a["tenant"])
    expires = int(row.expires_at.timestamp())
    assert expires > NOW
    with time_machine.travel(expires + offset, tick=False):
        response = refresh_grant(
            client, tenant_a["tenant"], tenant_a["appA"], issued["refresh_token"]
        )
    if offset == BEFORE:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

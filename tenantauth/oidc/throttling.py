"""Throttles for every credential check and every password hash a client can make us compute.

Counted by the project's one limiter (``tenantauth.limiter``: Redis when ``REDIS_URL`` is set,
so every worker shares the counts). Fixed windows; the numbers are settings.

* password check (hosted login POST, ``oauth/token`` password and password-realm grants,
  ``/admin/login/``): ``user_ip`` (the account at this address), ``user`` (the account from
  anywhere), ``ip`` (this address, any account). A success clears ``user_ip`` and gives the
  other slots back.
* client-secret check (``oauth/token`` with ``client_secret`` or Basic): ``client_ip`` (the
  client at this address) and ``ip``. A success gives the slots back.
* sign-up (``dbconnections/signup``): ``signup_ip`` (the address) and ``signup_email`` (the
  e-mail, per tenant). Every sign-up counts, successful or not: each one hashes a password.

A slot is **reserved in every counter before the check** (atomically, all or none: a Lua
script on Redis), so 20 parallel attempts against a limit of 10 let exactly 10 reach the
password hasher, whichever worker serves them. A full counter refuses the attempt with
``Throttled`` (429 with ``Retry-After``) before anything is checked. After the check the
attempt is settled in one more round trip: a failure keeps its slots; a success gives them
back, and a correct password clears the (account, address) counter, as Auth0's brute-force
protection does. The address counter ``ip`` is shared by every password and client-secret
check of every tenant and of the admin. There is no per-client counter "from anywhere": it
would let anybody lock every user of an application out of ``oauth/token``.

Keys hold SHA-256 prefixes of accounts and addresses, never the values themselves. An
unavailable store raises ``limiter.LimiterUnavailable`` (503): credentials are never checked
unthrottled.
"""

from dataclasses import dataclass, field

from django.conf import settings

from tenantauth import limiter
from tenantauth.crypto import fingerprint

# counter name -> the check it guards ("any": kept when any check of the attempt failed)
_SUBJECT = {"user_ip": "password", "user": "password", "client_ip": "client", "ip": "any"}


class Throttled(Exception):
    """Too many attempts: answer 429 with ``Retry-After: retry_after`` (seconds)."""

    def __init__(self, retry_after: int, counter: str = ""):
        super().__init__("too many attempts")
        self.retry_after = retry_after
        self.counter = counter


def _h(value: str) -> str:
    return fingerprint(value)[:32]


def _login_window() -> int:
    return settings.LOGIN_THROTTLE_WINDOW_SECONDS


def _address_counter(ip: str) -> limiter.Counter:
    return limiter.Counter(
        "ip", f"thr:ip:{_h(ip or '-')}", settings.LOGIN_THROTTLE_IP, _login_window()
    )


def password_counters(*, realm: str, account: str, ip: str) -> list[limiter.Counter]:
    """Counters of one password check of ``account`` (an e-mail, or an admin user name) in
    ``realm`` (``t<tenant id>`` or ``admin``) from address ``ip``."""
    who = _h(f"{realm}\x1f{account.strip().casefold()}")
    window = _login_window()
    return [
        limiter.Counter(
            "user_ip",
            f"thr:pwip:{realm}:{who}:{_h(ip or '-')}",
            settings.LOGIN_THROTTLE_USER_IP,
            window,
        ),
        limiter.Counter("user", f"thr:pw:{realm}:{who}", settings.LOGIN_THROTTLE_USER, window),
        _address_counter(ip),
    ]


def client_counters(*, tenant, client_id: str, ip: str) -> list[limiter.Counter]:
    """Counters of one client-secret check of ``client_id`` (known or not) from ``ip``."""
    who = _h(f"{tenant.pk}\x1f{client_id}")
    return [
        limiter.Counter(
            "client_ip",
            f"thr:cl:{tenant.pk}:{who}:{_h(ip or '-')}",
            settings.CLIENT_AUTH_THROTTLE_CLIENT_IP,
            _login_window(),
        ),
        _address_counter(ip),
    ]


def signup_counters(*, tenant, email: str, ip: str) -> list[limiter.Counter]:
    window = settings.SIGNUP_THROTTLE_WINDOW_SECONDS
    return [
        limiter.Counter(
            "signup_ip", f"thr:su:ip:{_h(ip or '-')}", settings.SIGNUP_THROTTLE_IP, window
        ),
        limiter.Counter(
            "signup_email",
            f"thr:su:{tenant.pk}:{_h(email.strip().casefold())}",
            settings.SIGNUP_THROTTLE_EMAIL,
            window,
        ),
    ]


def _reserve(counters: list[limiter.Counter]) -> limiter.Reservation:
    reservation = limiter.reserve(counters)
    if not reservation.granted:
        raise Throttled(reservation.retry_after, reservation.refused_by.name)
    return reservation


def signup_reserve(*, tenant, email: str, ip: str) -> None:
    """Count one sign-up (before its password is hashed); raises ``Throttled``."""
    _reserve(signup_counters(tenant=tenant, email=email, ip=ip))


def _dedupe(counters: list[limiter.Counter]) -> list[limiter.Counter]:
    seen: dict[str, limiter.Counter] = {}
    for counter in counters:
        seen.setdefault(counter.name, counter)
    return list(seen.values())


@dataclass
class Attempt:
    """Slots reserved for the credential checks of one request, settled once at the end.

    Use as a context manager (``with throttling.attempt(counters) as attempt:``): entering
    reserves (raising ``Throttled`` or ``LimiterUnavailable``); the checks report
    ``attempt.failed("password")`` / ``attempt.passed("client")``; leaving settles. A check
    never reported (an earlier one failed, or the request ended before it) gives its slots
    back: it was not attempted.
    """

    counters: list[limiter.Counter]
    reservation: limiter.Reservation | None = None
    outcomes: dict[str, bool] = field(default_factory=dict)

    def failed(self, subject: str) -> None:
        self.outcomes[subject] = False

    def passed(self, subject: str) -> None:
        self.outcomes.setdefault(subject, True)

    def __enter__(self) -> "Attempt":
        if self.counters:  # nothing to check, nothing to count (and no round trip)
            self.reservation = _reserve(self.counters)
        return self

    def __exit__(self, *exc_info) -> None:
        self.settle()

    def settle(self) -> None:
        if self.reservation is None:
            return
        reservation, self.reservation = self.reservation, None
        any_failed = False in self.outcomes.values()
        release, reset = [], []
        for counter, key in zip(reservation.counters, reservation.keys, strict=True):
            subject = _SUBJECT.get(counter.name, "any")
            failed = any_failed if subject == "any" else self.outcomes.get(subject) is False
            if failed:
                continue
            if counter.name == "user_ip" and self.outcomes.get("password") is True:
                reset.append(key)
            else:
                release.append(key)
        try:
            limiter.settle(release=release, reset=reset)
        except limiter.LimiterUnavailable:
            # The slots stay counted until their window ends: the safe side. The answer to
            # the client (already decided) stands.
            pass


def attempt(counters: list[limiter.Counter]) -> Attempt:
    """An ``Attempt`` over ``counters`` (duplicates by name dropped: the address counter is
    shared by the client and the password checks of one request)."""
    return Attempt(counters=_dedupe(counters))

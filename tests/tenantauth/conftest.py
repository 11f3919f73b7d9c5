"""Fixtures shared by the throttle tests (test_throttling.py, test_throttling_rules.py)."""

import pytest


@pytest.fixture
def limits(settings, counter_store):
    """Generous defaults; each test lowers the one limit it is about."""
    settings.LOGIN_THROTTLE_USER_IP = 100
    settings.LOGIN_THROTTLE_USER = 100
    settings.LOGIN_THROTTLE_IP = 100
    settings.CLIENT_AUTH_THROTTLE_CLIENT_IP = 100
    settings.SIGNUP_THROTTLE_IP = 100
    settings.SIGNUP_THROTTLE_EMAIL = 100
    return settings

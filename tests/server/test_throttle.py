"""ApiLimiter: requests per caller and per anonymous address, failed logins per account and address."""

from __future__ import annotations

import pytest

from emailactions import RateLimited
from emailactions.config.server import ApiRateLimits
from emailactions.server.throttle import ApiLimiter


def limiter(**overrides) -> ApiLimiter:
    return ApiLimiter(ApiRateLimits(**{"caller": "3 per minute", "anonymous": "2 per minute", "auth_failures": "2 per minute", **overrides}))


def test_callers_are_counted_by_name_and_anonymous_requests_by_address():
    api = limiter()
    for _ in range(3):
        api.request("mailer", "10.0.0.1")
    with pytest.raises(RateLimited) as info:
        api.request("mailer", "10.0.0.2")  # the name counts, not the address
    assert info.value.retry_after >= 1 and "3 per 1 minute" in info.value.message
    api.request("other", "10.0.0.1")
    api.request(None, "10.0.0.9")
    api.request(None, "10.0.0.9")
    with pytest.raises(RateLimited):
        api.request(None, "10.0.0.9")
    api.request(None, "10.0.0.10")


def test_failed_logins_count_per_account_and_address():
    api = limiter()
    for _ in range(2):
        api.failed("10.0.0.1", "admin")
    with pytest.raises(RateLimited) as info:
        api.check_failures("10.0.0.1", "admin")
    assert info.value.detail["scope"] == "auth_failures"
    api.check_failures("10.0.0.2", "admin")  # another address
    api.check_failures("10.0.0.1", "mailer")  # another account from the same address


def test_limits_switched_off_count_nothing():
    api = limiter(enabled=False)
    for _ in range(10):
        api.request("mailer", "10.0.0.1")
        api.failed("10.0.0.1", "admin")
    api.check_failures("10.0.0.1", "admin")

"""Issue 17: credentials a request can be checked with cheaply are checked on the
event loop (:meth:`Authenticator.quick`); only a password not verified before
goes to a worker thread for its slow hash."""

from __future__ import annotations

import base64

import pytest

from emailactions import NotAuthenticated, RateLimited
from emailactions.config.passwords import PasswordHash
from emailactions.config.server import parse_server
from emailactions.server.auth import Authenticator
from emailactions.server.throttle import ApiLimiter

from support.server import API_KEY, server_section

MAILER = {"x-openidm-username": "mailer", "x-openidm-password": "mailer-pass"}


@pytest.fixture
def auth(monkeypatch):
    settings = parse_server(server_section())
    authenticator = Authenticator(settings, ApiLimiter(settings.rate_limits))
    hashed: list[str] = []
    real = PasswordHash.verify
    monkeypatch.setattr(PasswordHash, "verify", lambda self, pw: hashed.append(pw) or real(self, pw))
    authenticator.hashed = hashed  # what the slow hash was asked to check
    return authenticator


def test_a_first_login_needs_the_hash_then_is_checked_without_it(auth):
    assert auth.quick(MAILER, "c") is None and auth.hashed == []
    assert auth.authenticate(MAILER, "c").name == "mailer" and auth.hashed == ["mailer-pass"]
    basic = {"authorization": "Basic " + base64.b64encode(b"mailer:mailer-pass").decode()}
    for headers in (MAILER, basic):
        principal = auth.quick(headers, "c")
        assert principal is not None and principal.name == "mailer" and principal.permissions == {"send"}
    assert auth.hashed == ["mailer-pass"]


def test_a_wrong_password_or_unknown_user_is_never_answered_on_the_loop(auth):
    auth.authenticate(MAILER, "c")
    for headers in ({**MAILER, "x-openidm-password": "mailer-pass "}, {"x-openidm-username": "ghost", "x-openidm-password": "x"}):
        assert auth.quick(headers, "c") is None  # the thread's hash answers, timing alike for all
        with pytest.raises(NotAuthenticated):
            auth.authenticate(headers, "c")
    assert len(auth.hashed) == 3


def test_api_keys_anonymous_and_malformed_credentials_are_answered_on_the_loop(auth):
    assert auth.quick({"authorization": API_KEY}, "c").name == "admin-tool"
    assert auth.quick({"authorization": f"Bearer {API_KEY}"}, "c").kind == "api_key"
    assert auth.quick({}, "c").anonymous
    for headers in ({"authorization": "Bearer wrong"}, {"x-openidm-username": "mailer"}, {"authorization": "Basic !!!"}):
        with pytest.raises(NotAuthenticated):
            auth.quick(headers, "c")
    assert auth.hashed == []


def test_a_locked_out_client_is_refused_on_the_loop_even_with_a_verified_password(auth):
    auth.authenticate(MAILER, "c")
    limit = auth.settings.rate_limits
    assert limit.enabled
    with pytest.raises(RateLimited):
        for _ in range(100):
            with pytest.raises(NotAuthenticated):
                auth.authenticate({**MAILER, "x-openidm-password": "wrong"}, "attacker")
    with pytest.raises(RateLimited):
        auth.quick(MAILER, "attacker")
    assert auth.quick(MAILER, "c").name == "mailer"  # another client address is not locked out

"""Credentials: password hashes, the ``[server]`` config checks, the authenticator."""

from __future__ import annotations

import base64
import hashlib

import pytest

from emailactions import ActionHost, ConfigError, NotAuthenticated, PermissionDenied, RateLimited
from emailactions.config import from_mapping
from emailactions.server.auth import Authenticator
from emailactions.config.passwords import PasswordHash, hash_password, key_digest, parse_hash
from emailactions.config.server import ApiRateLimits, parse_server
from emailactions.server.throttle import ApiLimiter

from support.server import ADMIN_HASH, API_KEY, server_section


def test_scrypt_hash_round_trip():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt:32768:8:1$")
    parsed = parse_hash(stored)
    assert parsed.verify("correct horse") and not parsed.verify("correct horse ")


def test_werkzeug_pbkdf2_format_is_read():
    salt, password = "NaClNaClNaCl", "s3cret"
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100000).hex()
    parsed = parse_hash(f"pbkdf2:sha256:100000${salt}${digest}")
    assert parsed.verify(password) and not parsed.verify("S3cret")


@pytest.mark.parametrize(
    "text",
    [
        "plaintext-password",
        "scrypt:32768:8:1$salt",
        "scrypt:30000:8:1$salt$" + "ab" * 32,  # N not a power of two
        "scrypt:2097152:8:1$salt$" + "ab" * 32,  # N too large: would stall logins
        "pbkdf2:sha256:1000$salt$" + "ab" * 32,  # too few iterations
        "pbkdf2:md5:600000$salt$" + "ab" * 32,
        "bcrypt$salt$" + "ab" * 32,
        "scrypt:32768:8:1$salt$nothex",
    ],
)
def test_bad_hashes_are_refused(text):
    with pytest.raises(ValueError):
        parse_hash(text)


@pytest.mark.parametrize(
    "section, key",
    [
        ({"colour": "blue"}, "server.colour"),
        ({"users": {"a": {"pasword": ADMIN_HASH}}}, "server.users.a.pasword"),
        ({"users": {"a": {"password": "hunter2"}}}, "server.users.a.password"),
        ({"users": {"a": {}}}, "server.users.a.password"),
        ({"users": {"anonymous": {"password": ADMIN_HASH}}}, "server.users.anonymous"),
        ({"users": {"a": {"password": ADMIN_HASH, "permissions": ["fly"]}}}, "server.users.a.permissions"),
        ({"users": {"a": {"password": ADMIN_HASH, "roles": ["ghost"]}}}, "server.users.a.roles"),
        ({"api_keys": {"k": {"key": "short"}}}, "server.api_keys.k.key"),
        ({"api_keys": {"k": {"key": API_KEY, "key_sha256": key_digest(API_KEY).hex()}}}, "server.api_keys.k"),
        ({"api_keys": {"k": {"key_sha256": "xyz"}}}, "server.api_keys.k.key_sha256"),
        ({"api_keys": {"k": {"key": API_KEY}, "k2": {"key_sha256": key_digest(API_KEY).hex()}}}, "server.api_keys.k2"),
        ({"rate_limits": {"caller": "lots"}}, "server.rate_limits.caller"),
        ({"rate_limits": {"per_ip": "1 per second"}}, "server.rate_limits.per_ip"),
        ({"port": 70000}, "server.port"),
        ({"max_body_bytes": True}, "server.max_body_bytes"),
        ({"anonymous": ["send", "nope"]}, "server.anonymous"),
        ({"tls_cert": "cert.pem"}, "server.tls_cert"),
        ({"tls_cert": "/no/such/cert.pem", "tls_key": "/no/such/key.pem"}, "server.tls_cert"),
        ({"trusted_proxies": "10.0.0.1"}, "server.trusted_proxies"),
    ],
)
def test_server_config_errors_name_the_key(section, key):
    with pytest.raises(ConfigError) as info:
        from_mapping({"server": section})
    assert info.value.detail["key"] == key
    assert "hunter2" not in info.value.message  # a clear-text password is never echoed


def test_permissions_expand_and_roles_combine():
    settings = parse_server({**server_section(), "anonymous": ["templates"]})
    assert settings.anonymous == {"templates", "templates:read", "templates:write", "preview"}
    assert settings.users["mailer"].permissions == {"send"}
    assert "outbox" in settings.users["openidm-admin"].permissions


def test_conf_folder_server_file(tmp_path):
    (tmp_path / "emailactions-server.toml").write_text(f'[server]\nport = 9090\n[server.users.openidm-admin]\npassword = "{ADMIN_HASH}"\npermissions = ["send"]\n')
    host = ActionHost(tmp_path, load_entry_points=False)
    assert host.config.server.port == 9090 and set(host.config.server.users) == {"openidm-admin"}
    host.close()
    (tmp_path / "emailactions-server.toml").write_text("[email]\nfrom = 'x@example.com'\n")
    with pytest.raises(ConfigError) as info:
        ActionHost(tmp_path, load_entry_points=False)
    assert info.value.detail["key"] == "email"


def make_auth(**section):
    settings = parse_server({**server_section(), **section})
    return Authenticator(settings, ApiLimiter(settings.rate_limits))


def test_authenticator_forms_and_principals():
    auth = make_auth()
    user = auth.authenticate({"x-openidm-username": "openidm-admin", "x-openidm-password": "openidm-admin"}, "c")
    assert user.name == "openidm-admin" and user.kind == "user"
    basic = base64.b64encode(b"mailer:mailer-pass").decode()
    assert auth.authenticate({"authorization": f"Basic {basic}"}, "c").permissions == {"send"}
    assert auth.authenticate({"authorization": API_KEY}, "c").name == "admin-tool"
    assert auth.authenticate({"authorization": f"Bearer {API_KEY}"}, "c").kind == "api_key"
    assert auth.authenticate({}, "c").anonymous
    for headers in ({"x-openidm-username": "openidm-admin"}, {"authorization": "Basic !!!"},
                    {"x-openidm-username": "ghost", "x-openidm-password": "x"}, {"authorization": "Bearer "}):  # fmt: skip
        with pytest.raises(NotAuthenticated):
            auth.authenticate(headers, "c2")


def test_password_checked_by_hash_once_then_by_hmac(monkeypatch):
    auth = make_auth()
    calls = []
    real = PasswordHash.verify
    monkeypatch.setattr(PasswordHash, "verify", lambda self, pw: calls.append(pw) or real(self, pw))
    headers = {"x-openidm-username": "mailer", "x-openidm-password": "mailer-pass"}
    for _ in range(3):
        auth.authenticate(headers, "c")
    assert len(calls) == 1
    with pytest.raises(NotAuthenticated):  # a different password is hashed again, and refused
        auth.authenticate({**headers, "x-openidm-password": "other"}, "c")
    assert len(calls) == 2


def test_concurrent_logins_with_the_same_credentials_hash_once(monkeypatch):
    import threading
    import time

    auth = make_auth()
    calls = []
    real = PasswordHash.verify

    def slow(self, pw):
        calls.append(pw)
        time.sleep(0.2)  # a slow hash: the other threads arrive while it runs
        return real(self, pw)

    monkeypatch.setattr(PasswordHash, "verify", slow)
    headers = {"x-openidm-username": "mailer", "x-openidm-password": "mailer-pass"}
    names = []
    threads = [threading.Thread(target=lambda: names.append(auth.authenticate(headers, "c").name)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert names == ["mailer"] * 8 and len(calls) == 1
    # A wrong password waiting behind it is still hashed, and refused.
    with pytest.raises(NotAuthenticated):
        auth.authenticate({**headers, "x-openidm-password": "other"}, "c")
    assert len(calls) == 2


def test_unknown_user_costs_a_hash_check_too(monkeypatch):
    auth = make_auth()
    calls = []
    monkeypatch.setattr(PasswordHash, "verify", lambda self, pw: calls.append(self.params) or False)
    with pytest.raises(NotAuthenticated):
        auth.authenticate({"x-openidm-username": "nobody", "x-openidm-password": "x"}, "c")
    assert calls == [parse_hash(ADMIN_HASH).params]  # same cost as a real user's hash


def test_principal_require_401_or_403():
    auth = make_auth(anonymous=["preview"])
    anonymous = auth.authenticate({}, "c")
    anonymous.require("preview")
    with pytest.raises(NotAuthenticated):
        anonymous.require("send")
    mailer = auth.authenticate({"x-openidm-username": "mailer", "x-openidm-password": "mailer-pass"}, "c")
    with pytest.raises(PermissionDenied) as info:
        mailer.require("templates:write")
    assert info.value.code == 403 and info.value.detail["permission"] == "templates:write"


def test_limiter_counts_failures_per_client():
    limiter = ApiLimiter(ApiRateLimits(auth_failures="2 per minute"))
    limiter.failed("10.0.0.1")
    limiter.check_failures("10.0.0.1")
    limiter.failed("10.0.0.1")
    with pytest.raises(RateLimited) as info:
        limiter.check_failures("10.0.0.1")
    assert 1 <= info.value.detail["retry_after"] <= 60
    limiter.check_failures("10.0.0.2")  # another client is not affected
    off = ApiLimiter(ApiRateLimits(enabled=False, auth_failures="1 per minute"))
    for _ in range(3):
        off.failed("x")
    off.check_failures("x")  # enabled = false: never refused


def test_a_neighbour_failing_logins_cannot_lock_the_admin_out():
    auth = make_auth(rate_limits={"auth_failures": "3 per minute"})
    admin = {"x-openidm-username": "openidm-admin", "x-openidm-password": "openidm-admin"}
    shared = "203.0.113.7"  # a NAT or an unlisted proxy: attacker and admin alike
    for headers in ({"x-openidm-username": "ghost", "x-openidm-password": "x"}, {"x-openidm-username": "mailer", "x-openidm-password": "x"},
                    {"authorization": "Bearer wrong-key-0123456789abcdef"}):  # fmt: skip
        for _ in range(5):
            with pytest.raises((NotAuthenticated, RateLimited)):
                auth.authenticate(headers, shared)
    assert auth.authenticate(admin, shared).name == "openidm-admin"
    assert auth.authenticate({"authorization": API_KEY}, shared).name == "admin-tool"


def test_failed_logins_are_throttled_per_account_and_address():
    auth = make_auth(rate_limits={"auth_failures": "2 per minute"})
    wrong = {"x-openidm-username": "mailer", "x-openidm-password": "guess"}
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            auth.authenticate(wrong, "10.0.0.1")
    with pytest.raises(RateLimited):  # that pair is held, before its hash is even checked
        auth.authenticate({**wrong, "x-openidm-password": "mailer-pass"}, "10.0.0.1")
    assert auth.authenticate({**wrong, "x-openidm-password": "mailer-pass"}, "10.0.0.2").name == "mailer"
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            auth.authenticate({"authorization": "wrong-key-0123456789abcdef"}, "10.0.0.1")
    with pytest.raises(RateLimited):  # wrong keys past the limit: 429
        auth.authenticate({"authorization": "wrong-key-0123456789abcdef"}, "10.0.0.1")

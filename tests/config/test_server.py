"""The ``[server]`` section goes through the same validator: refusals name the full dotted key."""

from __future__ import annotations

import pytest

from emailactions import ConfigError
from emailactions.config import from_mapping
from emailactions.config.server import JSON_OVERHEAD_BYTES, SERVER_RECIPIENT_LIMIT, body_limit, parse_server
from emailactions.config.model import Limits


@pytest.mark.parametrize(
    "server, key, message",
    [
        ({"port": 70000}, "server.port", "Config key 'server.port' must be at most 65535"),
        ({"port": -1}, "server.port", "Config key 'server.port' must be at least 0"),
        ({"prot": 80}, "server.prot", None),
        ({"shutdown_timeout": "soon"}, "server.shutdown_timeout", None),
        ({"rate_limits": {"callr": "5 per minute"}}, "server.rate_limits.callr", None),
        ({"rate_limits": {"enabled": "no"}}, "server.rate_limits.enabled", None),
        ({"rate_limits": {"caller": "fast"}}, "server.rate_limits.caller", None),
        ({"users": {"ann": {"pasword": "x"}}}, "server.users.ann.pasword", None),
        ({"api_keys": {"ci": {"key": "short"}}}, "server.api_keys.ci.key", None),
        ({"tls_cert": "cert.pem", "tls_key": "key.pem"}, "server.tls_cert", None),
    ],
)
def test_server_refusals_name_the_full_dotted_key(server, key, message):
    with pytest.raises(ConfigError) as info:
        from_mapping({"server": server})
    assert info.value.key == key
    if message:
        assert info.value.message == message


def test_prefix_names_where_the_table_sits():
    with pytest.raises(ConfigError) as info:
        parse_server({"rate_limits": {"anonymous": 3}}, prefix="serve")
    assert info.value.key == "serve.rate_limits.anonymous"


def test_tls_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "key.pem").write_text("x")
    settings = parse_server({"tls_cert": "cert.pem", "tls_key": "key.pem", "rate_limits": {"caller": ""}}, base=tmp_path)
    assert settings.tls_cert == tmp_path / "cert.pem" and settings.rate_limits.caller is None


def test_recipient_limit_and_body_limit_defaults():
    settings = parse_server({})
    assert settings.recipient_limit == SERVER_RECIPIENT_LIMIT == "5 per 15 minutes; 40 per day"
    assert settings.max_body_bytes is None  # derived from [email.limits] when the server starts
    assert parse_server({"recipient_limit": ""}).recipient_limit is None
    assert parse_server({"recipient_limit": "3 per hour"}).recipient_limit == "3 per hour"
    with pytest.raises(ConfigError) as info:
        from_mapping({"server": {"recipient_limit": "five a day"}})
    assert info.value.key == "server.recipient_limit"
    # Base64 of every attachment byte the limits allow, one body, and room for the rest.
    assert body_limit(Limits()) == 4 * -(-25 * 2**20 // 3) + 10 * 2**20 + JSON_OVERHEAD_BYTES
    assert body_limit(Limits(max_message_bytes=3000, max_body_bytes=100)) == 4000 + 100 + JSON_OVERHEAD_BYTES


def test_apis_jwt_secret_and_user_email(monkeypatch):
    from support.server import ADMIN_HASH

    settings = parse_server({})
    assert settings.apis == ("idm", "fusionauth") and settings.jwt_secret is None
    monkeypatch.delenv("EMAILACTIONS_JWT_SECRET", raising=False)
    assert settings.address_token_secret() is None
    monkeypatch.setenv("EMAILACTIONS_JWT_SECRET", "from-the-environment")
    assert settings.address_token_secret() == "from-the-environment"
    secret = "s" * 32
    chosen = parse_server({"apis": ["enswitch", "naverworks"], "jwt_secret": secret,
                           "users": {"ann": {"password": ADMIN_HASH, "email": "Ann <ann@example.com>"}}})  # fmt: skip
    assert chosen.apis == ("enswitch", "naverworks") and chosen.address_token_secret() == secret
    assert chosen.users["ann"].email == "ann@example.com" and secret not in repr(chosen)
    for server, key in (({"apis": ["idm", "sendgrid"]}, "server.apis"), ({"apis": "idm"}, "server.apis"),
                        ({"jwt_secret": "short"}, "server.jwt_secret"),
                        ({"users": {"ann": {"password": ADMIN_HASH, "email": "not an address"}}}, "server.users.ann.email")):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            from_mapping({"server": server})
        assert info.value.key == key

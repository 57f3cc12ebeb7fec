"""The ``[server]`` section goes through the same validator: refusals name the full dotted key."""

from __future__ import annotations

import pytest

from emailactions import ConfigError
from emailactions.config import from_mapping
from emailactions.config.server import parse_server


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

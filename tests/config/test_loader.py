"""Loading: defaults, paths that are not there, files that do not parse."""

from __future__ import annotations

import pytest

from emailactions import ActionHost, ConfigError
from emailactions.config.loader import load_config

def test_defaults_are_console():
    config = load_config(None)
    assert config.transport_options() == ("console", {})


def test_conf_folder_without_email_config_is_console(tmp_path):
    assert load_config(tmp_path).transport_options()[0] == "console"


def test_missing_path():
    with pytest.raises(ConfigError):
        load_config("/nonexistent/emailactions.toml")


def test_broken_toml_is_a_config_error(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("[email\n")
    with pytest.raises(ConfigError):
        ActionHost(path, load_entry_points=False)

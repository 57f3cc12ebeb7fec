"""``emailactions check-config``: what a config resolves to, secrets masked; exit 2 with a plain message when it is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import ROOT
from support.server import ADMIN_HASH, API_KEY

from emailactions.cli.check import MASK, masked
from emailactions.config.passwords import key_digest



def run(*args, cwd=None):
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    env.pop("EMAILACTIONS_OUTBOX", None)
    return subprocess.run([sys.executable, "-m", "emailactions", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)

SECRETS_TOML = f"""
[email]
from = "openidm@example.com"
[transports.default]
backend = "smtp"
host = "smtp.example.com"
username = "idm"
password = "hunter2-smtp"
[transports.console]
backend = "console"
[rate_limits]
storage = "redis://:hunter2-redis@cache.example.com:6379/0"
[server.users.openidm-admin]
password = "{ADMIN_HASH}"
permissions = ["*"]
[server.api_keys.automation]
key_sha256 = "{key_digest(API_KEY).hex()}"
permissions = ["*"]
"""


def test_prints_what_it_resolved_with_secrets_masked(tmp_path):
    config = tmp_path / "emailactions.toml"
    config.write_text(SECRETS_TOML, encoding="utf-8")
    proc = run("--config", str(config), "check-config")
    assert proc.returncode == 0, proc.stderr
    resolved = json.loads(proc.stdout)
    assert resolved["transports"]["default"] == {"backend": "smtp", "host": "smtp.example.com", "username": "idm", "password": MASK}
    assert resolved["transports"]["console"] == {"backend": "console"}  # as configured, not the CLI's stderr default
    assert resolved["rate_limits"]["storage"] == f"redis://:{MASK}@cache.example.com:6379/0"
    admin = resolved["server"]["users"]["openidm-admin"]
    assert admin["password"] == MASK and "*" in admin["permissions"]
    assert resolved["server"]["api_keys"]["automation"]["digest"] == MASK
    assert resolved["source"] == str(config) and resolved["outbox"]["sync_deadline"] == 15.0
    for secret in ("hunter2", ADMIN_HASH, key_digest(API_KEY).hex()):
        assert secret not in proc.stdout + proc.stderr


def test_an_idm_conf_folder_and_the_default_source(tmp_path):
    proc = run("--conf", str(ROOT / "examples" / "conf"), "check-config")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["transports"]["default"]["backend"] == "smtp"
    after = run("check-config", "--conf", str(ROOT / "examples" / "conf"))  # also after the command name
    assert after.returncode == 0 and json.loads(after.stdout) == json.loads(proc.stdout)
    proc = run("check-config", cwd=tmp_path)  # no ./emailactions.toml: the defaults
    assert proc.returncode == 0 and json.loads(proc.stdout)["transports"] == {"default": {"backend": "console"}}


@pytest.mark.parametrize(
    "text, key",
    [
        ('[transports.default]\nbackend = "smpt"\n', "smpt"),
        ('[transports.default]\nbackend = "smtp"\nprot = 25\n', "prot"),
        ('[transports.default]\nbackend = "smtp"\nport = "25"\n', "port"),
        ('[transports.default]\nbackend = "console"\nstream = "stdin"\n', "transports.default.stream"),
        ('[outbox]\nmax_atempts = 3\n', "max_atempts"),
        ("[email\n", "emailactions.toml"),
    ],
)
def test_a_wrong_config_is_a_plain_message_and_exit_2(tmp_path, text, key):
    config = tmp_path / "emailactions.toml"
    config.write_text(text, encoding="utf-8")
    proc = run("--config", str(config), "check-config")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("Error: ") and key in proc.stderr and "Internal Server Error" not in proc.stderr


def test_masked_covers_uris_connection_strings_and_secret_keys():
    assert masked("postgresql://mailer:pw@db/mail") == f"postgresql://mailer:{MASK}@db/mail"
    assert masked("host=db user=mailer password=pw dbname=mail") == f"host=db user=mailer password={MASK} dbname=mail"
    assert masked({"api_key": "k", "token": "t", "private_key": "p", "url": "https://example.com/x"}) == {
        "api_key": MASK, "token": MASK, "private_key": MASK, "url": "https://example.com/x"}  # fmt: skip
    assert masked({"password": None, "groups": {"ops": ("a@example.com",)}}) == {"password": None, "groups": {"ops": ["a@example.com"]}}

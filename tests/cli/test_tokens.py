"""``emailactions address-token``: a signed address JWT, its lifetime, and its refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jwt
import pytest

SECRET = "cli-token-secret-0123456789abcdefgh"


def run(args, tmp_path, secret=None, config=None, env_secret=""):
    path = tmp_path / "emailactions.toml"
    path.write_text(config if config is not None else (f'[server]\njwt_secret = "{secret}"\n' if secret else ""))
    env = {**os.environ, "EMAILACTIONS_JWT_SECRET": env_secret, "EMAILACTIONS_LOAD_PLUGINS": ""}
    return subprocess.run([sys.executable, "-m", "emailactions", "--config", str(path), "address-token", *args],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip


def test_token_signed_with_the_config_secret(tmp_path):
    result = run(["Box <box@example.com>", "--expires", "2h"], tmp_path, SECRET)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    claims = jwt.decode(out["jwt"], SECRET, algorithms=["HS256"])
    assert claims["address"] == out["address"] == "box@example.com"
    assert claims["exp"] - claims["iat"] == 7200 and out["expiresAt"].endswith("Z")


def test_no_expiry_by_default_and_secret_from_the_environment(tmp_path):
    result = run(["box@example.com"], tmp_path, env_secret=SECRET)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["expiresAt"] is None and "exp" not in jwt.decode(out["jwt"], SECRET, algorithms=["HS256"])


@pytest.mark.parametrize("args, secret, message", [
    (["box@example.com"], None, "jwt_secret"),
    (["not an address"], SECRET, "ADDRESS"),
    (["box@example.com", "--expires", "soon"], SECRET, "--expires"),
])  # fmt: skip
def test_refusals_are_usage_errors(tmp_path, args, secret, message):
    result = run(args, tmp_path, secret)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_short_config_secret_is_refused(tmp_path):
    result = run(["box@example.com"], tmp_path, config='[server]\njwt_secret = "short"\n')
    assert result.returncode == 2 and "at least 32 characters" in result.stderr

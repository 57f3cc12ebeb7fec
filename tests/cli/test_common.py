"""What every command shares: here, reading JSON options."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run(*args, cwd=None):
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "emailactions", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_deeply_nested_params_are_the_json_error_not_a_traceback(tmp_path):
    proc = run("action", "external/email", "send", "--params", "[" * 100_000, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    error = json.loads(proc.stderr)
    assert error["code"] == 400 and error["detail"]["param"] == "params" and "nests too deeply" in error["message"]

"""The OpenAPI document: it lists exactly the routes served, and schemathesis,
generating requests from it against a running server, finds no 5xx."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from emailactions.server.app import endpoints
from emailactions.server.openapi import PATH, document

from support.smtp_server import free_port

from support.server import Serve, copy_conf, write_config

FUZZ_KEY = "fuzz-key-0123456789abcdef"
#: Test cases per operation and phase (about 2,500 requests, ~16 s here).
FUZZ_EXAMPLES = int(os.environ.get("EMAILACTIONS_FUZZ_EXAMPLES", "25"))


def test_document_lists_exactly_the_served_routes():
    doc = document()
    served = {(e.path, m.lower()) for e in endpoints() for m in e.methods}
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    assert documented == served
    assert doc["openapi"].startswith("3.0") and doc["components"]["securitySchemes"]["apiKey"]["name"] == "Authorization"


def test_document_is_served_at_a_stable_path(client):
    response = client.get(PATH)
    assert response.status_code == 200 and response.json() == document()


def test_fuzzing_finds_no_server_error(module_smtp, tmp_path):
    """schemathesis against ``emailactions serve`` (a process of its own, as deployed)."""
    module_smtp.handler.messages.clear()
    port = free_port()
    copy_conf(tmp_path)
    # One key that may do everything, and no API limits: the fuzzer should reach every handler.
    extra = f"""
[server.rate_limits]
enabled = false
[server.api_keys.fuzzer]
key = "{FUZZ_KEY}"
permissions = ["*"]
"""
    config = write_config(tmp_path, module_smtp.port, port, extra=extra)
    config.write_text(config.read_text().replace("[email]\n", '[email]\nconf = "conf"\n', 1))
    serve = Serve(config, port)
    try:
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", serve.url + PATH,
            "--header", f"Authorization: {FUZZ_KEY}",
            "--checks", "not_a_server_error",
            "--max-examples", str(FUZZ_EXAMPLES),
            # Generated X-OpenIDM-* headers would shadow the key and turn most cases into 401s.
            "--generation-with-security-parameters", "false",
            "--generation-database", "none",
            "--request-timeout", "20",
            "--no-color",
        ]  # fmt: skip
        seed = os.environ.get("EMAILACTIONS_FUZZ_SEED")
        if seed:
            command += ["--seed", seed]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
        # The server still answers after the storm.
        assert httpx.get(serve.url + "/openidm/info/ping").status_code == 200
    finally:
        status, log = serve.stop()
    # On failure the output holds the seed and a curl command reproducing each 5xx.
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "Server error" not in proc.stdout
    assert status == 0 and "Traceback" not in log, log[-3000:]

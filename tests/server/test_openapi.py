"""The OpenAPI document: it lists exactly the routes served (each dialect only when
``[server] apis`` names it), and schemathesis, generating requests from it against
a running server with every dialect on, finds no 5xx."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from emailactions.cli.tokens import issue
from emailactions.config.server import APIS
from emailactions.server import enswitch
from emailactions.server.app import endpoints
from emailactions.server.openapi import PATH, document

from support.smtp_server import free_port

from support.server import ADMIN_HASH, Serve, copy_conf, write_config

FUZZ_KEY = "fuzz-key-0123456789abcdef"
JWT_SECRET = "fuzz-jwt-secret-0123456789abcdef0123"
#: Test cases per operation and phase (about 2,800 requests over the five dialects).
FUZZ_EXAMPLES = int(os.environ.get("EMAILACTIONS_FUZZ_EXAMPLES", "25"))


@pytest.mark.parametrize("apis", [None, ["idm"], ["fusionauth", "naverworks"], ["idm", "enswitch", "tempmail"], list(APIS)])
def test_document_lists_exactly_the_served_routes(apis):
    doc = document(apis)
    served = {(e.path, m.lower()) for e in endpoints(apis=apis) for m in e.methods}
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    assert documented == served
    assert doc["openapi"].startswith("3.0") and doc["components"]["securitySchemes"]["apiKey"]["name"] == "Authorization"


@pytest.mark.parametrize("apis", [None, list(APIS)])
def test_document_is_valid_openapi(apis):
    from openapi_spec_validator import validate

    validate(document(apis))  # raises on any violation of the OpenAPI 3.0 schema


def test_the_three_dialects_are_described_with_their_bodies_auth_and_answers():
    paths = document(list(APIS))["paths"]
    schemes = document(list(APIS))["components"]["securitySchemes"]
    get = paths[enswitch.PATH]["get"]
    assert {p["name"] for p in get["parameters"]} | {schemes[n]["name"] for s in get["security"] for n in s} == set(enswitch.PARAMS)
    assert set(paths[enswitch.PATH]["post"]["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}
    assert set(get["responses"]) == {"200", "400", "401", "402", "403"}
    assert paths["/api/send_mail"]["post"]["security"] == [{"addressToken": []}] and schemes["addressToken"]["bearerFormat"] == "JWT"
    assert paths["/external/api/send_mail"]["post"]["security"] == [] and "text/plain" in paths["/api/send_mail"]["post"]["responses"]["400"]["content"]
    naver = paths["/users/{userId}/mail"]["post"]
    assert "content" not in naver["responses"]["202"] and {"400", "401", "403"} <= set(naver["responses"])
    assert naver["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NaverMail"}


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
[server.users.enswitch]
password = "{ADMIN_HASH}"
permissions = ["send"]
[server.rate_limits]
enabled = false
[server.api_keys.fuzzer]
key = "{FUZZ_KEY}"
permissions = ["*"]
"""
    config = write_config(tmp_path, module_smtp.port, port, extra=extra)
    every_api = 'apis = ["idm", "fusionauth", "enswitch", "tempmail", "naverworks"]\njwt_secret = "' + JWT_SECRET + '"\n'
    config.write_text(config.read_text().replace("[email]\n", '[email]\nconf = "conf"\n', 1)
                      .replace("shutdown_timeout = 20\n", "shutdown_timeout = 20\n" + every_api))  # fmt: skip
    serve = Serve(config, port)
    try:
        assert httpx.get(serve.url + PATH).json() == document(APIS)
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
        # The key above is no address token: a second run gives /api/send_mail a good one.
        token = issue("fuzz@example.com", JWT_SECRET)["jwt"]
        tempmail = [*command[:command.index("--header") + 1], f"Authorization: Bearer {token}", *command[command.index("--header") + 2:],
                    "--include-path", "/api/send_mail"]  # fmt: skip
        tempmail_proc = subprocess.run(tempmail, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        # The server still answers after the storm.
        assert httpx.get(serve.url + "/openidm/info/ping").status_code == 200
    finally:
        status, log = serve.stop()
    # On failure the output holds the seed and a curl command reproducing each 5xx.
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "Server error" not in proc.stdout
    assert tempmail_proc.returncode == 0, tempmail_proc.stdout[-6000:] + tempmail_proc.stderr[-2000:]
    assert "/api/send_mail" in tempmail_proc.stdout and "Server error" not in tempmail_proc.stdout
    assert status == 0 and "Traceback" not in log, log[-3000:]

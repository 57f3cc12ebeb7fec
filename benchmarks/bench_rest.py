"""REST throughput and p99 under ``wrk``, against a trivial Starlette endpoint on the same server (issue 17, target 6).

    python benchmarks/bench_rest.py [SECONDS]

One uvicorn process serves both the emailactions app (memory transport) and a
trivial JSON endpoint beside it; ``wrk`` (20 connections) drives each in turn
in the same run: ``POST /openidm/external/email?_action=send`` with a new
recipient per request (a Lua script builds the bodies), with IDM header auth
and with an API key. Server rate limits are off: they would answer 429.
Before each run one request logs in: a password's first check costs one
scrypt per process (~0.1-0.2 s), which would otherwise fill the p99 of a
10-second run with the 20 requests that wait for it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import HTML, PARAMS  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "--serve" else 10
CONNECTIONS = 20
PASSWORD = "bench password"
SEND_PATH = "/openidm/external/email?_action=send"


def serve(port: int, key_digest: str) -> None:
    """The server process: the app over a memory transport, and /trivial beside it."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from emailactions import ActionHost
    from emailactions.config.passwords import hash_password
    from emailactions.server.app import create_app

    host = ActionHost({
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "memory"}},
        "server": {
            "rate_limits": {"enabled": False}, "recipient_limit": "",
            "users": {"openidm-admin": {"password": hash_password(PASSWORD), "permissions": ["*"]}},
            "api_keys": {"bench": {"key_sha256": key_digest, "permissions": ["send"]}},
        },
    }, load_entry_points=False)
    outbox = host.transport().outbox

    async def trivial(request):  # the baseline: Starlette's JSON response, nothing else
        return JSONResponse({"message": "ok"})

    async def clear(request):  # between runs: the memory transport keeps every message
        outbox.clear()
        return JSONResponse({"cleared": True})

    app = Starlette(routes=[Route("/trivial", trivial), Route("/clear", clear, methods=["POST"]), Mount("/", create_app(host))])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


LUA = """
local prefix, suffix = %s, %s
local headers = %s
local counter = 0
local id = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  id = wrk.thread:get("id")
end
function request()
  counter = counter + 1
  return wrk.format("POST", "%s", headers, prefix .. id .. "x" .. counter .. suffix)
end
"""


def lua_script(headers: dict[str, str]) -> str:
    params = {k: v for k, v in PARAMS.items() if k not in ("text", "html", "cc")}
    params.update(to='"Zoë Ærøskøbing" <zoe####@example.com>', body=HTML, type="text/html")
    prefix, suffix = json.dumps(params, ensure_ascii=False).split("####")
    lua_headers = "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"
    return LUA % (json.dumps(prefix, ensure_ascii=False), json.dumps(suffix, ensure_ascii=False), lua_headers, SEND_PATH)


def wrk(url: str, script: str | None = None) -> tuple[float, float, int]:
    """Requests/s, p99 in ms and non-2xx responses of one wrk run."""
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8", delete=False) as fh:
        fh.write(script or "")
    try:
        if script:
            args += ["-s", fh.name]
        out = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(fh.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, p99, int(bad.group(1)) if bad else 0


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    from emailactions.config.passwords import key_digest

    key = secrets.token_urlsafe(32)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Requests wrk leaves in flight at the end log a ClientDisconnect: not a result.
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), key_digest(key).hex()], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        print(f"wrk -t2 -c{CONNECTIONS} -d{SECONDS}s against one uvicorn process (memory transport, a new recipient per request)")
        rows = [("trivial Starlette JSON endpoint (baseline)", wrk(base + "/trivial"))]
        for label, headers in (
            ("_action=send, IDM header auth", {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": PASSWORD}),
            ("_action=send, API key", {"Authorization": key}),
        ):
            headers = {**headers, "Content-Type": "application/json"}
            warm = urllib.request.Request(base + SEND_PATH, json.dumps({**PARAMS, "to": "warm@example.com"}).encode(), headers)
            urllib.request.urlopen(warm, timeout=30).close()
            rows.append((label, wrk(base + SEND_PATH, lua_script(headers))))
            subprocess.run(["curl", "-s", "-X", "POST", base + "/clear"], stdout=subprocess.DEVNULL, check=False)
        baseline = rows[0][1][0]
        for label, (rate, p99, bad) in rows:
            errors = f"   {bad} non-2xx!" if bad else ""
            print(f"{label:<44} {rate:8.0f} req/s  p99 {p99:6.1f} ms   {rate / baseline:5.2f}x baseline{errors}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        main()

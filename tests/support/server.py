"""REST test helpers: a live uvicorn server in a thread, `serve` in a child process, credentials and configs."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from emailactions import ActionHost
from emailactions.config.passwords import hash_password

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "conf"
#: The credentials of IDM's documentation.
ADMIN, ADMIN_PASSWORD = "openidm-admin", "openidm-admin"
API_KEY = "fa-api-key-0123456789abcdef"
SENDER_KEY = "sender-only-key-0123456789"
# Cheap scrypt parameters: the tests check logins, not the cost of brute force.
FAST = {"n": 2**10, "r": 8, "p": 1}
ADMIN_HASH = hash_password(ADMIN_PASSWORD, **FAST)
MAILER_HASH = hash_password("mailer-pass", **FAST)
IDM_AUTH = {"X-OpenIDM-Username": ADMIN, "X-OpenIDM-Password": ADMIN_PASSWORD, "Accept-API-Version": "resource=1.0"}
FA_AUTH = {"Authorization": API_KEY}


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread; ``url`` is its base."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


def write_config(folder: Path, smtp_port: int, port: int, extra: str = "") -> Path:
    """An emailactions.toml for ``emailactions serve``: SMTP, file outbox, IDM's admin; ``extra`` appended."""
    path = folder / "emailactions.toml"
    path.write_text(f"""
[email]
from = "openidm@example.com"
[transports.default]
backend = "smtp"
host = "127.0.0.1"
port = {smtp_port}
timeout = 10
[outbox]
path = "outbox.sqlite3"
[rate_limits]
enabled = false
[server]
port = {port}
shutdown_timeout = 20
[server.users.openidm-admin]
password = "{ADMIN_HASH}"
permissions = ["*"]
{extra}
""")
    return path


class Serve:
    """``emailactions serve --config FILE`` in a child process, logging to ``serve.log`` beside it."""

    def __init__(self, config: Path, port: int, *, verify: Any = True) -> None:
        env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
        self.url = f"{'https' if verify is not True else 'http'}://127.0.0.1:{port}"
        # A file, not a pipe: a chatty server must never block on a full pipe.
        self.log = config.parent / "serve.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "emailactions", "serve", "--config", str(config)],
                                         stdout=out, stderr=subprocess.STDOUT, env=env)  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.url + "/openidm/info/ping", timeout=1, verify=verify).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"serve did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit status and the log."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        return self.proc.returncode, self.log.read_text(errors="replace")


def copy_conf(folder: Path) -> Path:
    """A copy of the example IDM conf folder (welcome and hello templates)."""
    return Path(shutil.copytree(EXAMPLES, folder / "conf"))


def server_section(**overrides: Any) -> dict[str, Any]:
    """A ``[server]`` table: IDM's admin, a mailer, an admin API key and a send-only key."""
    section: dict[str, Any] = {
        "users": {
            ADMIN: {"password": ADMIN_HASH, "permissions": ["*"]},
            "mailer": {"password": MAILER_HASH, "roles": ["mailer"]},
        },
        "roles": {"mailer": ["send"]},
        "api_keys": {
            "admin-tool": {"key": API_KEY, "permissions": ["templates", "sendTemplate"]},
            "sender": {"key": SENDER_KEY, "permissions": ["sendTemplate"]},
        },
    }
    section.update(overrides)
    return section


def make_config(conf: Path, smtp_port: int, folder: Path) -> dict[str, Any]:
    """SMTP to the test server, templates from ``conf``, a file outbox, no mail rate limits."""
    return {
        "email": {"from": "IDM <openidm@example.com>", "conf": str(conf)},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_port, "timeout": 10}},
        "outbox": {"path": str(folder / "outbox.sqlite3"), "backoff": 0.01, "backoff_max": 0.05, "poll_interval": 0.02},
        "rate_limits": {"enabled": False},
        "server": server_section(),
    }


def start(config: dict[str, Any], *, plugins: tuple = ()) -> tuple[ActionHost, LiveServer]:
    """A host for ``config`` and a live server over it."""
    from emailactions.server import create_app

    host = ActionHost(config, load_entry_points=False, plugins=plugins)
    return host, LiveServer(create_app(host)).start()

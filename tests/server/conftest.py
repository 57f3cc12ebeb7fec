"""A real server on loopback: uvicorn in a thread, a real SMTP server behind it."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from emailactions import ActionHost
from emailactions.server.passwords import hash_password

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "conf"
#: The credentials of IDM's documentation.
ADMIN, ADMIN_PASSWORD = "openidm-admin", "openidm-admin"
API_KEY = "fa-api-key-0123456789abcdef"
SENDER_KEY = "sender-only-key-0123456789"
# Cheap scrypt parameters: the tests check logins, not the cost of brute force.
FAST = {"n": 2**10, "r": 8, "p": 1}
ADMIN_HASH = hash_password(ADMIN_PASSWORD, **FAST)
MAILER_HASH = hash_password("mailer-pass", **FAST)


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread; ``url`` is its base."""

    def __init__(self, app: Any) -> None:
        import uvicorn

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


@pytest.fixture
def conf(tmp_path) -> Path:
    """A copy of the example IDM conf folder (welcome and hello templates)."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "conf"))


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


@pytest.fixture
def server_config(conf, smtp_server, tmp_path) -> dict[str, Any]:
    """SMTP to the test server, templates from the conf copy, a file outbox, no mail rate limits."""
    return {
        "email": {"from": "IDM <openidm@example.com>", "conf": str(conf)},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port, "timeout": 10}},
        "outbox": {"path": str(tmp_path / "outbox.sqlite3"), "backoff": 0.01, "backoff_max": 0.05, "poll_interval": 0.02},
        "rate_limits": {"enabled": False},
        "server": server_section(),
    }


def start(config: dict[str, Any], *, plugins: tuple = ()) -> tuple[ActionHost, LiveServer]:
    """A host for ``config`` and a live server over it."""
    from emailactions.server import create_app

    host = ActionHost(config, load_entry_points=False, plugins=plugins)
    return host, LiveServer(create_app(host)).start()


@pytest.fixture
def live(server_config) -> Iterator[LiveServer]:
    """A running server over :func:`server_config`; ``live.host`` is its ActionHost."""
    host, server = start(server_config)
    server.host = host  # type: ignore[attr-defined]
    yield server
    server.stop()
    host.close()


@pytest.fixture
def client(live) -> Iterator[httpx.Client]:
    """An HTTP client for the live server, without credentials."""
    with httpx.Client(base_url=live.url, timeout=20) as c:
        yield c


IDM_AUTH = {"X-OpenIDM-Username": ADMIN, "X-OpenIDM-Password": ADMIN_PASSWORD, "Accept-API-Version": "resource=1.0"}
FA_AUTH = {"Authorization": API_KEY}

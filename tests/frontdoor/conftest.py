"""Fixtures: a recording aiosmtpd sink, a host whose outbox delivers to it, the front door before it."""

from __future__ import annotations

import smtplib
from typing import Any, Callable, Iterator

import pytest

from support import FAST_OUTBOX
from support.smtp_server import SMTPServer

from emailactions import ActionHost
from emailactions.cli.tokens import issue
from emailactions.config.passwords import hash_password
from emailactions.frontdoor.server import BackgroundFrontDoor

SECRET = "front-door-test-secret-0123456789abcdef"
PASSWORD = "app-password-1"
API_KEY = "fd-api-key-0123456789abcdef"
TOKEN_ADDRESS = "temp@mail.example.com"
# scrypt at a low cost: the tests log in often.
_HASH = hash_password(PASSWORD, n=2**10)


def door_config(tmp_path: Any, sink_port: int, **sections: Any) -> dict:
    config: dict[str, Any] = {
        "email": {"from": "noreply@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": sink_port, "timeout": 5}},
        "outbox": {"path": str(tmp_path / "outbox.sqlite3"), "autostart": False, **FAST_OUTBOX},
        "rate_limits": {"enabled": False},
        "server": {
            "jwt_secret": SECRET,
            "users": {
                "app": {"password": _HASH, "permissions": ["send"], "senders": ["*@example.com"]},
                "reader": {"password": _HASH, "permissions": ["templates:read"]},
                "plain": {"password": _HASH, "permissions": ["send"]},
            },
            "api_keys": {"ci": {"key": API_KEY, "permissions": ["send"], "senders": ["ci@example.com"]}},
        },
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


@pytest.fixture
def sink() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_door(tmp_path, sink) -> Iterator[Callable[..., BackgroundFrontDoor]]:
    """``make_door(**sections)``: a host with these config sections over the defaults, its front door started."""
    started: list[tuple[ActionHost, BackgroundFrontDoor]] = []

    def make(bind: str = "127.0.0.1", plugins: tuple = (), **sections: Any) -> BackgroundFrontDoor:
        host = ActionHost(door_config(tmp_path, sink.port, **sections), load_entry_points=False, plugins=plugins)
        door = BackgroundFrontDoor(host, bind, 0).start()
        started.append((host, door))
        return door

    yield make
    for host, door in started:
        door.stop()
        host.close()


@pytest.fixture
def door(make_door) -> BackgroundFrontDoor:
    return make_door()


def token(address: str = TOKEN_ADDRESS) -> str:
    return issue(address, SECRET)["jwt"]


def client(door: BackgroundFrontDoor, user: str | None = "app", password: str = PASSWORD) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", door.port, timeout=10)
    smtp.ehlo("client.example.com")
    if user is not None:
        smtp.login(user, password)
    return smtp


def drain(door: BackgroundFrontDoor) -> dict:
    return door.host.action("external/email/outbox", "drain", {"timeout": 10})

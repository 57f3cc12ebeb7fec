"""Fixtures of the REST tests: a module-wide live server over a real SMTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from support.server import LiveServer, copy_conf, make_config, start
from support.smtp_server import SMTPServer


@pytest.fixture(scope="module")
def module_smtp() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(module_smtp) -> SMTPServer:
    """The module's SMTP server, emptied and with default behaviour for this test."""
    module_smtp.handler.messages.clear()
    module_smtp.handler.stall = lambda received: 0.0
    return module_smtp


@pytest.fixture(scope="module")
def module_live(module_smtp, tmp_path_factory) -> Iterator[LiveServer]:
    """One server per test module (starting one per test costs ~0.3 s)."""
    folder = tmp_path_factory.mktemp("live")
    host, server = start(make_config(copy_conf(folder), module_smtp.port, folder))
    server.host = host  # type: ignore[attr-defined]
    server.conf = folder / "conf"  # type: ignore[attr-defined]
    yield server
    server.stop()
    host.close()


@pytest.fixture
def live(module_live, smtp_server) -> LiveServer:
    """The module's running server with fresh API rate-limit counters;
    ``live.host`` is its ActionHost, ``live.conf`` its conf folder."""
    state = module_live.app.state.emailactions
    state.limiter.__init__(state.settings.rate_limits)
    return module_live


@pytest.fixture
def conf(tmp_path) -> Path:
    return copy_conf(tmp_path)


@pytest.fixture
def server_config(conf, smtp_server, tmp_path) -> dict[str, Any]:
    """A config for tests that start a server of their own."""
    return make_config(conf, smtp_server.port, tmp_path)


@pytest.fixture
def client(live) -> Iterator[httpx.Client]:
    """An HTTP client for the live server, without credentials."""
    with httpx.Client(base_url=live.url, timeout=20) as c:
        yield c

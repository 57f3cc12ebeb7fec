"""Fixtures of the studio tests: an app over a real host (SMTP sink, SQLite outbox) and logged-in clients."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from emailactions import ActionHost
from support.server import ADMIN, ADMIN_PASSWORD, make_config
from support.studio import USER_HASH, USERS, Studio


@pytest.fixture
def studio_config(conf, smtp_server, tmp_path) -> dict[str, Any]:
    config = make_config(conf, smtp_server.port, tmp_path)
    config["server"]["users"].update({name: {"password": USER_HASH, "permissions": perms} for name, perms in USERS.items()})
    return config


@pytest.fixture
def studio(studio_config) -> Iterator[Studio]:
    host = ActionHost(studio_config, load_entry_points=False)
    studio = Studio(host)
    yield studio
    studio.stop()
    host.close()


@pytest.fixture
def editor(studio) -> Studio:
    assert studio.login("editor").status_code == 303
    return studio


@pytest.fixture
def admin(studio) -> Studio:
    assert studio.login(ADMIN, ADMIN_PASSWORD).status_code == 303
    return studio



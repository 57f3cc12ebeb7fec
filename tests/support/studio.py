"""Studio test helpers: users with studio permissions, a live studio with a logged-in client, CSRF tokens from pages."""

from __future__ import annotations

import re
from typing import Any

import httpx

from emailactions import ActionHost
from emailactions.config.passwords import hash_password
from emailactions.server import create_app
from support.server import FAST, LiveServer

PASSWORD = "studio-pass"
USER_HASH = hash_password(PASSWORD, **FAST)
#: Users by what they may do in the studio.
USERS = {
    "editor": ["templates", "send"],
    "viewer": ["templates:read"],
    "operator": ["outbox"],
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


class Studio:
    """The studio served by uvicorn on loopback over ``host``, an httpx client with
    a login helper; ``stop()`` ends both."""

    def __init__(self, host: ActionHost, live: LiveServer | None = None) -> None:
        self.host = host
        self.live = live or LiveServer(create_app(host)).start()
        self.app = self.live.app
        self.client = httpx.Client(base_url=self.live.url, follow_redirects=False, timeout=20)
        self.csrf = ""

    def login(self, user: str = "editor", password: str = PASSWORD) -> Any:
        page = self.client.get("/studio/login")
        response = self.client.post("/studio/login", data={"csrf": csrf_of(page.text), "username": user, "password": password})
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get(response.headers["location"]).text)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Any:
        return self.client.post(path, data={**({"csrf": self.csrf} if csrf else {}), **(data or {})})

    def stop(self) -> None:
        self.client.close()
        self.live.stop()

"""Studio test helpers: users with studio permissions, a logged-in TestClient, CSRF tokens from pages."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from emailactions import ActionHost
from emailactions.config.passwords import hash_password
from emailactions.server import create_app
from support.server import FAST

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
    """A TestClient over the studio with a login helper; ``host`` is the app's host."""

    def __init__(self, host: ActionHost, base_url: str = "http://127.0.0.1") -> None:
        self.host = host
        self.app = create_app(host)
        self.client = TestClient(self.app, base_url=base_url, follow_redirects=False)
        self.csrf = ""

    def login(self, user: str = "editor", password: str = PASSWORD) -> Any:
        page = self.client.get("/studio/login")
        response = self.client.post("/studio/login", data={"csrf": csrf_of(page.text), "username": user, "password": password})
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get("/studio/templates" if user != "operator" else "/studio/outbox").text)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Any:
        return self.client.post(path, data={**({"csrf": self.csrf} if csrf else {}), **(data or {})})

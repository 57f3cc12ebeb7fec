"""The template studio at ``/studio``: edit, preview and test-send templates, watch the outbox.

Server-rendered pages (Jinja2) with a small script for the live preview;
every list and form works without JavaScript. See ``docs/studio.md``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from emailactions.server.app import ServerState
from emailactions.server.studio import editor, login, outbox
from emailactions.errors import UnknownResource
from emailactions.server.studio.web import HEADERS, HERE, Handler, Studio, error_page, page

#: The files under ``static/``, by URL name: nothing else is served from disk.
STATIC = {"studio.css": "text/css", "studio.js": "text/javascript"}


def routes(state: ServerState) -> list[Route]:
    """The studio's routes over the server's state (its host, users and limits)."""
    studio = Studio(state)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("Not found", status_code=404, headers=HEADERS)
        headers = {**HEADERS, "Cache-Control": "no-cache"}
        return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers=headers)

    async def not_found(request: Request) -> Response:
        # A studio-shaped 404 (an HTML page with the studio's headers), not the API's JSON.
        return error_page(studio, UnknownResource("There is no such studio page"))

    def get(path: str, permission: str | None, handler: Handler) -> Route:
        return Route(path, page(studio, permission, handler), methods=["GET"])

    def post(path: str, permission: str | None, handler: Handler) -> Route:
        return Route(path, page(studio, permission, handler), methods=["POST"])

    return [
        get("/studio", None, login.start),
        Route("/studio/static/{name}", static, methods=["GET"]),
        Route("/studio/login", login.login_page(studio), methods=["GET"]),
        Route("/studio/login", login.login_submit(studio), methods=["POST"]),
        post("/studio/logout", None, login.logout),
        get("/studio/templates", "templates:read", editor.list_templates),
        post("/studio/templates", "templates:write", editor.create),
        get("/studio/templates/{id}", "templates:read", editor.editor),
        post("/studio/templates/{id}", "templates:read", editor.editor_post),
        post("/studio/templates/{id}/preview", "preview", editor.live_preview),
        post("/studio/templates/{id}/duplicate", "templates:write", editor.duplicate),
        post("/studio/templates/{id}/delete", "templates:write", editor.delete),
        get("/studio/preview/{key}", "preview", editor.preview_html),
        get("/studio/outbox", "outbox", outbox.view),
        post("/studio/outbox/retry", "outbox", outbox.retry),
        post("/studio/outbox/purge", "outbox", outbox.purge),
        Route("/studio/{rest:path}", not_found, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    ]

"""Studio login and logout with the server's users (``[server.users.NAME]``).

The password is checked by the API's authenticator, so logins are throttled
exactly as the API's are (failures per user name and client address), and
the same slow hash guards both doors.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from emailactions.errors import EmailActionsError, NotAuthenticated, PermissionDenied
from emailactions.server.studio.session import COOKIE
from emailactions.server.studio.web import Page, Studio, client_of, error_page, read_form, redirect, retry_after, set_cookie

#: Longest user name or password read from the form.
MAX_FIELD = 1024


def _next(value: str | None, permissions: frozenset[str] = frozenset()) -> str:
    """Where to go after login: a studio path only (never another site: ``//evil`` or ``/\\evil``);
    by default the first page the user may see."""
    if value and value.startswith("/studio/") and not any(c in value for c in "\\\r\n") and "//" not in value:
        return value
    return home(permissions)


def home(permissions: frozenset[str]) -> str:
    """The templates, or the outbox for a user who may see only that."""
    return "/studio/outbox" if "outbox" in permissions and "templates:read" not in permissions else "/studio/templates"


async def start(page: Page) -> Response:
    """``/studio``: the user's first page."""
    return redirect(home(page.principal.permissions))


def login_page(studio: Studio):
    async def endpoint(request: Request) -> Response:
        session = studio.sessions.get(request.cookies.get(COOKIE))
        principal = studio.principal(session)
        if principal is not None:
            return redirect(_next(request.query_params.get("next"), principal.permissions))
        try:
            studio.state.limiter.request(None, client_of(request))
        except EmailActionsError as exc:
            return error_page(studio, exc)
        if session is None:
            session = studio.sessions.new()
        response = studio.html("login.html", user=None, csrf=session.csrf, can=lambda p: False,
                               next=request.query_params.get("next", "")[:512], error=None, username="")  # fmt: skip
        set_cookie(response, request, session)
        return response

    return endpoint


def login_submit(studio: Studio):
    async def endpoint(request: Request) -> Response:
        session = studio.sessions.get(request.cookies.get(COOKIE))
        client = client_of(request)
        try:
            studio.state.limiter.request(None, client)
            if session is None:
                raise PermissionDenied("The login form has expired or is not from the studio; reload it and try again")
            form = await read_form(request)
            if not session.csrf_ok(form.get("csrf")):
                raise PermissionDenied("The form's CSRF token is missing or wrong; reload the page and try again")
        except EmailActionsError as exc:
            return error_page(studio, exc)
        username, password = form.get("username", "")[:MAX_FIELD], form.get("password", "")[:MAX_FIELD]
        try:
            if not username or username == "anonymous":
                raise NotAuthenticated("Wrong user name or password")
            headers = {"x-openidm-username": username, "x-openidm-password": password}
            principal = await run_in_threadpool(studio.state.auth.authenticate, headers, client)
            if principal.anonymous:
                raise NotAuthenticated("Wrong user name or password")
        except EmailActionsError as exc:
            message = "Wrong user name or password" if exc.code == 401 else exc.message
            response = studio.html("login.html", exc.code, user=None, csrf=session.csrf, can=lambda p: False,
                                   next=form.get("next", "")[:512], error=message, username=username)  # fmt: skip
            response.headers.update(retry_after(exc))
            return response
        # A fresh id at login: an id planted before it (session fixation) is worth nothing.
        studio.sessions.drop(session.id)
        fresh = studio.sessions.new(principal.name)
        response = redirect(_next(form.get("next"), principal.permissions))
        set_cookie(response, request, fresh)
        return response

    return endpoint


async def logout(page: Page) -> Response:
    page.studio.sessions.drop(page.session.id)
    response = redirect("/studio/login")
    response.delete_cookie(COOKIE, path="/studio")
    return response

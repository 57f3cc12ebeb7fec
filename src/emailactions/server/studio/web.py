"""The studio's request plumbing: sessions, CSRF, permissions, pages and headers.

Every studio route goes through :func:`page`: find the session, count the
request against the API's per-caller limit, check the CSRF token of a form
(403 without it, before anything is read or changed), check the permission,
then render a server-side Jinja2 page with the security headers below.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, quote

import jinja2
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from emailactions.errors import EmailActionsError, InvalidParams, PermissionDenied, RateLimited, TooLarge
from emailactions.server.app import Call, ServerState
from emailactions.server.auth import Principal
from emailactions.server.protocol import printable, public_error
from emailactions.server.studio.samples import Samples
from emailactions.server.studio.session import COOKIE, COOKIE_PATH, MAX_AGE, Session, Sessions
from emailactions.templates.model import MAX_FILE_BYTES

log = logging.getLogger("emailactions.server.studio")

HERE = Path(__file__).parent
#: Studio pages: scripts and styles from the studio itself only, no framing, no referrer.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: A rendered HTML preview: sandboxed (no scripts, a unique origin) even when opened
#: on its own, inline styles (as mail has them) and images, nothing else.
PREVIEW_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; font-src data:; frame-ancestors 'self'"
HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PREVIEW_HEADERS = {**HEADERS, "Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"}
#: A form body: four template parts at the store's limit, and room for the rest.
MAX_FORM_BYTES = 4 * MAX_FILE_BYTES + 512 * 1024
#: Test sends per user: a studio is not a bulk mailer.
TEST_SEND_LIMIT = "5 per minute; 50 per day"


class Studio:
    """What the studio shares between requests: the server's state, sessions, samples, pages."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.host = state.host
        self.sessions = Sessions()
        self.samples = Samples.for_host(state.host)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )  # fmt: skip
        self._sends = MovingWindowRateLimiter(MemoryStorage())
        self._send_limits = [parse(item) for item in TEST_SEND_LIMIT.split(";")]

    def principal(self, session: Session | None) -> Principal | None:
        """The session's user as the API would see them (current permissions), or ``None``."""
        if session is None or session.user is None:
            return None
        user = self.state.settings.users.get(session.user)
        if user is None:
            return None
        return Principal(user.name, "user", user.permissions, user.senders, user.email)

    def count_test_send(self, user: str) -> None:
        """429 past :data:`TEST_SEND_LIMIT` for this user."""
        for item in self._send_limits:
            if not self._sends.hit(item, "studio-test-send", user):
                raise RateLimited(f"Too many test sends: limit {item}", scope="studio_test_send", limit=str(item))

    def html(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status, headers=HEADERS)


@dataclass
class Page:
    """One studio request as a handler sees it."""

    studio: Studio
    request: Request
    session: Session
    principal: Principal
    form: dict[str, str] = field(default_factory=dict)

    @property
    def call(self) -> Call:
        """The API's view of this request: its ``run`` applies the caller's mail limits and senders."""
        return Call(self.request, self.principal, self.studio.state)

    def can(self, permission: str) -> bool:
        return permission in self.principal.permissions

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.studio.html(name, status, user=self.principal.name, csrf=self.session.csrf, can=self.can, **context)


def set_cookie(response: Response, request: Request, session: Session) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure over TLS, the studio's path only."""
    response.set_cookie(
        COOKIE, session.id, max_age=MAX_AGE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "-"


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what the studio's forms send), size-bounded.

    The stdlib's parser: the studio has no file uploads, so no multipart parser is needed.
    """
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise InvalidParams("The studio takes form posts (application/x-www-form-urlencoded)", param="Content-Type")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise TooLarge(f"The form is larger than {MAX_FORM_BYTES} bytes", limit=MAX_FORM_BYTES)
        chunks.append(chunk)
    try:
        pairs = parse_qsl(b"".join(chunks).decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise InvalidParams("The form is not valid UTF-8 form data", param="form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def retry_after(exc: EmailActionsError) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) for a 429 that knows when to come back."""
    seconds = exc.detail.get("retry_after")
    if exc.code != 429 or seconds is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(float(seconds))))}


def error_page(studio: Studio, exc: EmailActionsError, session: Session | None = None, principal: Principal | None = None) -> HTMLResponse:
    shown = public_error(exc)
    headers = retry_after(shown)
    response = studio.html(
        "error.html", shown.code, user=principal.name if principal else None, csrf=session.csrf if session else "",
        can=lambda p: False, code=shown.code, message=shown.message, param=shown.detail.get("param"),
    )  # fmt: skip
    response.headers.update(headers)
    return response


Handler = Callable[[Page], Awaitable[Response]]


def page(studio: Studio, permission: str | None, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route that needs a logged-in user holding ``permission`` (``None``: any user); forms need the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        response = await _answer(request)
        # As the API's request log: who, what, the outcome; never a form's content.
        log.info("%s %s caller=%s client=%s -> %d (%.0f ms)", request.method, printable(request.url.path),
                 getattr(request.state, "caller", "-"), client_of(request), response.status_code, (time.perf_counter() - started) * 1000)  # fmt: skip
        return response

    async def _answer(request: Request) -> Response:
        session = studio.sessions.get(request.cookies.get(COOKIE))
        principal = studio.principal(session)
        request.state.caller = principal.name if principal else "-"
        client = client_of(request)
        try:
            if session is None or principal is None:
                if request.method != "GET":
                    # A form from a lost session: refused before its body is read, as a forged one would be.
                    raise PermissionDenied("Your session has expired or the form is not from the studio; log in again")
                return redirect(f"/studio/login?next={quote(request.url.path)}")
            studio.state.limiter.request(principal.name, client)
            form: dict[str, str] = {}
            if request.method == "POST":
                form = await read_form(request)
                if not session.csrf_ok(form.get("csrf")):
                    raise PermissionDenied("The form's CSRF token is missing or wrong; reload the page and try again")
            if permission is not None:
                principal.require(permission)
            return await handler(Page(studio, request, session, principal, form))
        except EmailActionsError as exc:
            if exc.code >= 500:
                log.error("studio %s %s failed: %s", request.method, printable(request.url.path), exc.message)
            return error_page(studio, exc, session, principal)
        except Exception:
            # As the API's boundary: the user gets a bare 500, the log gets the traceback.
            log.exception("studio %s %s raised", request.method, printable(request.url.path))
            return error_page(studio, EmailActionsError("Internal error"), session, principal)

    return endpoint

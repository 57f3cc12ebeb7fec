"""The ASGI app: routes, and what every request goes through.

Each request is authenticated, counted against the API rate limits, handed
to its route's handler (which checks the permission it needs before reading
the body), and logged with its caller and outcome, never with its body or
credentials. Every error becomes a JSON body in the route family's shape;
anything unexpected is logged with its traceback and answered with a bare 500.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

from emailactions.config import RateLimitConfig
from emailactions.delivery.ratelimit import RateLimiter, applying, build
from emailactions.params.senders import CallerSenders, bound
from emailactions.errors import EmailActionsError, EngineUnavailable, MethodNotAllowed, NotAuthenticated, TooLarge, UnknownResource
from emailactions.plugins import PluginManager, shared_plugin_manager
from emailactions.registry import Registry
from emailactions.server.auth import Authenticator, Principal
from emailactions.server.protocol import CONTENT_API_VERSION, check_length, check_media_type, fusionauth_error, idm_error, parse_json, printable, public_error
from emailactions.config.server import ServerConfig, body_limit
from emailactions.server.throttle import ApiLimiter

try:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - exercised by installing without the extra
    raise EngineUnavailable(
        "emailactions serve needs the server extra: pip install 'emailactions[server]'", extra="server"
    ) from exc

log = logging.getLogger("emailactions.server")

#: The API dialects that ship with emailactions, by their ``[server] apis`` name.
DIALECTS = {
    "idm": "emailactions.server.idm",
    "fusionauth": "emailactions.server.fusionauth",
    "enswitch": "emailactions.server.enswitch",
    "tempmail": "emailactions.server.tempmail",
    "naverworks": "emailactions.server.naverworks",
}
#: The server's own plugins: the dialects and the OpenAPI document.
SERVER_PLUGINS = (*DIALECTS.values(), "emailactions.server.openapi")
#: Headers every response carries: nothing here is cacheable or sniffable.
_COMMON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class Reply:
    """What a handler answers: a status, a JSON-ready body (``None``: empty;
    ``bytes``: sent as they are, typed by a ``Content-Type`` header) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Call:
    """One request as a handler sees it: who calls, the host, and body helpers."""

    def __init__(self, request: Request, principal: Principal, state: "ServerState") -> None:
        self.request = request
        self.principal = principal
        self.state = state
        self.host = state.host
        self.query = request.query_params
        self.headers = request.headers
        self.path_params = request.path_params

    def require(self, permission: str) -> None:
        """Stop here unless the caller holds ``permission`` (401 anonymous, 403 otherwise)."""
        self.principal.require(permission)

    def require_authenticated(self) -> None:
        """For routes that refuse everyone: an unknown caller learns only 401."""
        if self.principal.anonymous and not self.principal.permissions:
            raise NotAuthenticated("Access Denied")

    async def body(self) -> Any:
        """The parsed JSON body (``None`` if empty): 415 if not JSON, 413 if too large."""
        has_body = self.headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in self.headers
        if has_body:
            check_length(self.headers.get("content-length"), self.state.max_body_bytes)
            check_media_type(self.headers.get("content-type"))
        raw = await self.raw_body()
        if raw and not has_body:
            check_media_type(self.headers.get("content-type"))
        return parse_json(raw)

    async def raw_body(self) -> bytes:
        """The body's bytes, whatever its media type: 413 past the body limit."""
        limit = self.state.max_body_bytes
        check_length(self.headers.get("content-length"), limit)
        chunks, size = [], 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The request body is larger than {limit} bytes", limit=limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def run(self, fn: Callable[..., Any], *args: Any, own_senders: tuple[str, ...] = (), **kwargs: Any) -> Any:
        """Run blocking work (SMTP, files, templates) off the event loop; mail it
        sends counts against ``[server] recipient_limit`` unless the caller holds ``*``,
        and uses only the senders the caller may use. ``own_senders``: addresses a
        dialect binds the caller to (an address token's), allowed besides the user's ``email``."""
        trusted = "*" in self.principal.permissions
        limiter = None if trusted else self.state.recipient_limiter
        senders = self.principal.senders
        own = (*own_senders, *((self.principal.email,) if self.principal.email else ()))
        rule = None if trusted and senders is None else CallerSenders(senders, own)
        return await run_in_threadpool(_limited, limiter, rule, fn, *args, **kwargs)


def _limited(limiter: RateLimiter | None, rule: CallerSenders | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with applying(limiter), bound(rule):
        return fn(*args, **kwargs)


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Endpoint:
    """A route: path, methods, handler; ``public`` skips authentication.

    ``errors`` answers this route's errors in its dialect's shape (IDM's or
    FusionAuth's by path otherwise); it gets the error as a client may see it.
    """

    path: str
    methods: Sequence[str]
    handler: Handler
    public: bool = False
    errors: Callable[[EmailActionsError], Reply] | None = None


class ServerState:
    """What the app shares between requests: host, settings, auth and limits."""

    def __init__(self, host: Any, settings: ServerConfig) -> None:
        self.host = host
        self.settings = settings
        self.limiter = ApiLimiter(settings.rate_limits)
        self.auth = Authenticator(settings, self.limiter)
        #: Counted in the host's ``[rate_limits] storage``, so servers sharing Redis share it.
        mail = host.config.rate_limits
        self.recipient_limiter = build(
            RateLimitConfig(recipient=settings.recipient_limit, strategy=mail.strategy, storage=mail.storage),
            {"recipient": "server.recipient_limit"},
        )
        self.max_body_bytes = settings.max_body_bytes or body_limit(host.config.limits)


def _is_fusionauth(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _json_bytes(body: Any, pretty: bool) -> bytes:
    return json.dumps(body, ensure_ascii=False, default=str, indent=2 if pretty else None).encode("utf-8")


def render(request: Request, reply: Reply) -> Response:
    """A handler's reply as an HTTP response with the common headers."""
    headers = {**_COMMON_HEADERS, **reply.headers}
    if request.url.path.startswith("/openidm"):
        headers["Content-API-Version"] = CONTENT_API_VERSION
    if reply.body is None or isinstance(reply.body, bytes):
        return Response(reply.body, status_code=reply.status, headers=headers)
    pretty = request.query_params.get("_prettyPrint", "").lower() == "true"
    return Response(_json_bytes(reply.body, pretty), status_code=reply.status, headers=headers, media_type="application/json")


def error_response(request: Request, exc: EmailActionsError, headers: dict[str, str] | None = None) -> Response:
    """The error body of the route family, with ``Retry-After`` for a 429."""
    shown = public_error(exc)
    body = fusionauth_error(shown) if _is_fusionauth(request.url.path) else idm_error(shown)
    extra = dict(headers or {})
    retry_after = exc.detail.get("retry_after")
    if exc.code == 429 and retry_after is not None:
        extra["Retry-After"] = str(max(1, int(-(-float(retry_after) // 1))))
    if exc.code == 401 and not request.url.path.startswith("/openidm"):
        extra["WWW-Authenticate"] = 'Basic realm="emailactions"'
    return render(request, Reply(exc.code, body, extra))


def _endpoint(state: ServerState, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        client = request.client.host if request.client else "-"
        caller, outcome = "-", "ok"
        try:
            principal = state.auth.anonymous
            if not endpoint.public:
                headers = request.headers
                if any(h in headers for h in ("authorization", "x-openidm-username", "x-openidm-password")):
                    caller = state.auth.claimed(headers)
                    # A verified password (an HMAC compare) or an API key (one
                    # SHA-256) is checked here on the loop; only a password not
                    # seen before costs ~0.1 s of scrypt, in a worker thread.
                    principal = state.auth.quick(headers, client) or await run_in_threadpool(state.auth.authenticate, headers, client)
                caller = principal.name
                state.limiter.request(None if principal.anonymous else principal.name, client)
            response = render(request, await endpoint.handler(Call(request, principal, state)))
        except EmailActionsError as exc:
            outcome = exc.kind
            if exc.code >= 500 and public_error(exc) is not exc:
                # With its cause's traceback (a plugin's bug), as for an exception of no known kind.
                log.error("%s %s by %s failed: %s", request.method, printable(request.url.path), caller, exc.message,
                          exc_info=exc if exc.__cause__ is not None else None)  # fmt: skip
            response = render(request, endpoint.errors(public_error(exc))) if endpoint.errors else error_response(request, exc)
        except Exception:
            # The HTTP boundary is the one place that must catch everything:
            # the client gets a bare 500, the log gets the traceback.
            outcome = "internal_error"
            log.exception("%s %s by %s raised", request.method, printable(request.url.path), caller)
            response = error_response(request, EmailActionsError("Internal error"))
        if log.isEnabledFor(logging.INFO):  # printable() walks each character: not for a dropped line
            action = request.query_params.get("_action")
            log.info(
                "%s %s%s caller=%s client=%s -> %d %s (%.0f ms)",
                printable(request.method, 16), printable(request.url.path), f"?_action={printable(action, 40)}" if action else "", caller, client,
                response.status_code, outcome, (time.perf_counter() - started) * 1000,
            )  # fmt: skip
        return response

    return handle


async def _http_error(request: Request, exc: Exception) -> Response:
    """Router answers (no route, wrong method) in our error shapes."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: EmailActionsError = MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}")
        return error_response(request, error, dict(exc.headers or {}))
    if exc.status_code == 404:
        error = UnknownResource(f"Resource '{request.url.path[:200]}' not found")
    else:
        error = EmailActionsError(exc.detail if isinstance(exc.detail, str) else "Error")
        error.code = exc.status_code
    return error_response(request, error)


def endpoints(plugin_manager: PluginManager | None = None, apis: Sequence[str] | None = None) -> list[Endpoint]:
    """Every route the ``register_api_routes`` hook gives, in the order given:
    IDM's, FusionAuth's, the OpenAPI document's, and any plugin's.

    The server's own route modules join the manager here (once): they import
    Starlette, which the core never loads. Without a manager, the built-ins
    only. ``apis`` names the built-in dialects served (``[server] apis``;
    ``None``: the default ones); the others stay registered but are not asked,
    so hosts with different choices can share one manager.
    """
    pm = plugin_manager or shared_plugin_manager(load_entry_points=False)
    pm.register_builtins(SERVER_PLUGINS)
    chosen = set(ServerConfig.apis if apis is None else apis)
    left_out = [pm.get_plugin(module) for name, module in DIALECTS.items() if name not in chosen]
    table: list[Endpoint] = []
    taken: Registry[Endpoint] = Registry("API route", label=lambda name: f"API route {name}")

    def register(endpoint: Endpoint, plugin: str = "") -> None:
        for method in endpoint.methods:
            taken.add(f"{method} {endpoint.path}", endpoint, plugin)
        table.append(endpoint)

    pm.subset_hook_caller("register_api_routes", left_out)(register=register)
    return table


def create_app(host: Any, *, settings: ServerConfig | None = None, close_host: bool = False) -> Starlette:
    """The ASGI app over ``host``; ``settings`` default to ``host.config.server``.

    With ``close_host``, the app's shutdown closes the host after the last
    request finished: the outbox worker stops, and mail submitted but not yet
    delivered stays in the outbox file for the next start.
    """
    state = ServerState(host, settings if settings is not None else host.config.server)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if close_host:
            log.info("shutting down: stopping delivery; undelivered mail stays in the outbox")
            await run_in_threadpool(host.close)

    routes = [Route(e.path, _endpoint(state, e), methods=list(e.methods)) for e in endpoints(host.plugin_manager, state.settings.apis)]
    # The template studio's pages (/studio); imported here, as it builds on this module.
    from emailactions.server.studio import routes as studio_routes

    routes += studio_routes(state)
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error}, lifespan=lifespan)
    app.state.emailactions = state
    return app

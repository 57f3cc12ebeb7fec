"""Listening: the front door on an asyncio server, in the foreground (the CLI) or a thread (embedding, tests)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from emailactions.errors import EngineUnavailable
from emailactions.frontdoor.door import FrontDoor

try:
    from emailactions.frontdoor.session import FrontDoorSMTP
except ImportError as exc:  # pragma: no cover - exercised by installing without the extra
    raise EngineUnavailable(
        "emailactions smtp-serve needs the smtp-server extra: pip install 'emailactions[smtp-server]'", extra="smtp-server"
    ) from exc

log = logging.getLogger("emailactions.frontdoor")


class Listening:
    """A started front door: its asyncio server and shared state."""

    def __init__(self, server: asyncio.AbstractServer, door: FrontDoor) -> None:
        self.server, self.door = server, door
        self.address, self.port = server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        """Stop accepting, hang up on open connections, wait for the sockets to close."""
        self.server.close()
        self.door.hang_up_all()
        await self.server.wait_closed()
        for _ in range(100):  # their handler tasks end on the next turns of the loop
            if not self.door.sessions:
                break
            await asyncio.sleep(0.01)


async def start(host: Any, bind: str | None = None, port: int | None = None, door: FrontDoor | None = None) -> Listening:
    """Listen on ``bind``:``port`` (default ``[smtp_server]`` host and port; 0 picks a free port).

    ``door``: the shared state, if already built (the CLI builds it first, so
    a bad certificate is a config error before anything listens)."""
    door = door or FrontDoor(host)
    settings = door.settings
    loop = asyncio.get_running_loop()
    implicit = settings.implicit_tls

    def factory() -> FrontDoorSMTP:
        return FrontDoorSMTP(door, implicit_tls=implicit, loop=loop)

    server = await loop.create_server(
        factory, host=bind or settings.host, port=settings.port if port is None else port, ssl=door.tls if implicit else None
    )
    where = ", ".join(f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in server.sockets)
    mode = "implicit TLS" if implicit else "STARTTLS" if door.tls else "no TLS"
    log.info("SMTP front door listening on %s (%s, SIZE %d)", where, mode, door.size)
    return Listening(server, door)


class BackgroundFrontDoor:
    """The front door on its own event loop in a thread: ``start()``, then ``.port``, ``stop()``."""

    def __init__(self, host: Any, bind: str | None = None, port: int | None = 0) -> None:
        self.host, self.bind, self.requested = host, bind, port
        self.address, self.port = "", 0
        self._loop = asyncio.new_event_loop()
        self._listening: Listening | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-front-door", daemon=True)

    def start(self) -> "BackgroundFrontDoor":
        self._thread.start()
        self._listening = asyncio.run_coroutine_threadsafe(start(self.host, self.bind, self.requested), self._loop).result(30)
        self.address, self.port = self._listening.address, self._listening.port
        return self

    def stop(self) -> None:
        if self._listening is not None:
            asyncio.run_coroutine_threadsafe(self._listening.close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    def __enter__(self) -> "BackgroundFrontDoor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

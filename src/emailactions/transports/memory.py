"""MemoryTransport: keeps sent messages in a list, for tests and dry runs."""

from __future__ import annotations

import threading

from emailactions.hookspecs import hookimpl
from emailactions.mime.message import Message
from emailactions.transports.base import BaseTransport, SendResult


class MemoryTransport(BaseTransport):
    """Appends every message to ``outbox``; nothing leaves the process."""

    name = "memory"

    def __init__(self) -> None:
        super().__init__()
        #: Messages in the order they were sent (immutable, so no copies needed).
        self.outbox: list[Message] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> SendResult:
        with self._lock:
            self.outbox.append(message)
        return self.result(message, response="stored in memory")


@hookimpl
def register_transports(register):
    register("memory", MemoryTransport)

"""FileTransport: one ``.eml`` file per message in a folder, written atomically."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from emailactions.files import atomic_write
from emailactions.errors import ConfigError, TransportError
from emailactions.hookspecs import hookimpl
from emailactions.mime.message import Message
from emailactions.transports.base import BaseTransport, SendResult, option

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9.-]+")


class FileTransport(BaseTransport):
    """Writes ``<time>-<message-id>.eml`` files that any mail client opens."""

    name = "file"

    def __init__(self, *, path: str | os.PathLike[str]) -> None:
        super().__init__()
        option(path, (str, os.PathLike), "path")
        self.path = Path(path)

    def open(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"Cannot create mail folder {str(self.path)!r}: {exc.strerror}", key="path") from exc

    def send(self, message: Message) -> SendResult:
        self.open()
        stem = _UNSAFE_NAME.sub("_", message.message_id.strip("<>"))[:80]
        target = self.path / f"{time.time_ns()}-{stem}.eml"
        try:
            atomic_write(target, message.data)  # readers never see half a message
        except OSError as exc:
            raise TransportError(f"Cannot write {target.name}: {exc.strerror}", transport=self.alias) from exc
        return self.result(message, response=f"written to {target}")


@hookimpl
def register_transports(register):
    register("file", FileTransport)

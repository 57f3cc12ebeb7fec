"""ConsoleTransport: prints each message, with control characters made visible."""

from __future__ import annotations

import re
import sys
import threading
from typing import TextIO

from emailactions.errors import ConfigError
from emailactions.hookspecs import hookimpl
from emailactions.mime.message import Message
from emailactions.transports.base import BaseTransport, SendResult

# Everything a terminal could act on (escape sequences, bells, bidi tricks).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(ch: re.Match[str]) -> str:
    code = ord(ch.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def make_visible(data: bytes) -> str:
    """Message bytes as terminal-safe text: CRLF becomes a newline, controls escape."""
    text = data.decode("utf-8", "backslashreplace").replace("\r\n", "\n")
    return _UNSAFE.sub(_visible, text.replace("\r", "\\r"))


#: What ``stream`` may name in a config file.
STREAMS = ("stdout", "stderr")


class ConsoleTransport(BaseTransport):
    """Writes each message to a stream, between rules.

    ``stream`` is ``"stdout"`` (the default, for embedders), ``"stderr"`` (what
    the CLI picks, so that its stdout carries only the result JSON) or a text
    file object. A named stream is looked up at each send, so a redirected
    ``sys.stdout`` (pytest's capsys) is honoured.
    """

    name = "console"

    def __init__(self, *, stream: str | TextIO | None = None) -> None:
        super().__init__()
        if isinstance(stream, str) and stream not in STREAMS:
            raise ConfigError(f"Option 'stream' must be one of {list(STREAMS)}, not {stream!r}", key="stream")
        self._stream = stream or "stdout"
        self._lock = threading.Lock()

    def send(self, message: Message) -> SendResult:
        stream = getattr(sys, self._stream) if isinstance(self._stream, str) else self._stream
        rule = "-" * 72
        text = (
            f"{rule}\nMAIL FROM: {message.sender}\nRCPT TO: {', '.join(message.recipients)}\n"
            f"{rule}\n{make_visible(message.data)}{rule}\n"
        )
        with self._lock:
            stream.write(text)
            stream.flush()
        return self.result(message, response="written to console")


@hookimpl(trylast=True)
def register_transports(register):
    register("console", ConsoleTransport)

"""The SMTP dialogue of one connection in a log, credentials and message content masked.

smtplib's ``set_debuglevel`` prints to stderr, past any logging config, and
prints ``AUTH`` lines as they are (base64 is not a secret). Wrapping the
connection's public ``send`` and ``getreply`` instead sees every command and
reply, pipelined ones included, and each line goes to a logger at DEBUG.
"""

from __future__ import annotations

import logging
from typing import Any

MASK = "********"


class _Dialogue:
    """Which client lines must not reach the log: AUTH data and the message itself."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.in_auth = False  # after AUTH, until the server stops answering 334
        self.data_next = False  # after a 354, the next write is the message

    def sent(self, data: bytes | str) -> None:
        raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if self.data_next:
            # The message is not dialogue, and a body can hold a password reset link.
            self.data_next = False
            self.log.debug("C: <message, %d bytes>", len(data))
            return
        for line in raw.splitlines():
            words = line.split(" ", 2)
            if words[0].upper() == "AUTH":
                self.in_auth = True
                line = " ".join(words[:2] + [MASK] * (len(words) > 2))
            elif self.in_auth:
                line = MASK
            self.log.debug("C: %s", line)

    def replied(self, code: int, text: bytes | str) -> None:
        self.in_auth = self.in_auth and code == 334
        self.data_next = code == 354
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        lines = raw.splitlines() or [""]
        for n, line in enumerate(lines):
            self.log.debug("S: %s%s%s", code, "-" if n < len(lines) - 1 else " ", line)


def log_dialogue(conn: Any, log: logging.Logger) -> None:
    """Log every line ``conn`` (an ``smtplib.SMTP``) sends and receives to ``log``.

    Credentials after ``AUTH`` and the message after ``354`` are masked.
    """
    dialogue = _Dialogue(log)
    send, getreply = conn.send, conn.getreply

    def logged_send(data: bytes | str) -> None:
        dialogue.sent(data)
        send(data)

    def logged_getreply() -> tuple[int, bytes]:
        code, text = getreply()
        dialogue.replied(code, text)
        return code, text

    # smtplib's own commands (EHLO, AUTH, STARTTLS, QUIT) call these through self.
    conn.send, conn.getreply = logged_send, logged_getreply

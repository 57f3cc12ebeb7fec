"""The CLI's logging: one stderr handler on the ``emailactions`` logger, its level, each warning once.

stdout carries only the result JSON, so every log line goes to stderr. The
level is the global ``-v`` (INFO), ``-vv`` (DEBUG, with the SMTP dialogue)
or ``--log-level``; without them WARNING, or INFO for the long-running
``serve`` and ``worker``.
"""

from __future__ import annotations

import logging
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Once(logging.Filter):
    """Lets each distinct warning through once: a script sending fifty mails warns once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = (record.name, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class CliLogging:
    """The handler and levels one CLI run sets, and :meth:`close` to put them back.

    Putting them back matters where the CLI runs inside another process
    (tests calling ``main()``): levels are global.
    """

    def __init__(self, level: str | None) -> None:
        #: The level asked for on the command line, if any.
        self.explicit = level
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter(FORMAT))
        self.handler.addFilter(_Once())
        self._saved: dict[str, int] = {}
        logging.getLogger("emailactions").addHandler(self.handler)
        self._set("emailactions", level or "WARNING")

    def _set(self, name: str, level: str | int) -> None:
        logger = logging.getLogger(name)
        self._saved.setdefault(name, logger.level)
        logger.setLevel(level)

    def default(self, level: str, *, override: bool = False) -> None:
        """A command's own level: its default (``serve`` and ``worker``: INFO)
        unless the global options asked for one, or its own option (``override``)."""
        if self.explicit is None or override:
            self._set("emailactions", level)

    def smtp_debug(self) -> None:
        """Show the SMTP dialogue: a transport has IDM's ``debug = true``."""
        if not logging.getLogger("emailactions.smtp").isEnabledFor(logging.DEBUG):
            self._set("emailactions.smtp", logging.DEBUG)

    def close(self) -> None:
        logging.getLogger("emailactions").removeHandler(self.handler)
        for name, level in self._saved.items():
            logging.getLogger(name).setLevel(level)
        self._saved.clear()


def level_from(verbose: int, log_level: str | None) -> str | None:
    """``--log-level`` if given, else INFO for ``-v`` and DEBUG for ``-vv``; None: the command's default."""
    if log_level:
        return log_level.upper()
    return {0: None, 1: "INFO"}.get(verbose, "DEBUG")

"""The built-in outbox backends, registered like any plugin's: ``[outbox] backend`` picks one."""

from __future__ import annotations

from typing import Any

from emailactions.errors import ConfigError
from emailactions.hookspecs import hookimpl


def sqlite(settings: Any) -> Any:
    """A SQLite file: survives restarts, shared by the processes that open it."""
    from emailactions.delivery.outbox.sqlite import Outbox

    if settings.path is None:
        raise ConfigError("The outbox backend 'sqlite' needs [outbox] path (or EMAILACTIONS_OUTBOX)", key="outbox.path")
    return Outbox(settings.path, synchronous=settings.synchronous)


def memory(settings: Any) -> Any:
    """SQLite in memory: one process, lost when it stops."""
    from emailactions.delivery.outbox.sqlite import Outbox

    return Outbox(None)


@hookimpl(trylast=True)
def register_outbox_backends(register: Any) -> None:
    register("sqlite", sqlite)
    register("memory", memory)

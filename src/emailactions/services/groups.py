"""Static recipient groups from config: ``destination = "billing"`` -> addresses."""

from __future__ import annotations

from typing import Any

from emailactions.hookspecs import hookimpl


@hookimpl(trylast=True)
def resolve_recipients(destination: str, host: Any) -> list[Any] | None:
    """Members of ``[groups] <destination> = [...]`` in config, or None."""
    members = host.config.groups.get(destination)
    return list(members) if members is not None else None

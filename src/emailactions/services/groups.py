"""The built-in recipient resolver: ``me`` and the static groups from config.

``destination = "billing"`` -> the members of ``[groups] billing``;
``destination = "me"`` -> the calling user's ``[server.users.NAME] email``
(unless ``[groups] me`` says otherwise).
"""

from __future__ import annotations

from typing import Any

from emailactions.hookspecs import hookimpl


@hookimpl(trylast=True)
def resolve_recipients(destination: str, host: Any, caller: str | None) -> list[Any] | None:
    """Members of ``[groups] <destination>`` in config, the caller's own address for ``me``, or None."""
    members = host.config.groups.get(destination)
    if members is not None:
        return list(members)
    if destination == "me" and caller is not None:
        user = host.config.server.users.get(caller)
        if user is not None and user.email:
            return [user.email]
    return None

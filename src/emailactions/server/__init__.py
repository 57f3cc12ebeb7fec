"""``emailactions serve``: IDM- and FusionAuth-compatible REST API over an ActionHost.

Importing this package imports no web framework; :func:`create_app` does,
and raises ``EngineUnavailable`` naming ``emailactions[server]`` when the
extra is not installed.
"""

from __future__ import annotations

from typing import Any


def create_app(host: Any, **kwargs: Any) -> Any:
    """The ASGI app serving ``host`` (see :func:`emailactions.server.app.create_app`)."""
    from emailactions.server.app import create_app as _create_app

    return _create_app(host, **kwargs)


__all__ = ["create_app"]

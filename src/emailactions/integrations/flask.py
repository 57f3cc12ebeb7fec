"""A Flask extension: one :class:`~emailactions.ActionHost` per app, and send helpers.

::

    app.config["EMAILACTIONS_CONFIG"] = "conf/"     # a TOML file, an IDM conf/ folder or a mapping
    mail = EmailActions(app)                         # or EmailActions() ... mail.init_app(app)

    @app.post("/signup")
    def signup():
        mail.send_template("welcome", to=request.form["email"], object={"userName": ...})

Without ``EMAILACTIONS_CONFIG`` the app's host reads what ``emailactions.action()``
reads (``EMAILACTIONS_CONFIG`` in the environment, ``./emailactions.toml``, else the
console). Under pytest the emailactions plugin captures the app's mail like any host's.
"""

from __future__ import annotations

from typing import Callable, Concatenate, ParamSpec, TypeVar

from flask import Flask, current_app

from emailactions.config import default_config_source
from emailactions.host import ActionHost

P = ParamSpec("P")
R = TypeVar("R")

#: Where the app's host lives: ``app.extensions["emailactions"]``.
KEY = "emailactions"


def _on_app_host(method: Callable[Concatenate[ActionHost, P], R]) -> Callable[Concatenate[EmailActions, P], R]:
    """``method`` called on the current app's host, with the same arguments and type hints."""

    def call(self: EmailActions, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self.host, *args, **kwargs)

    call.__name__, call.__doc__ = method.__name__, f"The current app's host's :meth:`~emailactions.ActionHost.{method.__name__}`."
    return call


class EmailActions:
    """The extension; one instance may serve several apps (``init_app`` each)."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the app's host now, so a bad config fails at startup, not at the first send."""
        config = app.config.get("EMAILACTIONS_CONFIG")
        app.extensions[KEY] = ActionHost(default_config_source() if config is None else config)

    @property
    def host(self) -> ActionHost:
        """The current app's host (for ``action()``, templates, the outbox...)."""
        try:
            host: ActionHost = current_app.extensions[KEY]
        except KeyError:
            raise RuntimeError("EmailActions.init_app(app) was not called for this app") from None
        return host

    send = _on_app_host(ActionHost.send)
    send_template = _on_app_host(ActionHost.send_template)
    asend = _on_app_host(ActionHost.asend)
    asend_template = _on_app_host(ActionHost.asend_template)

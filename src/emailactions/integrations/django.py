"""Django's ``EMAIL_BACKEND`` over emailactions: Django's messages take the project's path.

::

    EMAIL_BACKEND = "emailactions.integrations.django.EmailBackend"
    EMAILACTIONS = {"config": "conf/", "wait": True}   # both optional

``config`` is anything :class:`~emailactions.ActionHost` takes (a TOML file,
an IDM ``conf/`` folder, a mapping); without it the default host is used
(``EMAILACTIONS_CONFIG``, ``./emailactions.toml`` or the console).
``wait = False`` commits each message to the outbox and returns. Each
``EmailMessage`` becomes one :meth:`~emailactions.ActionHost.send` call, so
params validation, rate limits, retries, the outbox and plugins all apply.
Django's test runner swaps any ``EMAIL_BACKEND`` for its locmem one, so
``django.core.mail.outbox`` keeps capturing in tests.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend

from emailactions.api import Attachment
from emailactions.errors import EmailActionsError, InvalidParams
from emailactions.host import ActionHost, default_host

OPTIONS = ("config", "wait")

_lock = threading.Lock()
#: The host built for ``settings.EMAILACTIONS["config"]``, and a copy of that config.
_built: tuple[Any, ActionHost] | None = None


def options() -> dict[str, Any]:
    """``settings.EMAILACTIONS``, checked: unknown keys are a mistake worth hearing about."""
    value = getattr(settings, "EMAILACTIONS", {})
    unknown = set(value) - set(OPTIONS)
    if unknown:
        raise ImproperlyConfigured(f"Unknown EMAILACTIONS key(s) {sorted(unknown)}; known: {list(OPTIONS)}")
    return {"config": None, "wait": True, **value}


def host() -> ActionHost:
    """The host for the current settings, kept across backends.

    Django builds a backend per ``send_mail``; a host holds connection pools
    and the outbox worker, so it is built once per config (again when a test
    overrides the setting).
    """
    global _built
    config = options()["config"]
    if config is None:
        return default_host()
    with _lock:
        if _built is None or _built[0] != config:
            previous, _built = _built, (copy.deepcopy(config), ActionHost(config))
            if previous is not None:
                previous[1].close()
        return _built[1]


class EmailBackend(BaseEmailBackend):
    """Sends Django's ``EmailMessage`` and ``EmailMultiAlternatives`` through emailactions.

    ``wait`` (from ``get_connection(..., wait=False)``) overrides the setting.
    With ``fail_silently`` a message that fails is skipped and not counted.
    """

    def __init__(self, fail_silently: bool = False, *, wait: bool | None = None, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.wait = options()["wait"] if wait is None else wait

    def send_messages(self, email_messages: Iterable[Any]) -> int:
        """Send each message; returns how many were sent (or submitted)."""
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                host().send(**_send_kwargs(message), wait=self.wait)
            except EmailActionsError:
                if not self.fail_silently:
                    raise
            else:
                sent += 1
        return sent


def _send_kwargs(message: Any) -> dict[str, Any]:
    """A Django ``EmailMessage`` as :meth:`~emailactions.ActionHost.send` arguments."""
    bodies = {message.content_subtype: message.body}
    for content, mimetype in getattr(message, "alternatives", ()):
        subtype = mimetype.lower().removeprefix("text/")
        if subtype not in ("plain", "html") or subtype in bodies:
            raise InvalidParams(f"Alternative {mimetype!r} is not supported: one text/plain and one text/html", param="alternatives")
        bodies[subtype] = content
    if set(bodies) - {"plain", "html"}:
        raise InvalidParams(f"Body type text/{message.content_subtype} is not supported", param="content_subtype")
    # As Django does, a Reply-To in extra_headers wins over ``reply_to``.
    headers = {name: value for name, value in message.extra_headers.items() if name.lower() != "reply-to"}
    reply_to = [v for n, v in message.extra_headers.items() if n.lower() == "reply-to"] or list(message.reply_to)
    return {
        "sender": message.from_email,
        "to": list(message.to) or None,
        "cc": list(message.cc) or None,
        "bcc": list(message.bcc) or None,
        "reply_to": reply_to or None,
        "subject": message.subject,
        "text": bodies.get("plain"),
        "html": bodies.get("html"),
        "headers": headers or None,
        "attachments": [_attachment(item) for item in message.attachments] or None,
    }


def _attachment(item: Any) -> Attachment:
    """A ``(filename, content, mimetype)`` tuple, or a MIME part (inline when it has a Content-ID)."""
    if isinstance(item, tuple):
        filename, content, mimetype = item
        return Attachment(filename, content, mimetype)
    cid = str(item["Content-ID"]).strip("<> ") if item["Content-ID"] else None
    filename = item.get_filename() or cid or "attachment"
    return Attachment(filename, item.get_payload(decode=True) or b"", item.get_content_type(), cid=cid)

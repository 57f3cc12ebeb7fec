"""DKIM signing of finished messages (``[dkim]``), through the ``prepare_message`` hook.

It runs once per message, after composition and before the outbox stores the
bytes (:meth:`~emailactions.delivery.dispatcher.Dispatcher.prepare`), so
every delivery attempt sends the same signature. dkimpy signs:
``relaxed/relaxed``, ``rsa-sha256`` or ``ed25519-sha256``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from emailactions.config.dkim import DKIMConfig
from emailactions.errors import ConfigError
from emailactions.hookspecs import hookimpl
from emailactions.mime.message import Message


def sign(message: Message, settings: DKIMConfig) -> Message:
    """``message`` with a ``DKIM-Signature`` header on top, for ``d=domain; s=selector``.

    Headers of ``settings.headers`` are signed where present, and those of
    ``settings.oversign`` once more than present, so a second From (or
    whatever else is listed) added on the way breaks the signature.
    """
    import dkim

    present = _header_names(message.data)
    names = [h.lower() for h in settings.headers if h.lower() in present]
    names += [h.lower() for h in settings.oversign if h.lower() in present or h.lower() in names]
    try:
        signature = dkim.sign(
            message.data, settings.selector.encode(), settings.domain.encode(), settings.key,
            canonicalize=(b"relaxed", b"relaxed"), signature_algorithm=settings.algorithm.encode(),
            include_headers=[n.encode() for n in names],
        )  # fmt: skip
    except dkim.DKIMException as exc:  # the key was checked at load; this is a config mismatch
        raise ConfigError(f"DKIM signing failed: {exc}", key="dkim") from None
    return replace(message, data=signature + message.data)


def _header_names(data: bytes) -> set[str]:
    """The lowercased field names of the message's header (continuation lines skipped)."""
    head = data.split(b"\r\n\r\n", 1)[0]
    names = set()
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t") and b":" in line:
            names.add(line.split(b":", 1)[0].strip().decode("ascii", "replace").lower())
    return names


@hookimpl(trylast=True)
def prepare_message(message: Message, host: Any) -> Message | None:
    """Sign last, after any plugin that adds headers, so the signature covers them."""
    settings = host.config.dkim
    return sign(message, settings) if settings is not None else None

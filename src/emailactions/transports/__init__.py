"""Transports: how finished messages leave. One backend per module."""

from emailactions.transports.base import BaseTransport, SendResult

__all__ = ["BaseTransport", "SendResult"]

"""Kept so ``pytest_plugins = ["emailactions.pytest_plugin"]`` still works; the plugin is :mod:`emailactions.testing`."""

from emailactions.testing import (
    Outbox,
    SentAttachment,
    SentMail,
    _emailactions_capture,
    emailactions_config,
    emailactions_host,
    emailactions_outbox,
    pytest_addoption,
    pytest_configure,
    pytest_unconfigure,
)

__all__ = [
    "Outbox",
    "SentAttachment",
    "SentMail",
    "_emailactions_capture",
    "emailactions_config",
    "emailactions_host",
    "emailactions_outbox",
    "pytest_addoption",
    "pytest_configure",
    "pytest_unconfigure",
]

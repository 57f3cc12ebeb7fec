"""Typed settings, loaded and checked in one go.

``model`` holds the dataclasses, ``validate`` the checks every section uses,
``native`` reads ``emailactions.toml`` (or a mapping), ``idm`` reads IDM's
``external.email.json``, ``server`` the ``[server]`` section, and ``loader``
picks the right reader for whatever ``ActionHost(config)`` was given.
"""

from emailactions.config.loader import default_config_source, load_config
from emailactions.config.model import DEFAULT_RECIPIENT_LIMIT, Config, OutboxConfig, RateLimitConfig
from emailactions.config.native import from_mapping
from emailactions.config.server import ServerConfig

__all__ = [
    "DEFAULT_RECIPIENT_LIMIT",
    "Config",
    "OutboxConfig",
    "RateLimitConfig",
    "ServerConfig",
    "default_config_source",
    "from_mapping",
    "load_config",
]

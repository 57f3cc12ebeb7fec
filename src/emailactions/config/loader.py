"""Load a :class:`Config` from whatever ``ActionHost(config)`` was given.

A mapping, a native TOML file, or an IDM ``conf/`` folder (or its
``external.email.json``); this module reads the files, :mod:`~emailactions.config.native`
and :mod:`~emailactions.config.idm` read what is in them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from emailactions.config import validate
from emailactions.config.idm import from_idm
from emailactions.config.model import Config
from emailactions.config.native import from_mapping
from emailactions.config.server import ServerConfig, parse_server
from emailactions.errors import ConfigError

#: In an IDM conf folder, the ``[server]`` settings of ``emailactions serve``
#: (IDM keeps its users elsewhere; this file holds only a ``[server]`` table).
SERVER_FILE = "emailactions-server.toml"


def load_idm_conf(conf_dir: Path) -> Config:
    """An IDM ``conf/`` folder: ``external.email.json`` plus templates beside it."""
    path = conf_dir / "external.email.json"
    server = _server_file(conf_dir / SERVER_FILE)
    if not path.is_file():
        return Config(conf_dir=conf_dir, source=str(conf_dir), server=server)
    data = _read(path, json.loads)
    options = from_idm(data, source=str(path))
    sender = data.get("from") or None
    if sender is not None:
        validate.typed(sender, str, "from")
    return Config(sender=sender, transports={"default": options}, conf_dir=conf_dir, source=str(path), server=server)


def _server_file(path: Path) -> ServerConfig:
    """``emailactions-server.toml`` beside IDM's files, if there is one."""
    if not path.is_file():
        return ServerConfig()
    data = read_toml(path)
    validate.known(data, {"server"}, "")
    return parse_server(data.get("server", {}), base=path.parent)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; unreadable or malformed is a ``ConfigError`` naming the file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return _read(path, tomllib.loads)


def _read(path: Path, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # TOML and JSON syntax errors are ValueErrors
        raise ConfigError(f"Cannot read {path}: {exc}", key=str(path)) from exc


def load_toml(path: Path) -> Config:
    """A native ``emailactions.toml`` file."""
    return from_mapping(read_toml(path), source=str(path), base=path.parent)


def load_config(config: Config | Mapping[str, Any] | str | os.PathLike[str] | None) -> Config:
    """Whatever ``ActionHost(config)`` was given, as a :class:`Config`."""
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return from_mapping(config)
    path = Path(config)
    if path.is_dir():
        return load_idm_conf(path)
    if path.is_file():
        if path.name.endswith(".json"):
            return load_idm_conf(path.parent) if path.name == "external.email.json" else _bad_file(path)
        return load_toml(path)
    raise ConfigError(f"Config path does not exist: {str(path)!r}", key="config")


def _bad_file(path: Path) -> Config:
    raise ConfigError(f"Config file must be TOML or an IDM conf folder: {str(path)!r}", key="config")


def default_config_source() -> str | None:
    """``EMAILACTIONS_CONFIG``, else ``./emailactions.toml`` if present, else none."""
    env = os.environ.get("EMAILACTIONS_CONFIG")
    if env:
        return env
    return "emailactions.toml" if Path("emailactions.toml").is_file() else None

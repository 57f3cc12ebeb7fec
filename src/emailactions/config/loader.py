"""Load a :class:`Config` from whatever ``ActionHost(config)`` was given.

A mapping, a native TOML file, or an IDM ``conf/`` folder (or its
``external.email.json``); this module reads the files, :mod:`~emailactions.config.native`
and :mod:`~emailactions.config.idm` read what is in them.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

from emailactions.config import validate
from emailactions.config.idm import as_native
from emailactions.config.model import Config
from emailactions.config.native import from_mapping
from emailactions.config.properties import substitute
from emailactions.errors import ConfigError

#: Beside IDM's files: every native section IDM's files do not define.
NATIVE_FILE = "emailactions.toml"
#: Beside IDM's files: only a ``[server]`` table for ``emailactions serve``.
SERVER_FILE = "emailactions-server.toml"


def load_idm_conf(conf_dir: Path, idm: Mapping[str, Any] | None = None) -> Config:
    """An IDM ``conf/`` folder: ``external.email.json``, templates and ``emailactions.toml`` beside it.

    The native file adds what IDM's files lack (outbox, rate limits, more
    transports...); relative paths in it are taken from the conf folder. A
    key both define is refused rather than one silently winning: IDM's admin
    UI edits ``external.email.json``, and a hidden override would make its
    edits dead without a word. ``idm``, when given, stands for the content of
    ``external.email.json`` (a replacement checked before it is written).
    """
    idm_path, native_path, server_path = conf_dir / "external.email.json", conf_dir / NATIVE_FILE, conf_dir / SERVER_FILE
    data = read_toml(native_path) if native_path.is_file() else {}
    for section in ("email", "transports"):
        validate.typed(data.get(section, {}), Mapping, section)
    if "conf" in data.get("email", {}):
        raise ConfigError(f"Config key 'email.conf' cannot be set in {native_path}: the conf folder is where it is", key="email.conf")
    if server_path.is_file():
        server = read_toml(server_path)
        validate.known(server, {"server"}, "")
        if "server" in server and "server" in data:
            raise _clash("server", native_path, server_path)
        data = {**data, **server}
    if idm is None and idm_path.is_file():
        idm = _read(idm_path, json.loads)
    if idm is not None:
        idm = as_native(substitute(idm, conf_dir, source=str(idm_path)), source=str(idm_path))
        for section, values in idm.items():
            both = [key for key in values if key in data.get(section, {})]
            if both:
                raise _clash(f"{section}.{both[0]}", native_path, idm_path)
        data = {**data, **{section: {**values, **data.get(section, {})} for section, values in idm.items()}}
    source = idm_path if idm is not None else native_path if native_path.is_file() else conf_dir
    return replace(from_mapping(data, source=str(source), base=conf_dir), conf_dir=conf_dir)


def _clash(key: str, path: Path, other: Path) -> ConfigError:
    return ConfigError(f"Config key {key!r} in {path}: {other} already defines it; keep one of the two", key=key)


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

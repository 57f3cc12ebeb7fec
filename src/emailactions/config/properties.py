"""IDM's ``&{property}`` substitution in ``external.email.json``.

IDM resolves ``&{name}`` (and ``&{name|default}``) from the environment and
its boot properties, so a conf folder can keep host names and passwords out
of the file. Environment first, as IDM: the name itself, then its
``UPPER_CASE`` form (``openidm.smtp.password`` -> ``OPENIDM_SMTP_PASSWORD``);
then ``resolver/boot.properties`` beside the conf folder (IDM 7 and later),
then ``conf/boot/boot.properties`` (IDM 6.5).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from emailactions.errors import ConfigError

_REFERENCE = re.compile(r"&\{([^}|]+)(?:\|([^}]*))?\}")


def boot_files(conf_dir: Path) -> list[Path]:
    """Where IDM keeps boot properties for a project whose conf folder is ``conf_dir``."""
    return [conf_dir.parent / "resolver" / "boot.properties", conf_dir / "boot" / "boot.properties"]


def read_properties(path: Path) -> dict[str, str]:
    """A Java ``.properties`` file: ``name=value`` or ``name: value``, ``#``/``!`` comments."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        parts = re.split(r"\s*[=:]\s*", line, maxsplit=1)
        found[parts[0]] = parts[1] if len(parts) > 1 else ""
    return found


def _env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def substitute(data: Any, conf_dir: Path, *, source: str) -> Any:
    """``data`` with every ``&{property}`` in its strings resolved; a property
    nobody sets (and without a ``|default``) is a ``ConfigError`` naming it."""
    files = [path for path in boot_files(conf_dir) if path.is_file()]
    properties: dict[str, str] = {}
    for path in reversed(files):  # the first file wins
        properties.update(read_properties(path))

    def lookup(match: re.Match[str]) -> str:
        name, default = match.group(1).strip(), match.group(2)
        for value in (os.environ.get(name), os.environ.get(_env_name(name)), properties.get(name), default):
            if value is not None:
                return value
        where = " or ".join(str(p) for p in boot_files(conf_dir))
        raise ConfigError(
            f"Config property {name!r} used in {source} is not set: set the environment variable "
            f"{_env_name(name)} or add it to {where}",
            key=name,
        )

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _REFERENCE.sub(lookup, value)
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(data)

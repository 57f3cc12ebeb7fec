"""The config validator: every check a config value goes through, in one place.

Each function takes a value and its full dotted key (``outbox.lease``,
``server.users.alice.password``, ``transports.relay.port``) and returns the
value, typed, or raises :class:`~emailactions.errors.ConfigError` naming that
key, so a mistake fails when the config loads, not at the first send.
Every section uses these functions, ``[server]`` and transport options too.
"""

from __future__ import annotations

import inspect
import os
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping

from emailactions.errors import ConfigError

#: What a config file (TOML, JSON) can hold; an option annotated with anything
#: else (a stream, a callable) can only come from Python, so it is not checked.
_CHECKED_TYPES = (bool, int, float, str, list, dict, type(None), os.PathLike)


def typed(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    """``value`` if it is of ``kind``; a boolean is never a number."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds and (int in kinds or float in kinds):
        raise ConfigError(f"Config key {key!r} must be a number", key=key)
    if not isinstance(value, kind):
        raise ConfigError(f"Config key {key!r} has the wrong type: {type(value).__name__}", key=key)
    return value


def known(data: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    """Refuse the first key of ``data`` not in ``allowed``; ``prefix`` ends with a dot (or is empty)."""
    extra = sorted(set(data) - allowed)
    if extra:
        key = f"{prefix}{extra[0]}"
        raise ConfigError(f"Unknown config key {key!r} (known: {', '.join(sorted(allowed))})", key=key)


def table(data: Any, allowed: set[str], key: str) -> Mapping[str, Any]:
    """A table (``[outbox]``, ``[server.rate_limits]``...) holding only known keys."""
    typed(data, Mapping, key)
    known(data, allowed, f"{key}.")
    return data


def section(data: Any, checks: Mapping[str, Callable[[Any, str], Any]], key: str) -> dict[str, Any]:
    """A table checked key by key: ``checks`` maps each known key to ``check(value, dotted_key)``.

    Keys without a check are refused; the result holds the checked values of
    the keys given (the dataclass supplies the defaults of the rest).
    """
    table(data, set(checks), key)
    return {name: checks[name](value, f"{key}.{name}") for name, value in data.items()}


def flag(value: Any, key: str) -> bool:
    """``true`` or ``false``."""
    return typed(value, bool, key)


def count(value: Any, key: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number within bounds."""
    typed(value, int, key)
    if value < minimum:
        raise ConfigError(f"Config key {key!r} must be at least {minimum}", key=key)
    if maximum is not None and value > maximum:
        raise ConfigError(f"Config key {key!r} must be at most {maximum}", key=key)
    return value


def seconds(value: Any, key: str, *, minimum: float = 0.0) -> float:
    """A duration in seconds (int or float), as a float."""
    typed(value, (int, float), key)
    if value < minimum:
        raise ConfigError(f"Config key {key!r} must be at least {minimum}", key=key)
    return float(value)


def choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise ConfigError(f"Config key {key!r} must be one of {', '.join(choices)}", key=key)
    return value


def path(value: Any, key: str, base: Path | None) -> Path:
    """A path; a relative one is taken from ``base``, the config file's own folder."""
    found = Path(typed(value, str, key))
    return base / found if base is not None and not found.is_absolute() else found


def locale(value: Any, key: str) -> str:
    """A language tag, normalized as templates name locales (``fr-ca`` -> ``fr_CA``)."""
    from emailactions.errors import InvalidParams
    from emailactions.locales.tags import normalize

    try:
        return normalize(typed(value, str, key), key)
    except InvalidParams as exc:
        raise ConfigError(f"Config key {key!r}: {exc.message}", key=key) from None


def limit_string(value: Any, key: str) -> str | None:
    """A ``limits`` "N per period" string, checked now so a typo fails at load; ``""`` is none."""
    if value is None or value == "":
        return None  # "" switches a default limit off
    from limits import parse_many

    try:
        parse_many(typed(value, str, key))
    except ValueError:
        raise ConfigError(f"Config key {key!r} is not a rate like '5 per minute; 100 per day': {value!r}", key=key) from None
    return value


def storage_uri(value: Any, key: str) -> str:
    """A ``limits`` storage URI whose scheme ``limits`` knows (``memory://``, ``redis://``...)."""
    from limits.storage import SCHEMES

    scheme = typed(value, str, key).partition("://")[0]
    if scheme not in SCHEMES:
        raise ConfigError(f"Config key {key!r}: unknown storage {scheme!r} (known: {', '.join(sorted(SCHEMES))})", key=key)
    return value


def check_options(factory: Callable[..., Any], options: Mapping[str, Any], prefix: str) -> None:
    """Check keyword ``options`` against what ``factory`` (a transport class...) accepts.

    Unknown options, missing required ones and values of the wrong type (read
    from the annotations) are refused, each naming ``prefix.option``, so a
    config is checked when it loads rather than when a transport is first
    built. A factory taking ``**kwargs`` accepts any name; an annotation that
    a config file cannot express (a stream) is left to the factory.
    """
    parameters = {
        name: p for name, p in inspect.signature(factory).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.VAR_KEYWORD)
    }  # fmt: skip
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        known(options, set(parameters), f"{prefix}.")
    for name, parameter in parameters.items():
        if parameter.kind is not parameter.VAR_KEYWORD and parameter.default is parameter.empty and name not in options:
            raise ConfigError(f"Config key '{prefix}.{name}' is required", key=f"{prefix}.{name}")
    hints = _hints(factory)
    for name, value in options.items():
        kinds = _runtime_types(hints.get(name, Any))
        if kinds is not None:
            typed(value, kinds, f"{prefix}.{name}")


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """Evaluated annotations of ``factory`` (a class's ``__init__``); none if they cannot be read."""
    target = factory.__init__ if isinstance(factory, type) else factory
    try:
        return typing.get_type_hints(target)
    except (NameError, TypeError):  # a name imported only under TYPE_CHECKING: check no types
        return {}


def _runtime_types(hint: Any) -> tuple[type, ...] | None:
    """The types ``isinstance`` can check for an annotation, or ``None`` to not check it."""
    if hint is Any:
        return None
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [_runtime_types(arg) for arg in typing.get_args(hint)]
        return None if any(m is None for m in members) else tuple(t for m in members for t in m)  # type: ignore[union-attr]
    hint = typing.get_origin(hint) or hint
    if hint is float:
        return (int, float)  # TOML's 30 is as good as 30.0
    if hint in _CHECKED_TYPES:
        return (hint,)
    return None

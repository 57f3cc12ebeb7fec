"""The param coercion toolkit: one place that turns loose JSON into typed values.

Action params, REST query strings, outbox controls and template documents all
arrive as loosely typed data. Each function here takes a value and the name of
the param it came from, and either returns the typed value or raises
:class:`~emailactions.errors.InvalidParams` (a 400) naming that param, so a
caller always learns *which* param was wrong. ``None`` always means "not
given": ``default`` answers for it, unless it is :data:`REQUIRED`. ``must``
overrides the end of the message ("Parameter 'x' must be ...") where a
caller's wording is part of its contract.
"""

from __future__ import annotations

from collections import abc
from typing import Any, Collection, Iterable, Mapping

from emailactions.errors import InvalidParams

#: A ``default`` saying that ``None`` is refused too (an item of a list cannot be "not given").
REQUIRED: Any = object()

#: Longest digit string taken as an integer: Python's ``int()`` is quadratic
#: in the length, and no count, id or offset here needs more.
_MAX_DIGITS = 18


def refuse(param: str, must: str) -> InvalidParams:
    """The 400 for a param of the wrong kind: ``Parameter 'x' must be <must>``."""
    return InvalidParams(f"Parameter {param!r} must be {must}", param=param)


def _default(default: Any, param: str, must: str) -> Any:
    if default is REQUIRED:
        raise refuse(param, must)
    return default


def refuse_unknown(names: Iterable[Any], allowed: Collection[str], *, where: str = "", noun: str = "") -> None:
    """400 unless every name is allowed.

    By default every unknown name is listed, sorted, in the message and in
    ``detail.unknown`` (``where`` says whose keys they are and prefixes the
    param, as in ``attachments[0].x``). With ``noun`` ("query parameter",
    "field") only the first is named, cut to 80 characters: what REST dialects
    answer about the request itself.
    """
    unknown = sorted(str(name) for name in names if name not in allowed)
    if not unknown:
        return
    if noun:
        raise InvalidParams(f"Unknown {noun} {unknown[0][:80]!r}", param=unknown[0][:80])
    if where:
        raise InvalidParams(f"Unknown key(s) in {where}: {', '.join(unknown)}", param=f"{where}.{unknown[0]}", unknown=unknown)
    raise InvalidParams(f"Unknown parameter(s): {', '.join(unknown)}", param=unknown[0], unknown=unknown)


#: id(spec) -> (spec, alias -> name): the specs are module constants, asked
#: on every send; the spec is kept so that its id cannot be reused.
_ALIASES: dict[int, tuple[Mapping[str, tuple[str, ...]], dict[str, str]]] = {}


def _aliases(spec: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    entry = _ALIASES.get(id(spec))
    if entry is not None and entry[0] is spec:
        return entry[1]
    known = {alias: name for name, aliases in spec.items() for alias in aliases}
    if len(_ALIASES) < 32:
        _ALIASES[id(spec)] = (spec, known)
    return known


def pick(params: Any, spec: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Params under their canonical names, from ``spec``: name -> accepted spellings.

    IDM reads ``_to`` as ``to`` (and so on); giving both with different values
    is refused rather than guessed. Unknown names are refused, all listed.
    ``None`` values are dropped, as if not given.
    """
    if not isinstance(params, abc.Mapping):  # the abc: typing's alias checks slower
        raise InvalidParams("Action params must be an object", param="params")
    known = _aliases(spec)
    refuse_unknown(params, known)
    picked: dict[str, Any] = {}
    for key, value in params.items():
        name = known[key]
        if value is None:
            continue
        if name in picked and picked[name] != value:
            raise InvalidParams(f"Parameter {name!r} is given twice with different values", param=name)
        picked[name] = value
    return picked


def text(value: Any, param: str, default: str = "", *, must: str = "a string") -> str:
    """A string."""
    if value is None:
        return _default(default, param, must)
    if not isinstance(value, str):
        raise refuse(param, must)
    return value


def boolean(value: Any, param: str, default: Any = False, *, strings: bool = True, must: str = "a boolean") -> Any:
    """A boolean; with ``strings``, also ``"true"`` / ``"false"`` as query strings send them."""
    if value is None:
        return _default(default, param, must)
    if strings and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise refuse(param, must)
    return value


def integer(
    value: Any, param: str, default: Any = None, *, minimum: int | None = 0, maximum: int | None = None,
    strings: bool = True, must: str = "",
) -> Any:  # fmt: skip
    """An integer within bounds; with ``strings``, also its decimal digits (``"25"``).

    ``True`` is refused: JSON's ``true`` is not 1. ``must`` defaults to the bounds.
    """
    if not must:
        must = "an integer" if minimum is None else f"an integer of at least {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
    if value is None:
        return _default(default, param, must)
    if strings and isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS:
            value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int):
        raise refuse(param, must)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise refuse(param, must)
    return value


def number(value: Any, param: str, default: Any = None, *, minimum: float = 0.0, must: str = "a number") -> Any:
    """A number (int or float, never a boolean) of at least ``minimum``, as a float."""
    if value is None:
        return _default(default, param, must)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise refuse(param, must)
    return float(value)


def mapping(value: Any, param: str, default: Any = None, *, must: str = "an object") -> Any:
    """An object (a JSON object is a ``dict``)."""
    if value is None:
        return _default(default, param, must)
    if not isinstance(value, Mapping):
        raise refuse(param, must)
    return value


def items(value: Any, param: str, *, split: str = "", must: str = "a list") -> list[Any]:
    """A list (``None`` is empty); with ``split``, also a string of parts (``"a,b"``), stripped."""
    if value is None:
        return []
    if split and isinstance(value, str):
        return [part.strip() for part in value.split(split)]
    if not isinstance(value, (list, tuple)):
        raise refuse(param, must)
    return list(value)

"""FreeMarkerEngine: FusionAuth's template language, on the bounded Jinja sandbox.

No maintained FreeMarker exists for Python, and a new interpreter would need
its own sandbox and budgets. Instead the subset real email templates use is
translated to Jinja source (engines/freemarker_translate.py) and compiled by
:class:`~emailactions.engines.jinja.JinjaEngine`'s sandbox, so every bound on
work, time, output and value size applies unchanged. The built-ins are Jinja
filters defined here; lookups read dict keys and list items only, never
Python attributes.

Escaping: HTML parts escape every ``${...}`` (FreeMarker's HTML output format;
FusionAuth itself does not, see docs/templates.md), ``?html`` and ``?no_esc``
mark a value as markup so it is never escaped twice, and a string literal
given as a ``!`` default is the author's markup (``!'&mdash;'``).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import types
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any, Callable
from urllib.parse import quote

from emailactions.engines.base import FORMATTERS, current_state, formatter
from emailactions.engines.jinja import JinjaEngine, _runtime
from emailactions.errors import RenderError
from emailactions.hookspecs import hookimpl
from emailactions.locales.formatting import babel_locale, format_date, format_datetime, format_number

_NUMBERS = (int, float, Decimal)


def _fail(message: str) -> RenderError:
    return current_state().fail(message)


def _text(value: Any) -> str:
    """A value as FreeMarker prints it inside a string: numbers and dates in the locale's words."""
    if isinstance(value, str):
        return value
    if value is None or _undefined(value):
        return ""
    if isinstance(value, bool):
        raise _fail("a boolean cannot be printed: use ?c or ?string('yes', 'no')")
    if isinstance(value, int) and 0 <= value < 1000:
        return str(value)  # no separators to place: skip Babel, loops print indexes
    if isinstance(value, _NUMBERS):
        return format_number(value, current_state().locale)
    if isinstance(value, _dt.datetime):
        return format_datetime(value, current_state().locale)
    if isinstance(value, _dt.date):
        return format_date(value, current_state().locale)
    if isinstance(value, _dt.time):
        return value.isoformat()
    if callable(value):
        return ""
    kind = "a sequence" if isinstance(value, (list, tuple)) else "a hash" if isinstance(value, dict) else type(value).__name__
    raise _fail(f"{kind} cannot be printed: pick an item, or use ?join(', ')")


def _undefined(value: Any) -> bool:
    return isinstance(value, _runtime().jinja2.Undefined)


def _plain(value: Any) -> Any:
    return None if value is not None and _undefined(value) else value


def _number(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, _NUMBERS) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise ValueError(f"{value!r:.40} is not a number")


def _java_pattern(pattern: str) -> str:
    """A Java date pattern (``yyyy-MM-dd HH:mm``) as an strptime format."""
    table = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
    return re.sub(r"yyyy|yy|MM|dd|HH|mm|ss", lambda m: table[m.group()], pattern)


def _when(value: Any, pattern: Any, kind: str) -> Any:
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, str) and pattern is not None:
        parsed = _dt.datetime.strptime(value.strip(), _java_pattern(str(pattern)))
    elif isinstance(value, (_dt.date, _dt.time)):
        parsed = value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not a date")
    elif isinstance(value, _NUMBERS):
        parsed = _dt.datetime.fromtimestamp(float(value) / 1000, tz=_dt.timezone.utc)
    elif isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        parsed = _dt.date.fromisoformat(text) if len(text) == 10 else _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        raise ValueError(f"{value!r:.40} is not a date")
    if kind == "date":
        return parsed.date() if isinstance(parsed, _dt.datetime) else parsed
    if kind == "time":
        return parsed.timetz() if isinstance(parsed, _dt.datetime) else parsed
    return parsed if isinstance(parsed, _dt.datetime) or not isinstance(parsed, _dt.date) else _dt.datetime.combine(parsed, _dt.time())


def _string(value: Any, *args: Any) -> Any:
    value = _plain(value)
    if isinstance(value, bool):
        if len(args) == 2:
            return args[0] if value else args[1]
        return "true" if value else "false"
    if not args:
        return _text(value)
    fmt = str(args[0])
    locale = current_state().locale
    if isinstance(value, _dt.datetime):
        return format_datetime(value, locale, fmt)
    if isinstance(value, _dt.date):
        return format_date(value, locale, fmt)
    if isinstance(value, _NUMBERS):
        from babel.numbers import format_decimal

        if len(fmt) > 64 or ";" in fmt:
            raise ValueError("a number format must be a short pattern such as '0.00'")
        return format_decimal(value, format=fmt, locale=babel_locale(locale), decimal_quantization=True)
    return _text(value)


def _c(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return "" if value is None else _text(value)


def _has_content(value: Any) -> bool:
    value = _plain(value)
    if value is None:
        return False
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


def _bounded(size: int) -> None:
    cap = current_state().limits.max_value_chars
    if size > cap:
        raise _fail(f"it builds a value of {size} characters (limit {cap})")


def _pad(value: Any, width: Any, fill: Any = " ", *, left: bool) -> str:
    text, width = _text(value), int(_number(width))
    _bounded(width)
    fill = str(fill) or " "
    missing = max(width - len(text), 0)
    padding = (fill * (missing // len(fill) + 1))[:missing]
    return padding + text if left else text + padding


def _replace(value: Any, old: Any, new: Any) -> str:
    text, old, new = _text(value), str(old), str(new)
    count = text.count(old) if old else len(text) + 1
    _bounded(len(text) + count * max(len(new) - len(old), 0))
    return text.replace(old, new)


def _join(value: Any, sep: Any = ", ") -> str:
    items = [_text(v) for v in (_plain(value) or [])]
    _bounded(sum(map(len, items)) + len(str(sep)) * len(items))
    return str(sep).join(items)


def _js_string(value: Any) -> str:
    text = _text(value)
    for old, new in (("\\", "\\\\"), ('"', '\\"'), ("'", "\\'"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("<", "\\x3C"), (">", "\\x3E")):
        text = text.replace(old, new)
    return text


def _cap_first(value: Any) -> str:
    text = _text(value)
    stripped = text.lstrip()
    return text[: len(text) - len(stripped)] + stripped[:1].upper() + stripped[1:]


def _uncap_first(value: Any) -> str:
    text = _text(value)
    stripped = text.lstrip()
    return text[: len(text) - len(stripped)] + stripped[:1].lower() + stripped[1:]


def _seq(value: Any) -> list[Any]:
    value = _plain(value)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ValueError(f"expected a sequence, got {type(value).__name__}")


def _builtins() -> dict[str, Callable[..., Any]]:
    """``?name`` -> the filter ``fm_name`` (value first)."""
    from markupsafe import Markup as markup, escape
    return {
        "html": lambda v: escape(_text(v)),
        "xhtml": lambda v: escape(_text(v)),
        "xml": lambda v: escape(_text(v)),
        "no_esc": lambda v: v if isinstance(v, markup) else markup(_text(v)),
        "url": lambda v, charset=None: quote(_text(v), safe=""),
        "url_path": lambda v, charset=None: quote(_text(v), safe="/"),
        "js_string": _js_string,
        "json_string": lambda v: json.dumps(_text(v))[1:-1],
        "upper_case": lambda v: _text(v).upper(),
        "lower_case": lambda v: _text(v).lower(),
        "cap_first": _cap_first,
        "uncap_first": _uncap_first,
        "capitalize": lambda v: re.sub(r"\S+", lambda m: m.group()[:1].upper() + m.group()[1:].lower(), _text(v)),
        "trim": lambda v: _text(v).strip(),
        "chop_linebreak": lambda v: _text(v).rstrip("\r\n"),
        "length": lambda v: len(_text(v)),
        "size": lambda v: len(_plain(v) or ()) if not isinstance(_plain(v), str) else _fail("?size is for sequences and hashes; use ?length"),
        "string": _string,
        "c": _c,
        "number": _number,
        "date": lambda v, p=None: _when(v, p, "date"),
        "datetime": lambda v, p=None: _when(v, p, "datetime"),
        "time": lambda v, p=None: _when(v, p, "time"),
        "boolean": lambda v: {"true": True, "false": False}[_text(v)] if not isinstance(_plain(v), bool) else v,
        "contains": lambda v, s: str(s) in _text(v),
        "starts_with": lambda v, s: _text(v).startswith(str(s)),
        "ends_with": lambda v, s: _text(v).endswith(str(s)),
        "ensure_starts_with": lambda v, s: _text(v) if _text(v).startswith(str(s)) else str(s) + _text(v),
        "ensure_ends_with": lambda v, s: _text(v) if _text(v).endswith(str(s)) else _text(v) + str(s),
        "remove_beginning": lambda v, s: _text(v)[len(str(s)) :] if _text(v).startswith(str(s)) else _text(v),
        "remove_ending": lambda v, s: _text(v)[: -len(str(s))] if str(s) and _text(v).endswith(str(s)) else _text(v),
        "keep_before": lambda v, s: _text(v).partition(str(s))[0],
        "keep_after": lambda v, s: _text(v).partition(str(s))[2],
        "index_of": lambda v, s: _text(v).find(str(s)),
        "substring": lambda v, a, b=None: _text(v)[int(a) : None if b is None else int(b)],
        "split": lambda v, s: _text(v).split(str(s)) if str(s) else list(_text(v)),
        "word_list": lambda v: _text(v).split(),
        "replace": _replace,
        "left_pad": lambda v, n, f=" ": _pad(v, n, f, left=True),
        "right_pad": lambda v, n, f=" ": _pad(v, n, f, left=False),
        "join": _join,
        "first": lambda v: (_seq(v) or [None])[0],
        "last": lambda v: (_seq(v) or [None])[-1],
        "reverse": lambda v: _seq(v)[::-1],
        "sort": lambda v: sorted(_seq(v), key=lambda x: (str(type(x)), x)),
        "seq_contains": lambda v, x: x in _seq(v),
        "keys": lambda v: list((_plain(v) or {}).keys()),
        "values": lambda v: list((_plain(v) or {}).values()),
        "abs": lambda v: abs(_number(v)),
        "round": lambda v: int(Decimal(str(_number(v))).to_integral_value(rounding="ROUND_HALF_UP")),
        "floor": lambda v: math.floor(_number(v)),
        "ceiling": lambda v: math.ceil(_number(v)),
        "is_string": lambda v: isinstance(_plain(v), str),
        "is_number": lambda v: isinstance(_plain(v), _NUMBERS) and not isinstance(_plain(v), bool),
        "is_boolean": lambda v: isinstance(_plain(v), bool),
        "is_sequence": lambda v: isinstance(_plain(v), (list, tuple)),
        "is_hash": lambda v: isinstance(_plain(v), dict),
        "is_date": lambda v: isinstance(_plain(v), (_dt.date, _dt.time)),
        "has_content": _has_content,
        # The translator's own helpers.
        "exists": lambda v: _plain(v) is not None,
        "default": lambda v, d, literal=False: (markup(d) if literal and isinstance(d, str) else d) if _plain(v) is None else v,
        "probe": _probe,
        "plus": _plus,
        "str": _text,
        "items": _seq,
        "pairs": lambda v: list((_plain(v) or {}).items()) if isinstance(_plain(v) or {}, dict) else _fail("<#list ... as k, v> needs a hash"),
    }


def _probe(value: Any, *keys: Any) -> Any:
    """Follow ``keys`` through dicts and lists; None where anything is missing (nothing recorded)."""
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key) if isinstance(key, str) else None
        elif isinstance(value, (list, tuple)) and isinstance(key, int) and not isinstance(key, bool):
            value = value[key] if -len(value) <= key < len(value) else None
        else:
            return None
    return value


def _plus(left: Any, right: Any) -> Any:
    left, right = _plain(left), _plain(right)
    if isinstance(left, str) or isinstance(right, str):
        left, right = _text(left), _text(right)
        _bounded(len(left) + len(right))
        return left + right
    if isinstance(left, list) and isinstance(right, list):
        _bounded(len(left) + len(right))
        return left + right
    if isinstance(left, dict) and isinstance(right, dict):
        return {**left, **right}
    return _number(left) + _number(right)


def _filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in whose bad input is a RenderError naming it, and whose result is size-checked."""

    @wraps(fn)
    def call(*args: Any) -> Any:
        try:
            result = fn(*args)
        except RenderError:
            raise
        except (ValueError, TypeError, ArithmeticError, LookupError, AttributeError) as exc:
            raise _fail(f"?{name}: {exc}") from None
        return current_state().check_value(result)

    return call


class FreeMarkerEngine(JinjaEngine):
    """FreeMarker templates, translated to Jinja and run in its bounded sandbox."""

    name = "freemarker"

    def _environment(self, html: bool) -> Any:
        env = super()._environment(html)
        for name, fn in _builtins().items():
            env.filters[f"fm_{name}"] = _filter(name, fn)
        for name, fn in FORMATTERS.items():
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            env.filters[f"fm_{snake}"] = formatter(snake, fn)
        env.finalize = lambda value: current_state().check_value(_text(value))
        env.getitem = types.MethodType(_data_item, env)
        return env

    def compile_source(self, source: str, *, html: bool) -> Any:
        """Translate (refusing what is outside the subset), then compile in the sandbox."""
        from emailactions.engines.freemarker_translate import translate  # only when a template compiles

        jinja = translate(source, max_nesting=self.limits.max_nesting, max_tags=self.limits.max_tags)
        return super().compile_source(jinja, html=html)


def _data_item(env: Any, obj: Any, key: Any) -> Any:
    """``a.b`` and ``a[b]``: a dict's key or a list's item, never a Python attribute."""
    if isinstance(obj, dict):
        if isinstance(key, str) and key in obj:
            return current_state().check_value(obj[key])
    elif isinstance(obj, (list, tuple)):
        if isinstance(key, int) and not isinstance(key, bool) and -len(obj) <= key < len(obj):
            return obj[key]
    elif _undefined(obj):
        return obj
    return env.undefined(obj=obj, name=key)


@hookimpl
def register_template_engines(register: Callable[..., None]) -> None:
    register("freemarker", FreeMarkerEngine)

"""The TemplateEngine contract, and the budget every render runs under.

Templates are untrusted: an engine compiles each source once (cached here),
and renders under a :class:`RenderState` that bounds work, time and output,
so a hostile template ends in a :class:`~emailactions.errors.RenderError`
rather than a hang, a ``RecursionError`` or an exhausted process.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, ClassVar, Hashable, Mapping

from emailactions.errors import InvalidParams, RenderError
from emailactions.locales.formatting import FORMATTERS

__all__ = ["TemplateEngine", "RenderLimits", "RenderState", "Rendered", "plain_data", "current_state", "active_state", "FORMATTERS"]


@dataclass(frozen=True)
class RenderLimits:
    """Bounds on one template part; past any of them the render fails cleanly."""

    #: Characters of template source per part.
    max_source_chars: int = 100_000
    #: Template tags (``{{``, ``{%``) per part; pybars3 parses about 1 ms per tag.
    max_tags: int = 500
    #: Nested blocks or parentheses; parsers recurse once per level.
    max_nesting: int = 20
    #: Characters one part may render to.
    max_output_chars: int = 2_000_000
    #: Work units (loop iterations, characters produced) per part.
    max_work: int = 5_000_000
    #: Wall-clock seconds per part, checked as work is charged.
    max_seconds: float = 2.0
    #: Characters in any one intermediate value (string or list) a template builds.
    max_value_chars: int = 1_000_000
    #: Depth of nested objects and lists in the ``object`` data.
    max_data_depth: int = 32
    #: Values (scalars, objects, lists) in the ``object`` data.
    max_data_items: int = 100_000


@dataclass
class Rendered:
    """One rendered part and what it looked up in vain."""

    text: str
    missing: list[str] = field(default_factory=list)


_CURRENT: ContextVar["RenderState | None"] = ContextVar("emailactions_render_state", default=None)


def current_state() -> "RenderState":
    """The state of the render running in this context (engines' runtime hooks use it)."""
    state = _CURRENT.get()
    if state is None:  # pragma: no cover - only if a compiled template is called directly
        raise RenderError("A template ran outside of a render", part="unknown")
    return state


def active_state() -> "RenderState | None":
    """The running render's state, or None outside a render."""
    return _CURRENT.get()


#: Nesting of containers a template may build or print.
MAX_VALUE_DEPTH = 100


class RenderState:
    """Per-part budget and bookkeeping, charged by the engines as they run."""

    __slots__ = ("limits", "part", "locale", "paths", "work", "deadline", "missing", "_ticks", "depth", "sizes")

    def __init__(self, limits: RenderLimits, part: str, locale: str | None, paths: Mapping[int, str]) -> None:
        self.limits = limits
        self.part = part
        self.locale = locale
        #: id(container in the data) -> its dotted path, for missing-variable reports.
        self.paths = paths
        #: id(container) -> (container, expanded size), see check_value.
        self.sizes: dict[int, tuple[Any, int]] = {}
        self.work = 0
        self.deadline = time.monotonic() + limits.max_seconds
        self.missing: list[str] = []
        self._ticks = 0
        #: Call depth (macros, recursive loops) for engines that have calls.
        self.depth = 0

    def fail(self, message: str, **detail: Any) -> RenderError:
        """A RenderError for this part."""
        return RenderError(f"Template part {self.part!r} failed: {message}", part=self.part, **detail)

    def charge(self, units: int = 1) -> None:
        """Count work; raise once the part has done too much or run too long."""
        self.work += units
        if self.work > self.limits.max_work:
            raise self.fail(f"it does more than {self.limits.max_work} units of work (loops or output too large)")
        self._ticks += 1
        # A clock read costs about as much as a loop iteration: look every 256.
        if not self._ticks & 0xFF and time.monotonic() > self.deadline:
            raise self.fail(f"it ran longer than {self.limits.max_seconds} s")

    def check_value(self, value: Any) -> Any:
        """Refuse an intermediate string or list larger than the value limit.

        Containers count what printing them would produce: ``[a, a]`` is twice
        ``a``, so a loop of ``{% set v = [v, v] %}`` cannot double its way to
        gigabytes before ``{{ v }}`` turns it into one string.
        """
        kind = type(value)
        if kind is str:  # the common case, first: a string is its own size
            size = total = len(value)
        else:
            try:
                size = len(value)
            except TypeError:
                return value
            if not isinstance(value, (list, tuple, dict)) or id(value) in self.paths:
                # A container of the ``object`` data itself was not built by the
                # template: printing it is bounded by the output limit, and a
                # value the template builds around it still measures it.
                total = size
            else:
                total = self._expanded(value, 0)
        if total > self.limits.max_value_chars:
            raise self.fail(f"it builds a value of {total} items or characters (limit {self.limits.max_value_chars})")
        self.charge(size)
        return value

    def _expanded(self, value: Any, depth: int) -> int:
        # Memoised per render by id (the object is kept alive in the memo, so
        # its id cannot be reused): shared sub-lists are measured once.
        if isinstance(value, str):
            return len(value)
        if not isinstance(value, (list, tuple, dict)):
            return 1
        seen = self.sizes.get(id(value))
        if seen is not None:
            return seen[1]
        if depth > MAX_VALUE_DEPTH:
            raise self.fail(f"it builds values nested deeper than {MAX_VALUE_DEPTH} levels")
        total = len(value)
        for item in value.values() if isinstance(value, dict) else value:
            total += self._expanded(item, depth + 1)
            if total > self.limits.max_value_chars:
                break
        self.sizes[id(value)] = (value, total)
        return total

    def missed(self, container: Any, name: Any) -> None:
        """Record a lookup of ``name`` in ``container`` that found nothing."""
        base = self.paths.get(id(container)) if container is not None else None
        path = f"{base}.{name}" if base else str(name)
        if path not in self.missing and len(self.missing) < 100:
            self.missing.append(path)


_SCALARS = (str, int, float, bool, type(None), Decimal, _dt.date, _dt.datetime, _dt.time)


def plain_data(value: Any, limits: RenderLimits = RenderLimits(), *, root: str = "object", param: str = "object") -> tuple[Any, dict[int, str]]:
    """A copy of ``value`` made only of dicts, lists and scalars, with its paths.

    Templates read data, never Python objects: a copy made of plain types
    leaves nothing with attributes or methods worth reaching. Returns the
    copy and ``{id(container): "object.a.0"}`` for missing-variable reports.
    Anything else, too deep or too big, is a 400 naming ``param``.
    """
    paths: dict[int, str] = {}
    count = 0

    def copy(item: Any, path: str, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > limits.max_data_items:
            raise InvalidParams(f"Parameter {param!r} holds more than {limits.max_data_items} values", param=param)
        if depth > limits.max_data_depth:
            raise InvalidParams(f"Parameter {param!r} is nested deeper than {limits.max_data_depth} levels", param=param, path=path)
        if type(item) in _SCALARS:
            return item
        # Subclasses of str or int may carry methods of their own: keep the value.
        for kind in (bool, int, float, str, Decimal):
            if isinstance(item, kind):
                return kind(item)
        if isinstance(item, (_dt.date, _dt.time)):
            return item
        if isinstance(item, Mapping):
            out: dict[str, Any] = {}
            paths[id(out)] = path
            for key, sub in item.items():
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise InvalidParams(f"Parameter {param!r} has a key that is not a string at {path}", param=param, path=path)
                out[str(key)] = copy(sub, f"{path}.{key}", depth + 1)
            return out
        if isinstance(item, (list, tuple)):
            seq: list[Any] = []
            paths[id(seq)] = path
            seq.extend(copy(sub, f"{path}.{i}", depth + 1) for i, sub in enumerate(item))
            return seq
        raise InvalidParams(
            f"Parameter {param!r} holds a {type(item).__name__} at {path}; only JSON data is allowed",
            param=param,
            path=path,
        )

    return copy(value, root, 0), paths


class _LRU:
    """A small thread-safe LRU for compiled templates."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


class TemplateEngine(ABC):
    """Compiles template sources once and renders them with data and a locale.

    Subclasses set ``name`` (the registry key, and the value of a template's
    ``engine`` field) and implement :meth:`compile_source` and
    :meth:`render_compiled`. Compiled templates are cached per class by
    source, so every host in the process shares them.
    """

    name: ClassVar[str] = ""
    #: Compiled templates kept per engine class.
    cache_size: ClassVar[int] = 512
    _cache: ClassVar[_LRU]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._cache = _LRU(cls.cache_size)

    def __init__(self, limits: RenderLimits | None = None) -> None:
        self.limits = limits or RenderLimits()

    @abstractmethod
    def compile_source(self, source: str, *, html: bool) -> Any:
        """Compile ``source``; ``html`` means output is HTML-escaped.

        Raise :class:`RenderError` (without ``part``; the caller adds it) for
        a source that cannot compile or that breaks a limit.
        """

    @abstractmethod
    def render_compiled(self, compiled: Any, context: dict[str, Any], state: RenderState) -> str:
        """Render a compiled template; charge ``state`` for work done."""

    def compile(self, source: str, *, html: bool, part: str = "template") -> Any:
        """The compiled form of ``source``, from the cache when seen before."""
        if not isinstance(source, str):
            raise RenderError(f"Template part {part!r} must be a string", part=part)
        if len(source) > self.limits.max_source_chars:
            raise RenderError(
                f"Template part {part!r} is longer than {self.limits.max_source_chars} characters", part=part
            )
        key = (source, html, self.limits.max_nesting, self.limits.max_tags)
        compiled = self._cache.get(key)
        if compiled is None:
            try:
                compiled = self.compile_source(source, html=html)
            except RenderError as exc:
                raise RenderError(f"Template part {part!r} does not compile: {exc.message}", part=part, **exc.detail) from exc.__cause__
            self._cache.put(key, compiled)
        return compiled

    def render(
        self,
        source: str,
        context: dict[str, Any],
        *,
        html: bool,
        part: str,
        locale: str | None,
        paths: Mapping[int, str] | None = None,
    ) -> Rendered:
        """Compile (once) and render one part under a fresh budget."""
        compiled = self.compile(source, html=html, part=part)
        state = RenderState(self.limits, part, locale, paths or {})
        token = _CURRENT.set(state)
        try:
            text = self.render_compiled(compiled, context, state)
        except RecursionError:
            # Only reachable past our nesting checks; still a clean 400.
            raise state.fail("it nests too deeply") from None
        finally:
            _CURRENT.reset(token)
        if len(text) > self.limits.max_output_chars:
            raise state.fail(f"it renders more than {self.limits.max_output_chars} characters")
        return Rendered(text, state.missing)


def plain_error(exc: BaseException) -> str:
    """What went wrong, in words a template author can act on, never a Python
    repr: decimal's signals print as ``[<class 'decimal.InvalidOperation'>]``,
    and int-to-text conversion names ``sys.set_int_max_str_digits()``."""
    if isinstance(exc, ArithmeticError) and (not str(exc) or str(exc).startswith("[<class")):
        return "the number is out of range"
    text = str(exc)
    if text.startswith("Exceeds the limit"):
        return "the number has too many digits"
    return text[:200] or type(exc).__name__


def formatter(name: str, fn: Callable[..., str]) -> Callable[..., str]:
    """Wrap a locale formatter so bad input is a RenderError naming the helper."""

    def call(value: Any, *args: Any) -> str:
        state = current_state()
        if value is None:
            return ""
        try:
            return fn(value, state.locale, *args)
        except (ValueError, TypeError, ArithmeticError, LookupError) as exc:
            raise state.fail(f"{name}: {plain_error(exc)}") from None

    call.__name__ = name
    return call

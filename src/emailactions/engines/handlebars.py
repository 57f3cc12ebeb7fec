"""HandlebarsEngine: IDM's template language on pybars3, hardened.

pybars3 compiles a template into Python source and ``exec``s it. Left alone,
a template can break out in two ways, both shown in the tests:

* **Code injection.** Bracketed path segments (``{{[a') or __import__('os')...]}}``),
  subexpression names and partial names are pasted between quotes in the
  generated code without escaping, so a quote ends the string and the rest
  runs as Python.
* **Attribute access.** pybars3 falls back from ``ctx[name]`` to
  ``getattr(ctx, name)`` and calls whatever callable it finds, so
  ``{{#with "{0.__init__.__globals__[sys].modules[os].environ}"}}{{format}}{{/with}}``
  prints the process environment.

Closed here by (1) parsing with pybars3's grammar and validating every node
of the tree before any code is generated, rewriting string literals with
``repr`` and refusing partials; (2) replacing, in each compiled template's
globals, the lookup function with one that only reads dict keys and list
indexes, and the built-in helpers with budgeted ones; (3) rendering plain
data only (see :func:`~emailactions.engines.base.plain_data`).

pybars3 takes ~0.3 s to import, so it is imported on first compile.
"""

from __future__ import annotations

import ast
import keyword
import re
import threading
from typing import Any, Callable

from emailactions.errors import EngineUnavailable, RenderError
from emailactions.hookspecs import hookimpl
from emailactions.engines.base import FORMATTERS, RenderLimits, RenderState, TemplateEngine, current_state, formatter, plain_error

# Characters allowed in a path segment: anything printable but what could end
# or escape the u'...' literal pybars3 pastes it into.
_SEGMENT = re.compile(r"[^'\"\\\x00-\x1f\x7f\u2028\u2029]*")
_SYMBOL = re.compile(r"[\w@-]+")
_lock = threading.Lock()  # pybars3's code builder is one shared object
_pb: Any = None
# Bound on first import; looked up on every variable, so kept at module level.
_Scope: Any = None
_escape: Any = None


def _pybars() -> Any:
    """pybars3, imported on first use (it takes ~0.3 s)."""
    global _pb, _Scope, _escape
    if _pb is None:
        try:
            import pybars
            import pybars._compiler
        except ImportError as exc:  # pragma: no cover - pybars3 is a dependency
            raise EngineUnavailable("The handlebars engine needs pybars3: pip install pybars3", engine="handlebars") from exc
        _Scope, _escape = pybars.Scope, pybars._compiler.escape
        _pb = pybars
    return _pb


# -- compile-time checks ---------------------------------------------------


#: pymeta parses slowly: ~1 ms per tag, ~0.5 ms per argument, ~35 us per
#: character inside a tag, and one unclosed tag is quadratic in its length.
#: These bound the worst compile of a template to about two seconds.
MAX_TAG_CHARS = 500
MAX_TAG_TERMS = 16
MAX_TOTAL_TERMS = 1_000
MAX_TOTAL_TAG_CHARS = 20_000


def _line(source: str, position: int) -> int:
    return source.count("\n", 0, position) + 1


def _check_tags(source: str, limits: RenderLimits) -> None:
    """Bound what pybars3's recursive, backtracking parser will see.

    Every tag closed and short, blocks balanced, nesting and tag count
    limited -- checked by a linear scan before the parser runs.
    """
    depth = tags = terms = inside = pos = 0
    while (start := source.find("{{", pos)) >= 0:
        end = source.find("}}", start + 2)
        if end < 0:
            raise RenderError(f"a tag is not closed (line {_line(source, start)})", line=_line(source, start))
        inner = source[start + 2 : end]
        if source.startswith("{{{{", start):
            # A raw block: everything up to {{{{/name}}}} is literal text.
            name = inner[2:].split(None, 1)[0] if inner[2:].split() else ""
            close = source.find("{{{{/" + name + "}}}}", end) if name else -1
            if close < 0:
                raise RenderError(f"a raw block is not closed (line {_line(source, start)})", line=_line(source, start))
            pos = close + len(name) + 9
            continue
        if inner.lstrip("~").startswith("!"):
            # A comment ends at the first "}}", even a {{!-- --}} one: that is
            # where pybars3's grammar ends it (Handlebars.js would read on to
            # "--}}"), and this scan must see exactly the tags pybars3 will.
            pos = end + 2
            continue
        tags += 1
        if tags > limits.max_tags:
            raise RenderError(f"it has more than {limits.max_tags} tags")
        if end - start > MAX_TAG_CHARS:
            raise RenderError(f"a tag is longer than {MAX_TAG_CHARS} characters (line {_line(source, start)})", line=_line(source, start))
        count = len(inner.split())
        if count > MAX_TAG_TERMS:
            raise RenderError(f"a tag has more than {MAX_TAG_TERMS} arguments (line {_line(source, start)})", line=_line(source, start))
        terms += count
        inside += end - start
        if terms > MAX_TOTAL_TERMS or inside > MAX_TOTAL_TAG_CHARS:
            raise RenderError(f"its tags hold more than {MAX_TOTAL_TERMS} terms or {MAX_TOTAL_TAG_CHARS} characters")
        inner = inner.lstrip("{~ \t\r\n")
        if inner[:1] in ("#", "^") and inner[1:].strip(" ~}\t\r\n"):
            depth += 1
        elif inner.startswith("/"):
            depth -= 1
            if depth < 0:
                raise RenderError(f"a closing tag has no opening block (line {_line(source, start)})", line=_line(source, start))
        parens = max_parens = 0
        for ch in inner:
            if ch == "(":
                parens += 1
                max_parens = max(max_parens, parens)
            elif ch == ")":
                parens -= 1
        if depth > limits.max_nesting or max_parens > limits.max_nesting:
            raise RenderError(f"blocks or subexpressions nest deeper than {limits.max_nesting} levels")
        pos = end + 2
    if depth:
        raise RenderError("a block is not closed ({{#...}} without {{/...}})")


# pybars3's whitespace_control() rewrite, with one change: "\s*{{~" may only
# start where a whitespace run starts. pybars3's own regex retries it at every
# position of a run, which is quadratic (a 100 KB run of spaces takes seconds).
# (Only difference: spaces right after a standalone block line are kept.)
_WHITESPACE_CONTROL = re.compile(
    r"~}}\s*|(?<!\s)\s+{{~|{{~|"
    r"(?<=\n)([ \t]*{{(#[^{}]+|/[^{}]+|![^{}]+|else|else if [^{}]+)}}[ \t]*)+\r?\n|"
    r"^([ \t]*{{(#[^{}]+|![^{}]+)}}[ \t]*)+\r?\n|"
    r"\r?\n([ \t]*{{(/[^{}]+|![^{}]+)}}[ \t]*)+$"
)
_CLEANUP = re.compile(r"(?<={{)~|~(?=}})|(?<=}})[ \t]+(?={{)")


def _whitespace_control(source: str) -> str:
    return _WHITESPACE_CONTROL.sub(lambda match: _CLEANUP.sub("", match.group(0).strip()), source)


class _Validator:
    """Walks pybars3's parse tree; refuses what could reach the generated code."""

    def __init__(self) -> None:
        #: Helpers called as subexpressions; they must exist at compile time.
        self.subexpressions: set[str] = set()

    def template(self, node: Any) -> list[Any]:
        if not isinstance(node, list) or not node or node[0] != "template":
            raise RenderError("unexpected template structure")
        return ["template"] + [self.statement(item) for item in node[1:]]

    def statement(self, node: Any) -> Any:
        kind = node[0]
        if kind in ("literal", "newline", "whitespace"):
            if not isinstance(node[1], str):
                raise RenderError("unexpected literal")
            return node  # emitted with repr(): safe
        if kind == "comment":
            return node
        if kind in ("expand", "escapedexpand"):
            _, path, args = node
            return (kind, self.path(path), [self.arg(a) for a in args])
        if kind in ("block", "invertedblock"):
            _, symbol, args, body, alt = node
            self.symbol(symbol)
            return (kind, symbol, [self.arg(a) for a in args], self.template(body), self.template(alt) if alt else alt)
        if kind == "rawblock":
            _, symbol, args, raw = node
            self.symbol(symbol)
            return (kind, symbol, [self.arg(a) for a in args], raw)
        if kind == "partial":
            raise RenderError("partials ({{> name}}) are not supported")
        raise RenderError(f"unsupported template construct {kind!r}")

    def symbol(self, symbol: Any) -> None:
        if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
            raise RenderError(f"bad block name {str(symbol)[:40]!r}")

    def path(self, node: Any) -> Any:
        if not (isinstance(node, tuple) and node[0] == "path" and isinstance(node[1], list)):
            raise RenderError("unexpected path")
        for segment in node[1]:
            if not isinstance(segment, str) or not _SEGMENT.fullmatch(segment):
                raise RenderError(f"a path segment has a quote, backslash or control character: {str(segment)[:40]!r}")
        return node

    def arg(self, node: Any) -> Any:
        kind = node[0]
        if kind == "path":
            return self.path(node)
        if kind == "literalparam":
            return ("literalparam", self.literal(node[1]))
        if kind == "kwparam":
            _, name, value = node
            if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)) or name in ("context", "options"):
                raise RenderError(f"bad hash argument name {str(name)[:40]!r}")
            return ("kwparam", name, self.arg(value))
        if kind == "subexpr":
            _, path, args = node
            self.path(path)
            if len(path[1]) != 1 or not _SYMBOL.fullmatch(path[1][0]):
                raise RenderError("a subexpression must start with a helper name")
            self.subexpressions.add(path[1][0])
            return ("subexpr", path, [self.arg(a) for a in args])
        raise RenderError(f"unsupported argument {kind!r}")

    @staticmethod
    def literal(value: Any) -> Any:
        """Re-emit a literal from its value, so only repr() reaches the code."""
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, str):
            try:
                text = ast.literal_eval(value)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise RenderError(f"bad string literal {value[:40]!r}") from None
            if isinstance(text, str):
                # pybars3 pastes str(value) into the code: make that repr().
                return repr(text)
        raise RenderError("bad literal")


# -- runtime: lookups and helpers that only see data -------------------------

_MISSING = object()


def _get(container: Any, name: str, state: RenderState) -> Any:
    """``container[name]`` for dicts, ``container[int(name)]`` for lists; else None."""
    if type(container) is dict:
        value = container.get(name, _MISSING)
    elif type(container) is list:
        if name == "length":
            return len(container)
        value = container[int(name)] if name.isdigit() and int(name) < len(container) else _MISSING
    else:
        # Strings, numbers, dates: data without members a template may read.
        return None
    if value is _MISSING:
        state.missed(container, name)
        return None
    return value


def _scope_get(scope: Any, name: str, state: RenderState) -> Any:
    # Mirrors pybars3's Scope.get, minus its getattr() fallback.
    if name == "@root":
        return scope.root
    if name == "@_parent":
        return scope.parent
    if name in ("@index", "@key", "@first", "@last"):
        return getattr(scope, name[1:])
    if name == "this":
        return scope.context
    if scope.overrides and name in scope.overrides:
        return scope.overrides[name]
    context = scope.context
    if isinstance(context, _Scope):
        return _scope_get(context, name, state)
    return _get(context, name, state)


def _resolve(context: Any, *segments: str) -> Any:
    """Replacement for pybars3's ``resolve``: mapping keys and list indexes only."""
    state = current_state()
    scope_type = _Scope
    if segments == ("",) and isinstance(context, scope_type):
        return context.context
    carry = False
    for segment in segments:
        if carry:
            carry = False
            segment = "@" + segment
        if segment.startswith("@@"):
            segment, carry = segment[1:], True
        if context is None:
            return None
        if segment in (None, ""):
            continue
        if isinstance(context, scope_type):
            context = _scope_get(context, segment, state)
        else:
            context = _get(context, segment, state)
    return context


def _resolve_subexpr(helpers: dict[str, Any], name: str, context: Any, *args: Any, **kwargs: Any) -> Any:
    if name not in helpers:
        raise current_state().fail(f"unknown helper {name!r}")
    return helpers[name](context, *args, **kwargs)


def _prepare_text(value: Any, should_escape: bool) -> Any:
    """``{{x}}`` in a subject or text part: nothing there is HTML, so nothing is escaped."""
    return _prepare(value, False)


def _prepare(value: Any, should_escape: bool) -> Any:
    """Text for ``{{x}}``: lists join with commas and objects say so, as in Handlebars.js."""
    if value is None:
        return ""
    if isinstance(value, list) and type(value) is not list:
        return value  # rendered output (a strlist), not data
    if value is True or value is False:
        value = "true" if value else "false"
    elif type(value) is list:
        value = ",".join(str(_prepare(v, False)) for v in value)
    elif type(value) is dict:
        value = "[object Object]"
    elif type(value) is not str:
        value = str(value)
    current_state().charge(len(value))
    return _escape(value) if should_escape else value


def _budget_strlist() -> type:
    pybars = _pybars()

    class BudgetStrlist(pybars.strlist):
        """pybars3's output list, charging each piece to the render budget."""

        # The render's budget, looked up once per list rather than once per piece.
        __slots__ = ("charge",)

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.charge = current_state().charge

        def append(self, thing: Any, _append: Callable[[list, Any], None] = list.append) -> None:
            self.charge(len(thing) if isinstance(thing, str) else 1)
            _append(self, thing)

        def grow(self, thing: Any, _append: Callable[[list, Any], None] = list.append) -> None:
            # pybars3's grow, one call shallower per piece (the hot path of
            # every render): a string is charged and appended, a list is flattened.
            if type(thing) is str:
                self.charge(len(thing))
                _append(self, thing)
            else:
                for element in thing:
                    self.grow(element)

    return BudgetStrlist


def _truthy(value: Any) -> bool:
    # Handlebars.js: empty lists are false, like Python; so are "" and 0.
    return bool(value)


def _helpers() -> dict[str, Callable[..., Any]]:
    """The built-in helpers, rewritten to see data only and to charge the budget."""

    def each(this: Any, options: dict[str, Any], context: Any = None) -> Any:
        state = current_state()
        result: list[Any] = []
        scope_type = _Scope
        if type(context) is dict:
            items = list(context.items())
            keyed = True
        elif type(context) is list:
            items = list(enumerate(context))
            keyed = False
        else:
            items = []
            keyed = False
        if not items:
            return options["inverse"](this)
        last = len(items) - 1
        for index, (key, value) in enumerate(items):
            state.charge()
            scope = scope_type(value, this, options["root"], index=index, first=index == 0, last=index == last,
                               key=key if keyed else None)
            result.append(options["fn"](scope))
        return result

    def if_(this: Any, options: dict[str, Any], context: Any = None) -> Any:
        return options["fn"](this) if _truthy(context) else options["inverse"](this)

    def unless(this: Any, options: dict[str, Any], context: Any = None) -> Any:
        return options["inverse"](this) if _truthy(context) else options["fn"](this)

    def with_(this: Any, options: dict[str, Any], context: Any = None) -> Any:
        if not _truthy(context):
            return options["inverse"](this)
        return options["fn"](context)

    def lookup(this: Any, context: Any = None, key: Any = None) -> Any:
        if key is None or isinstance(key, bool):
            return None
        state = current_state()
        if isinstance(context, _Scope):
            return _scope_get(context, str(key), state)
        return _get(context, str(key), state)

    def block_helper_missing(this: Any, options: dict[str, Any], context: Any = None) -> Any:
        if type(context) is list:
            return each(this, options, context) if context else options["inverse"](this)
        if not _truthy(context):
            return options["inverse"](this)
        return options["fn"](this if context is True else context)

    def helper_missing(this: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:
            return None
        raise current_state().fail(f"unknown helper {name!r}")

    def log(this: Any, *args: Any, **kwargs: Any) -> None:
        return None

    helpers: dict[str, Callable[..., Any]] = {
        "each": each,
        "if": if_,
        "unless": unless,
        "with": with_,
        "lookup": lookup,
        "blockHelperMissing": block_helper_missing,
        "helperMissing": helper_missing,
        "log": log,
    }
    for name, fn in FORMATTERS.items():
        helpers[name] = _as_helper(formatter(name, fn))
    return helpers


def _as_helper(fn: Callable[..., str]) -> Callable[..., str]:
    # Helpers get the scope first; hash arguments (format="long") pass through.
    def helper(this: Any, value: Any = None, *args: Any, **kwargs: Any) -> str:
        return fn(value, *args, *kwargs.values())

    return helper


class HandlebarsEngine(TemplateEngine):
    """Handlebars, as IDM's templates use it, via pybars3 (compiled once per source)."""

    name = "handlebars"
    _helper_table: dict[str, Callable[..., Any]] | None = None

    @classmethod
    def helpers(cls) -> dict[str, Callable[..., Any]]:
        """Built-in helper table, built on first use."""
        if cls._helper_table is None:
            cls._helper_table = _helpers()
        return cls._helper_table

    def compile_source(self, source: str, *, html: bool) -> Any:
        """Parse, validate, generate and exec; returns the render function."""
        _check_tags(source, self.limits)
        pybars = _pybars()
        compiler_cls = pybars.Compiler
        with _lock:
            compiler = compiler_cls()
            try:
                text = _whitespace_control(source)
                tree, (position, _) = compiler_cls._handlebars(text).apply("template")
                if position < len(text):
                    line = text.count("\n", 0, position) + 1
                    raise RenderError(f"syntax error on line {line} near {compiler._extract_word(text, position)!r}")
                validator = _Validator()
                tree = validator.template(tree)
                unknown = validator.subexpressions - set(self.helpers())
                if unknown:
                    raise RenderError(f"unknown helper {sorted(unknown)[0]!r} in a subexpression")
                builder = compiler_cls._compiler.globals["builder"]
                builder._reset()
                container = compiler_cls._compiler(tree).apply("compile")[0]
            except RenderError:
                raise
            except RecursionError:
                raise RenderError("it nests too deeply") from None
            except Exception as exc:  # pymeta raises its own ParseError types
                raise RenderError(f"syntax error: {str(exc).splitlines()[0][:200]}") from None
        namespace: dict[str, Any] = {"__name__": "emailactions_handlebars_template"}
        try:
            code = compile(container.full_code, "<handlebars template>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:  # pragma: no cover - the validator should make this unreachable
            raise RenderError(f"generated code does not compile: {exc}") from None
        exec(code, namespace)  # noqa: S102 - validated tree; globals replaced below
        # The generated functions look these names up in their globals at call
        # time: swapping them confines lookups to data and charges the budget.
        namespace.update(
            resolve=_resolve,
            resolve_subexpr=_resolve_subexpr,
            prepare=_prepare if html else _prepare_text,
            strlist=_budget_strlist_type(),
            _pybars_={"helpers": self.helpers()},
        )
        return namespace[container.name]

    def render_compiled(self, compiled: Any, context: dict[str, Any], state: RenderState) -> str:
        """Run the compiled function on the data."""
        try:
            return str(compiled(context))
        except RenderError:
            raise
        except RecursionError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, _pybars().PybarsError) as exc:
            raise state.fail(f"{type(exc).__name__}: {plain_error(exc)}") from None


_strlist_type: type | None = None


def _budget_strlist_type() -> type:
    global _strlist_type
    if _strlist_type is None:
        _strlist_type = _budget_strlist()
    return _strlist_type


@hookimpl
def register_template_engines(register: Callable[..., None]) -> None:
    register("handlebars", HandlebarsEngine)

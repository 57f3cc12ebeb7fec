"""JinjaEngine: Jinja2's SandboxedEnvironment, with bounds on work and size.

The sandbox already stops ``__class__``-style escapes. What it leaves open is
exhausting the process: ``"a" * 10**9``, ``2 ** 10**9``, ``"%999999999s" % x``,
``"x"|center(10**9)``, doubling a string in a loop, or nested loops of
``range(100000)``. Here every operator, filter, call and loop is bounded or
charged to the render's budget, attribute access is limited to an allowlist
of read-only methods, and HTML autoescape depends on the part being rendered
(html, or subject and text) -- never on a file name.
"""

from __future__ import annotations

import functools
import re
import types
from functools import wraps
from typing import Any, Callable, Iterator

from emailactions.errors import EngineUnavailable, RenderError
from emailactions.hookspecs import hookimpl
from emailactions.engines.base import FORMATTERS, RenderLimits, RenderState, TemplateEngine, active_state, current_state, formatter, plain_error


#: What ``getattr`` finds on a plain dict (its methods, object's dunders):
#: any other name on one is a key.
_DICT_NAMES = frozenset(dir(dict))
#: Read-only methods templates may call on data; everything else is refused.
_SAFE_METHODS: dict[type, frozenset[str]] = {
    dict: frozenset({"items", "keys", "values", "get"}),
    str: frozenset({
        "upper", "lower", "title", "capitalize", "casefold", "swapcase", "strip", "lstrip", "rstrip",
        "startswith", "endswith", "split", "rsplit", "splitlines", "count", "find", "rfind",
        "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower",
    }),  # fmt: skip
    list: frozenset({"count", "index"}),
}
# The optional "(key)" is the mapping form: "%(a)999999999s" % {"a": 1}.
_PRINTF_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
#: Block tags that open a level of nesting (for the pre-parse depth check).
_BLOCK_TAGS = frozenset({"for", "if", "macro", "call", "filter", "with", "block", "autoescape", "trans"})
#: Bits in an integer result; enough for any real amount, far from a hang.
_MAX_INT_BITS = 100_000


def _check_printf(fmt: str, limits: RenderLimits) -> None:
    """Refuse %-formatting whose width or precision could allocate without bound."""
    for match in _PRINTF_WIDTH.finditer(fmt):
        for size in match.groups():
            if size == "*" or (size and int(size) > 1000):
                raise current_state().fail("a %-format width or precision over 1000")


def _sized(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def _bounded_filters(limits: RenderLimits) -> dict[str, Callable[..., Callable[..., Any]]]:
    """Checks run before filters whose output can be far larger than their input."""
    cap = limits.max_value_chars

    def too_big(what: str) -> RenderError:
        return current_state().fail(f"{what} would exceed {cap} characters")

    def center(value: Any, width: Any = 80) -> None:
        if isinstance(width, int) and width > cap:
            raise too_big("center")

    def indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
        size = width if isinstance(width, int) else _sized(width)
        if size * (str(value).count("\n") + 1) > cap:
            raise too_big("indent")

    def wordwrap(value: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None, *args: Any, **kwargs: Any) -> None:
        wrap = kwargs.get("wrapstring", wrapstring)
        if not isinstance(width, int) or width < 1:
            raise current_state().fail("wordwrap needs a width of at least 1")
        if _sized(value) * (_sized(wrap) + 1) > cap:
            raise too_big("wordwrap")

    def batch(value: Any, linecount: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(linecount, int) or not 0 < linecount <= cap:
            raise current_state().fail("batch needs a size from 1 to the value limit")

    def slice_(value: Any, slices: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(slices, int) or not 0 < slices <= max(_sized(value), 1):
            raise current_state().fail("slice needs a count from 1 to the length of the list")

    def format_(value: Any, *args: Any, **kwargs: Any) -> None:
        _check_printf(str(value), limits)

    def join(value: Any, d: Any = "", *args: Any, **kwargs: Any) -> None:
        if _sized(d) * _sized(value) > cap:
            raise too_big("join")

    def replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
        size, old_n, new_n = _sized(s), _sized(old), _sized(new)
        grows = (size + 1) * new_n if old_n == 0 else (size // old_n) * max(new_n - old_n, 0)
        if size + grows > cap:
            raise too_big("replace")

    def round_(value: Any, precision: Any = 0, *args: Any, **kwargs: Any) -> None:
        # round(5, -10**9) computes 10**(10**9).
        if not isinstance(precision, int) or abs(precision) > 100:
            raise current_state().fail("round needs a precision from -100 to 100")

    return {"center": center, "indent": indent, "wordwrap": wordwrap, "batch": batch, "slice": slice_,
            "format": format_, "join": join, "replace": replace, "round": round_}  # fmt: skip


def _guard(fn: Callable[..., Any], check: Callable[..., None] | None) -> Callable[..., Any]:
    """A filter that runs ``check`` first and charges its result to the budget."""
    pass_arg = getattr(fn, "jinja_pass_arg", None)

    @wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if check is not None:
            # Context/environment arguments come first for pass_* filters.
            check(*(args[1:] if pass_arg is not None else args), **kwargs)
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):
            # Lazy filters (map, select, ...) charge as they are consumed.
            return _iterate(result)
        return current_state().check_value(result)

    return guarded


def _iterate(iterable: Any) -> Iterator[Any]:
    """Every loop's iterable goes through here: one unit of work per item."""
    state = current_state()
    for item in iterable:
        state.charge()
        yield item


def _line_of(exc: BaseException) -> int | None:
    """The template line an exception came from (Jinja rewrites tracebacks to show it)."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@functools.lru_cache(maxsize=None)
def _runtime() -> Any:
    """Import Jinja2 and build the sandbox classes on first use (keeps ``import emailactions`` fast)."""
    try:
        import jinja2
        from jinja2 import nodes
        from jinja2.compiler import CodeGenerator
        from jinja2.runtime import ChainableUndefined, LoopContext, Macro
        from jinja2.sandbox import SandboxedEnvironment
        from jinja2.utils import Cycler, Joiner, Namespace
    except ImportError as exc:  # pragma: no cover - jinja2 is a dependency
        raise EngineUnavailable("The jinja2 engine needs jinja2>=3.1.6: pip install jinja2", engine="jinja2") from exc

    # Runtime helpers whose public attributes (loop.index, ns.total) are the point.
    runtime_types = (LoopContext, Namespace, Cycler, Joiner, Macro, ChainableUndefined)

    class _RecordingUndefined(ChainableUndefined):
        """Missing values render empty, as in IDM's Handlebars, and are recorded for preview."""

        __slots__ = ()

        def __init__(self, hint: Any = None, obj: Any = jinja2.runtime.missing, name: Any = None, exc: Any = jinja2.UndefinedError) -> None:
            super().__init__(hint, obj, name, exc)
            state = active_state()
            if state is not None and name is not None:
                state.missed(None if obj is jinja2.runtime.missing else obj, name)

    class _CodeGenerator(CodeGenerator):
        """Routes ``~`` concatenation through the value-size check."""

        def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
            self.write("environment.checked(")
            super().visit_Concat(node, frame)
            self.write(")")

        # List, dict and tuple literals are size-checked too: nesting a value
        # in itself doubles what it prints without any operator involved.
        def visit_List(self, node: nodes.List, frame: Any) -> None:
            self.write("environment.checked(")
            super().visit_List(node, frame)
            self.write(")")

        def visit_Dict(self, node: nodes.Dict, frame: Any) -> None:
            self.write("environment.checked(")
            super().visit_Dict(node, frame)
            self.write(")")

        def visit_Tuple(self, node: nodes.Tuple, frame: Any) -> None:
            if node.ctx != "load":  # an unpacking target, not a value
                return super().visit_Tuple(node, frame)
            self.write("environment.checked(")
            super().visit_Tuple(node, frame)
            self.write(")")

    class _Sandbox(SandboxedEnvironment):
        """The sandbox, plus bounded operators, calls and attribute access."""

        code_generator_class = _CodeGenerator
        intercepted_binops = frozenset({"+", "*", "**", "%", "//", "/"})

        def __init__(self, limits: RenderLimits, **options: Any) -> None:
            super().__init__(**options)
            self.limits = limits

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            if not super().is_safe_attribute(obj, attr, value):
                return False
            if isinstance(obj, runtime_types):
                return True
            for kind in type(obj).__mro__:
                if kind in _SAFE_METHODS:
                    return attr in _SAFE_METHODS[kind]
            return False

        def wrap_str_format(self, value: Any) -> Any:
            # str.format can pad without bound; it is not on the allowlist,
            # so let is_safe_attribute refuse it instead of wrapping it.
            return None

        def checked(self, value: Any) -> Any:
            """Size check for ``~`` results."""
            return current_state().check_value(value)

        def getattr(self, obj: Any, attribute: str) -> Any:
            # ``object.name`` on the plain data (exact dicts) is a key lookup:
            # the sandbox would try the attribute, fail, then index, at twice the cost.
            if type(obj) is dict and attribute not in _DICT_NAMES and attribute in obj:
                return current_state().check_value(obj[attribute])
            return current_state().check_value(super().getattr(obj, attribute))

        def getitem(self, obj: Any, argument: Any) -> Any:
            return current_state().check_value(super().getitem(obj, argument))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            state = current_state()
            state.depth += 1
            if state.depth > __self.limits.max_nesting:
                raise state.fail(f"calls nest deeper than {__self.limits.max_nesting} levels (a recursive macro?)")
            try:
                result = super().call(__context, __obj, *args, **kwargs)
            finally:
                state.depth -= 1
            return state.check_value(result)

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            state = current_state()
            cap = self.limits.max_value_chars
            if op == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                        if len(seq) * max(times, 0) > cap:
                            raise state.fail(f"repeating a value past {cap} items or characters")
                if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                    raise state.fail("an integer product too large")
            elif op == "**":
                if isinstance(left, int) and isinstance(right, int) and right > 0 and left not in (0, 1, -1):
                    if right * left.bit_length() > _MAX_INT_BITS:
                        raise state.fail("an integer power too large")
            elif op == "+":
                if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) and len(left) + len(right) > cap:
                    raise state.fail(f"a value past {cap} items or characters")
            elif op == "%" and isinstance(left, str):
                _check_printf(left, self.limits)
            return state.check_value(self.binop_table[op](left, right))

    def finalize(value: Any) -> Any:
        # {{ object.items }} would print "<built-in method ... at 0x7f...>": a
        # memory address is not data. Callables print nothing.
        if callable(value) and not isinstance(value, jinja2.runtime.Undefined):
            return ""
        return current_state().check_value(value)

    return types.SimpleNamespace(
        jinja2=jinja2, nodes=nodes, Sandbox=_Sandbox, Undefined=_RecordingUndefined, finalize=finalize
    )


class JinjaEngine(TemplateEngine):
    """Jinja2 in a bounded sandbox; HTML parts autoescape, subject and text do not."""

    name = "jinja2"

    def __init__(self, limits: RenderLimits | None = None) -> None:
        super().__init__(limits)
        self._rt = _runtime()
        # One environment per escaping mode: autoescape follows the part.
        self._envs = {html: self._environment(html) for html in (True, False)}

    def _environment(self, html: bool) -> Any:
        rt = self._rt
        env = rt.Sandbox(self.limits, autoescape=html, undefined=rt.Undefined, keep_trailing_newline=True, finalize=rt.finalize)
        env.globals.pop("lipsum", None)  # lipsum(n=10**6) would write a novel
        checks = _bounded_filters(self.limits)
        env.filters = {name: _guard(fn, checks.get(name)) for name, fn in env.filters.items()}
        env.filters["_iterate"] = _iterate
        for name, fn in FORMATTERS.items():
            # Jinja's own convention: format_date, format_currency, ...
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            env.filters[snake] = formatter(snake, fn)
        return env

    def compile_source(self, source: str, *, html: bool) -> Any:
        """Check nesting, parse, bound every loop, then compile the AST."""
        env = self._envs[html]
        jinja2, nodes = self._rt.jinja2, self._rt.nodes
        try:
            self._check_tokens(env, source)
            tags = source.count("{{") + source.count("{%")
            if tags > self.limits.max_tags:
                raise RenderError(f"it has {tags} tags (limit {self.limits.max_tags})")
            tree = env.parse(source)
            self._check_tree(tree)
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Filter(loop.iter, "_iterate", [], [], None, None, lineno=loop.lineno)
            return env.from_string(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"{exc.message} (line {exc.lineno})", line=exc.lineno) from None
        except (jinja2.TemplateError, SyntaxError) as exc:
            raise RenderError(str(exc)[:300]) from None
        except RecursionError:
            raise RenderError("it nests too deeply") from None

    def _check_tokens(self, env: Any, source: str) -> None:
        """Bound what the recursive-descent parser recurses on, before it runs."""
        limit = self.limits.max_nesting
        parens = blocks = unary = 0
        previous = ""
        for lineno, kind, value in env.lex(source):
            if kind == "whitespace":
                continue
            # lex() reports raw tokens: every operator is ("operator", text).
            if kind == "operator" and value in "([{":
                parens += 1
            elif kind == "operator" and value in ")]}":
                parens -= 1
            if previous == "block_begin" and kind == "name":
                if value in _BLOCK_TAGS:
                    blocks += 1
                elif value.startswith("end"):
                    blocks -= 1
            unary = unary + 1 if (kind == "operator" and value in "-+") or (kind == "name" and value == "not") else 0
            if max(parens, blocks, unary) > limit:
                raise RenderError(f"blocks, brackets or operators nest deeper than {limit} levels (line {lineno})", line=lineno)
            previous = kind

    def _check_tree(self, tree: Any) -> None:
        """Refuse loaders' tags and ASTs deep enough to overflow the code generator."""
        nodes = self._rt.nodes
        limit = self.limits.max_nesting * 5
        stack = [(tree, 0)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
                raise RenderError(f"{type(node).__name__.lower()} is not supported: templates are self-contained", line=node.lineno)
            if depth > limit:
                raise RenderError(f"expressions nest deeper than {limit} levels (line {node.lineno})", line=node.lineno)
            stack.extend((child, depth + 1) for child in node.iter_child_nodes())

    def render_compiled(self, compiled: Any, context: dict[str, Any], state: RenderState) -> str:
        """Stream the output, charging every chunk and stopping at the output limit."""
        jinja2 = self._rt.jinja2
        out: list[str] = []
        append = out.append
        size = charged = 0
        cap = self.limits.max_output_chars
        try:
            for chunk in compiled.generate(context):
                size += len(chunk)
                if size > cap:
                    raise state.fail(f"it renders more than {cap} characters")
                append(chunk)
                # Output is charged in batches: the cap above already bounds
                # it per chunk, and a charge per chunk cost more than the chunk.
                if size - charged > 4096:
                    state.charge(size - charged)
                    charged = size
            state.charge(size - charged)
        except RenderError:
            raise
        except RecursionError:
            raise
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            line = _line_of(exc)
            where = f" (line {line})" if line else ""
            raise state.fail(f"{type(exc).__name__}: {plain_error(exc)}{where}", line=line) from None
        return "".join(out)


@hookimpl
def register_template_engines(register: Callable[..., None]) -> None:
    register("jinja2", JinjaEngine)


"""FreeMarker expressions -> Jinja2 expressions (see engines/freemarker_translate.py).

A recursive-descent parser, bounded in depth, that emits Jinja source: data
lookups as subscripts (``object['user']['username']``, read by the engine's
dict-and-list-only ``getitem``), built-ins as ``fm_*`` filters, and
``!``/``??``/``?has_content`` over a silent probe so that an author's
fallback is not reported as a missing variable.
"""

from __future__ import annotations

import re
from typing import Any

from emailactions.errors import RenderError

#: Built-ins that are plain filters: ``x?name(args)`` -> ``x|fm_name(args)``.
FILTER_BUILTINS = frozenset({
    "html", "xhtml", "xml", "url", "url_path", "js_string", "json_string", "upper_case", "lower_case",
    "cap_first", "uncap_first", "capitalize", "trim", "length", "size", "string", "c", "number", "date",
    "datetime", "time", "contains", "starts_with", "ends_with", "replace", "join", "first", "last", "keys",
    "values", "reverse", "no_esc", "boolean", "abs", "round", "floor", "ceiling", "left_pad", "right_pad",
    "index_of", "seq_contains", "substring", "split", "sort", "chop_linebreak", "ensure_starts_with",
    "ensure_ends_with", "keep_before", "keep_after", "remove_beginning", "remove_ending", "word_list",
    "is_string", "is_number", "is_boolean", "is_sequence", "is_hash", "is_date",
    "format_date", "format_date_time", "format_number", "format_currency", "format_percent",
})  # fmt: skip
#: Built-ins that test presence: their operand is probed without recording a miss.
PROBE_BUILTINS = frozenset({"has_content"})
#: Loop-variable built-ins -> LoopContext attributes.
LOOP_BUILTINS = {"index": "index0", "counter": "index", "has_next": "nextitem is defined",
                 "is_first": "first", "is_last": "last", "item_parity": "cycle('odd', 'even')"}  # fmt: skip
#: Refused with a reason: they reach Java objects or run template code.
FORBIDDEN_BUILTINS = {"new": "creates Java objects", "api": "exposes Java methods", "eval": "runs code",
                      "interpret": "runs code", "eval_json": "parses data as code"}  # fmt: skip
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>r?"(?:[^"\\]|\\.)*"|r?'(?:[^'\\]|\\.)*')
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_$@][A-Za-z0-9_$@]*)
  | (?P<op>\?\?|\.\.|&&|\|\||==|!=|<=|>=|[-+*/%!?=<>(){}\[\].,:;])
""", re.X)  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "b": "\b", "\\": "\\", '"': '"', "'": "'",
            "$": "$", "{": "{", "<": "<", ">": ">", "l": "<", "g": ">", "a": "&"}  # fmt: skip
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMPARE = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "lt": "<", "gt": ">", "lte": "<=", "gte": ">="}


def error(message: str, line: int) -> RenderError:
    return RenderError(f"{message} (line {line})", line=line)


class Expr:
    """A recursive-descent parser of one FreeMarker expression, emitting Jinja."""

    def __init__(self, tr: Any, source: str, pos: int, line: int, stop: str) -> None:
        self.tr, self.src, self.pos, self.line, self.stop = tr, source, pos, line, stop
        self.depth = 0  # brackets open (a stop character inside them does not stop)
        self.nest = 0  # recursion depth
        #: The last postfix expression parsed, and its data path (for "(a.b)!").
        self.last: tuple[str, list[str] | None] = ("", None)

    # -- tokens ---------------------------------------------------------------

    def peek(self) -> tuple[str, str]:
        """The next token as (kind, text); ("end", "") at the stop character or the end."""
        while True:
            if self.pos >= len(self.src):
                return "eof", ""
            if self.depth == 0 and self.src.startswith(self.stop, self.pos):
                return "end", ""
            if self.stop == ">" and self.depth == 0 and self.src.startswith("/>", self.pos):
                return "end", ""
            if self.stop == "]" and self.depth == 0 and self.src.startswith("/]", self.pos):
                return "end", ""
            m = _TOKEN.match(self.src, self.pos)
            if m is None:
                raise error(f"unexpected character {self.src[self.pos]!r} in an expression", self.line)
            if m.lastgroup == "ws":
                self.line += m.group().count("\n")
                self.pos = m.end()
                continue
            return m.lastgroup or "", m.group()

    def take(self) -> tuple[str, str]:
        kind, text = self.peek()
        if kind in ("eof", "end"):
            raise error("an expression ends too early", self.line)
        self.pos += len(text)
        self.line += text.count("\n")
        if text in ("(", "[", "{"):
            self.depth += 1
        elif text in (")", "]", "}"):
            self.depth -= 1
        return kind, text

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text and self.peek()[0] in ("op", "name"):
            self.take()
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise error(f"expected {text!r} but found {self.peek()[1] or 'the end'!r}", self.line)

    def enter(self) -> None:
        self.nest += 1
        if self.nest > self.tr.max_nesting * 3:
            raise error(f"expressions nest deeper than {self.tr.max_nesting} levels", self.line)

    # -- grammar (lowest precedence first) ------------------------------------

    def parse(self) -> str:
        self.enter()
        try:
            return self.or_()
        finally:
            self.nest -= 1

    def or_(self) -> str:
        out = self.and_()
        while self.accept("||"):
            out = f"({out} or {self.and_()})"
        return out

    def and_(self) -> str:
        out = self.equality()
        while self.accept("&&"):
            out = f"({out} and {self.equality()})"
        return out

    def equality(self) -> str:
        out = self.compare()
        while self.peek()[1] in ("==", "!=", "="):
            op = self.take()[1]
            out = f"({out} {'!=' if op == '!=' else '=='} {self.compare()})"
        return out

    def compare(self) -> str:
        out = self.additive()
        while self.peek()[1] in _COMPARE and not (self.peek()[1] == ">" and self.stop == ">" and self.depth == 0):
            op = _COMPARE[self.take()[1]]
            out = f"({out} {op} {self.additive()})"
        return out

    def additive(self) -> str:
        out = self.multiplicative()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            right = self.multiplicative()
            # + joins strings as well as adding numbers; Jinja's + does not.
            out = f"({out}|fm_plus({right}))" if op == "+" else f"({out} - {right})"
        return out

    def multiplicative(self) -> str:
        out = self.unary()
        while self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            out = f"({out} {op} {self.unary()})"
        return out

    def unary(self) -> str:
        if self.peek()[1] in ("!", "-", "+"):
            op = self.take()[1]
            self.enter()
            try:
                operand = self.unary()
            finally:
                self.nest -= 1
            return f"(not {operand})" if op == "!" else f"({op}{operand})"
        return self.postfix()

    def postfix(self) -> str:
        out, path = self.primary()
        while True:
            kind, text = self.peek()
            if text == "." and kind == "op":
                self.take()
                kind, name = self.take()
                if kind != "name":
                    raise error(f"expected a name after '.', found {name!r}", self.line)
                out, path = f"{out}[{name!r}]", path + [repr(name)] if path is not None else None
            elif text == "[" and kind == "op":
                self.take()
                key = self.parse()
                self.expect("]")
                out, path = f"{out}[{key}]", path + [key] if path is not None else None
            elif text == "(" and kind == "op":
                raise error("method calls are not supported: templates only read data", self.line)
            elif text == "..":
                raise error("ranges are not supported", self.line)
            elif text == "??":
                self.take()
                out, path = f"({self.probe(out, path)}|fm_exists)", None
            elif text == "?":
                self.take()
                out, path = self.builtin(out, path), None
            elif text == "!" and self.src[self.pos + 1 : self.pos + 2] != "=":
                self.take()
                out, path = self.default(out, path), None
            else:
                self.last = (out, path)
                return out

    def probe(self, out: str, path: list[str] | None) -> str:
        """``out`` read without recording a miss (``??``, ``!``, ``?has_content``)."""
        if path is None or len(path) < 2:
            return out
        return f"{path[0]}|fm_probe({', '.join(path[1:])})"

    def default(self, out: str, path: list[str] | None) -> str:
        kind, text = self.peek()
        starts = kind in ("str", "num", "name") or text in ("(", "[", "{", "-")
        if not starts or (kind == "name" and text in ("as", "gt", "gte", "lt", "lte")):
            return f"({self.probe(out, path)}|fm_default(''))"
        self.enter()
        try:
            fallback = self.unary()
        finally:
            self.nest -= 1
        literal = kind == "str"
        return f"({self.probe(out, path)}|fm_default({fallback}{', true' if literal else ''}))"

    def builtin(self, out: str, path: list[str] | None) -> str:
        kind, name = self.take()
        if kind != "name":
            raise error(f"expected a built-in name after '?', found {name!r}", self.line)
        if name in FORBIDDEN_BUILTINS:
            raise error(f"?{name} is not supported: it {FORBIDDEN_BUILTINS[name]}", self.line)
        args = self.arguments()
        if name in LOOP_BUILTINS:
            loop = self.tr.loop_of(out)
            if loop is None:
                raise error(f"?{name} needs a <#list> loop variable", self.line)
            return f"{loop}.{LOOP_BUILTINS[name]}" if name != "has_next" else f"({loop}.{LOOP_BUILTINS[name]})"
        if name == "then":
            if len(args) != 2:
                raise error("?then needs two arguments", self.line)
            return f"({args[0]} if {out} else {args[1]})"
        if name in PROBE_BUILTINS:
            return f"({self.probe(out, path)}|fm_{name})"
        if name not in FILTER_BUILTINS:
            raise error(f"unknown or unsupported built-in ?{name}", self.line)
        return f"({out}|fm_{name}({', '.join(args)}))"

    def arguments(self) -> list[str]:
        if not (self.peek() == ("op", "(")):
            return []
        self.take()
        args: list[str] = []
        while not self.accept(")"):
            if args:
                self.expect(",")
            args.append(self.parse())
        return args

    def primary(self) -> tuple[str, list[str] | None]:
        """A literal, a name or a parenthesised expression; and its lookup path if it is data."""
        kind, text = self.take()
        if kind == "str":
            return self.string(text), None
        if kind == "num":
            return text, None
        if kind == "name":
            if text in ("true", "false"):
                return text, None
            return self.tr.name(text, self.line)
        if text == "(":
            inner = self.parse()
            self.expect(")")
            # (a.b.c)! and (a.b.c)?? cover the whole path, so keep it.
            return f"({inner})", self.last[1] if self.last[0] == inner else None
        if text == "[":
            items: list[str] = []
            while not self.accept("]"):
                if items:
                    self.expect(",")
                items.append(self.parse())
            return f"[{', '.join(items)}]", None
        if text == "{":
            pairs: list[str] = []
            while not self.accept("}"):
                if pairs:
                    self.expect(",")
                key = self.parse()
                self.expect(":")
                pairs.append(f"{key}: {self.parse()}")
            return "{" + ", ".join(pairs) + "}", None
        if text == "..":
            raise error("ranges are not supported", self.line)
        raise error(f"unexpected {text!r} in an expression", self.line)

    def string(self, token: str) -> str:
        """A string literal; ``${...}`` inside a non-raw one is interpolated."""
        if token[0] == "r":
            return repr(token[2:-1])
        body, parts, i = token[1:-1], [], 0
        text = ""
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                if body[i + 1] not in _ESCAPES:
                    raise error(f"unknown escape \\{body[i + 1]} in a string", self.line)
                text += _ESCAPES[body[i + 1]]
                i += 2
            elif body.startswith("${", i):
                if text:
                    parts.append(repr(text))
                    text = ""
                inner = Expr(self.tr, body, i + 2, self.line, "}")
                inner.nest = self.nest
                parts.append(f"({inner.parse()}|fm_str)")
                if inner.peek()[0] != "end":
                    raise error("unclosed ${ in a string", self.line)
                i = inner.pos + 1
            else:
                text += ch
                i += 1
        if text or not parts:
            parts.append(repr(text))
        return parts[0] if len(parts) == 1 else "(" + " ~ ".join(parts) + ")"

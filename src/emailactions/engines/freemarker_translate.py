"""FreeMarker source -> Jinja2 source, for the subset real email templates use.

Translating keeps the engine small and safe: the result is compiled by the
bounded Jinja sandbox (engines/jinja.py) and inherits its budgets. What is
not in the subset is a compile error naming the construct and its line, so
nothing is ever printed literally by mistake. Line numbers are kept: every
newline of the source appears in the output, inside tags when a tag-only line
is stripped (FreeMarker's white-space stripping).

Names: ``object`` is the whole data; any other top-level name reads a key of
it (``${user.username}`` is ``object.user.username``), unless it is a loop
variable or was ``<#assign>``-ed (kept in a namespace, ``_ns``).
"""

from __future__ import annotations

import re

from emailactions.engines.freemarker_expr import IDENT, Expr, error

#: Directives that are not in the subset, with why.
FORBIDDEN_DIRECTIVES = {"include": "templates are self-contained", "import": "templates are self-contained",
                        "macro": "macros are not supported", "function": "functions are not supported",
                        "visit": "node processing is not supported", "recurse": "node processing is not supported",
                        "attempt": "attempt/recover is not supported", "global": "use <#assign>",
                        "local": "use <#assign>", "nested": "macros are not supported"}  # fmt: skip

_MARK = re.compile(r"\$\{|<#--|\[#--|</?#|\[/?#|</?@|\[/?@|#\{")


class Translator:
    """One template's translation: text, interpolations and directives, with a block stack."""

    def __init__(self, source: str, *, max_nesting: int, max_tags: int) -> None:
        self.src = source
        self.max_nesting, self.max_tags = max_nesting, max_tags
        self.blocks: list[tuple[str, int, str | None]] = []  # (directive, line, loop variable)
        self.loops: list[str] = []  # loop variable names, innermost last
        self.assigned = set(re.findall(r"[<\[]#assign\s+([A-Za-z_][A-Za-z0-9_]*)", source))
        self.wants_loop = bool(re.search(r"\?(?:index|counter|has_next|is_first|is_last|item_parity)\b|[<\[]#sep", source))
        #: Output pieces: (kind, jinja text, line); kind is "text", "out" or "tag".
        self.out: list[tuple[str, str, int]] = []

    # -- names -----------------------------------------------------------------

    def name(self, name: str, line: int) -> tuple[str, list[str] | None]:
        if name in self.loops:
            return f"l_{name}", [f"l_{name}"]
        if name in self.assigned:
            return f"_ns.v_{name}", None
        if name == "object":
            return "object", ["object"]
        return f"object[{name!r}]", ["object", repr(name)]

    def loop_of(self, expr: str) -> str | None:
        return f"_loop_{expr[2:]}" if expr.startswith("l_") and expr[2:] in self.loops else None

    # -- the template ------------------------------------------------------------

    def translate(self) -> str:
        src, pos, line, tags = self.src, 0, 1, 0
        while True:
            m = _MARK.search(src, pos)
            end = m.start() if m else len(src)
            if end > pos:
                self.out.append(("text", src[pos:end], line))
                line += src.count("\n", pos, end)
            if m is None:
                break
            tags += 1
            if tags > self.max_tags:
                raise error(f"it has more than {self.max_tags} tags (limit {self.max_tags})", line)
            mark = m.group()
            if mark in ("<#--", "[#--"):
                close = src.find("-->" if mark[0] == "<" else "--]", m.end())
                if close < 0:
                    raise error("a comment is never closed", line)
                pos = close + 3
                self.out.append(("tag", "{#" + "\n" * src.count("\n", m.start(), pos) + "#}", line))
            elif mark == "${":
                expr = Expr(self, src, m.end(), line, "}")
                jinja = expr.parse()
                if expr.peek()[0] != "end":
                    raise error(f"expected '}}' to close ${{...}}, found {expr.peek()[1] or 'the end'!r}", expr.line)
                pos = expr.pos + 1
                self.out.append(("out", "{{ " + jinja + "\n" * src.count("\n", m.start(), pos) + " }}", line))
            elif mark == "#{":
                raise error("#{...} interpolation is not supported: use ${...}", line)
            elif "@" in mark:
                raise error("user-defined directives (<@...>) are not supported", line)
            else:
                pos = self.directive(m.start(), mark, line)
            line += src.count("\n", m.start(), pos)
        if self.blocks:
            directive, opened, _ = self.blocks[-1]
            raise error(f"<#{directive}> opened here is never closed", opened)
        return self.emit()

    def directive(self, start: int, mark: str, line: int) -> int:
        src = self.src
        angle = mark[0] == "<"
        m = re.compile(r"[A-Za-z_]+").match(src, start + len(mark))
        name = m.group() if m else ""
        pos = m.end() if m else start + len(mark)
        stop = ">" if angle else "]"
        if mark.endswith("/#"):  # an end tag
            close = src.find(stop, pos)
            if close < 0 or src[pos:close].strip():
                raise error(f"end tag </#{name}> is malformed", line)
            self.tag(self.end(name, line), start, close + 1, line)
            return close + 1
        if name in FORBIDDEN_DIRECTIVES:
            raise error(f"<#{name}> is not supported: {FORBIDDEN_DIRECTIVES[name]}", line)
        expr = Expr(self, src, pos, line, stop)
        handler = getattr(self, f"d_{name}", None)
        if handler is None:
            raise error(f"unknown or unsupported directive <#{name}>", line)
        jinja = handler(expr, line)
        if expr.peek()[0] != "end":
            raise error(f"unexpected {expr.peek()[1] or 'end of template'!r} in <#{name}>", expr.line)
        end = expr.pos + (1 if src[expr.pos] == stop else 2)
        self.tag(jinja, start, end, line)
        return end

    def tag(self, jinja: str, start: int, end: int, line: int) -> None:
        newlines = "\n" * self.src.count("\n", start, end)
        self.out.append(("tag", jinja[:-2] + newlines + jinja[-2:], line))

    def push(self, directive: str, line: int, var: str | None = None) -> None:
        self.blocks.append((directive, line, var))
        if len(self.blocks) > self.max_nesting:
            raise error(f"blocks nest deeper than {self.max_nesting} levels", line)

    def end(self, name: str, line: int) -> str:
        prefix = ""
        if name == "list" and self.blocks and self.blocks[-1][0] == "sep":
            prefix = self.end("sep", line)
        if not self.blocks or self.blocks[-1][0] != name:
            raise error(f"</#{name}> does not close an open <#{name}>", line)
        directive, _, names = self.blocks.pop()
        if directive == "list":
            del self.loops[-len(names.split(",")) :]
            return prefix + "{% endfor %}"
        return prefix + "{% endif %}"

    # -- directives: each returns the Jinja tag(s) --------------------------------

    def d_if(self, expr: Expr, line: int) -> str:
        self.push("if", line)
        return "{% if " + expr.parse() + " %}"

    def d_elseif(self, expr: Expr, line: int) -> str:
        if not self.blocks or self.blocks[-1][0] != "if":
            raise error("<#elseif> outside of <#if>", line)
        return "{% elif " + expr.parse() + " %}"

    def d_else(self, expr: Expr, line: int) -> str:
        prefix = self.end("sep", line) if self.blocks and self.blocks[-1][0] == "sep" else ""
        if not self.blocks or self.blocks[-1][0] not in ("if", "list"):
            raise error("<#else> outside of <#if> or <#list>", line)
        return prefix + "{% else %}"

    def d_list(self, expr: Expr, line: int) -> str:
        seq = expr.parse()
        expr.expect("as")
        names = [expr.take()[1]]
        if expr.accept(","):
            names.append(expr.take()[1])
        for n in names:
            if not IDENT.fullmatch(n):
                raise error(f"{n!r} is not a loop variable name", line)
        self.push("list", line, ",".join(names))
        self.loops.extend(names)
        keep = "".join(f"{{% set _loop_{n} = loop %}}" for n in names) if self.wants_loop else ""
        if len(names) == 2:
            return f"{{% for l_{names[0]}, l_{names[1]} in {seq}|fm_pairs %}}" + keep
        return f"{{% for l_{names[0]} in {seq}|fm_items %}}" + keep

    def d_sep(self, expr: Expr, line: int) -> str:
        if not self.loops:
            raise error("<#sep> outside of <#list>", line)
        self.push("sep", line)
        return "{% if not loop.last %}"

    def d_assign(self, expr: Expr, line: int) -> str:
        out = []
        while expr.peek()[0] == "name":
            target = expr.take()[1]
            if not expr.accept("="):
                raise error("<#assign> needs name = value (the capturing form is not supported)", line)
            out.append(f"{{% set _ns.v_{target} = {expr.parse()} %}}")
            expr.accept(",")
        if not out:
            raise error("<#assign> needs name = value", line)
        return "".join(out)

    def d_setting(self, expr: Expr, line: int) -> str:
        name = expr.take()[1]
        expr.expect("=")
        value = expr.take()[1]
        if name != "url_escaping_charset" or value.strip("\"'").upper().replace("-", "") != "UTF8":
            raise error(f"<#setting {name}> is not supported (only url_escaping_charset=\"UTF-8\")", line)
        return "{##}"

    def d_ftl(self, expr: Expr, line: int) -> str:
        # Header parameters (encoding, strip_whitespace, ...) change nothing here.
        while expr.peek()[0] not in ("end", "eof"):
            expr.take()
        return "{##}"

    # -- output --------------------------------------------------------------------

    def emit(self) -> str:
        """Join the pieces, stripping white-space on lines holding only tags (as FreeMarker does)."""
        pieces = list(self.out)
        if self.assigned:
            pieces.insert(0, ("tag", "{% set _ns = namespace() %}", 1))
        result: list[str] = []
        line: list[tuple[str, str, int]] = []
        for kind, text, lineno in pieces:
            if kind != "text":
                line.append((kind, text, lineno))
                continue
            while "\n" in text:
                head, text = text.split("\n", 1)
                line.append(("text", head + "\n", lineno))
                result.append(self._line(line))
                line = []
            if text:
                line.append(("text", text, lineno))
        result.append(self._line(line))
        return "".join(result)

    def _line(self, line: list[tuple[str, str, int]]) -> str:
        only_tags = any(k == "tag" for k, _, _ in line) and all(k == "tag" or not t.strip() for k, t, _ in line)
        out: list[str] = []
        if only_tags:
            newlines = sum(t.count("\n") for k, t, _ in line if k == "text")
            tags = [t for k, t, _ in line if k == "tag"]
            tags[-1] = tags[-1][:-2] + "\n" * newlines + tags[-1][-2:]
            return "".join(tags)
        for kind, text, _ in line:
            out.append(_escape_text(text) if kind == "text" else text)
        return "".join(out)


def _escape_text(text: str) -> str:
    """Template text printed as is: a ``{`` that Jinja would read as a tag is emitted as a string."""
    return re.sub(r"\{(?=[{%#])", "{{ '{' }}", text)


def translate(source: str, *, max_nesting: int, max_tags: int) -> str:
    """The Jinja source for a FreeMarker template; RenderError (with ``line``) when outside the subset."""
    return Translator(source, max_nesting=max_nesting, max_tags=max_tags).translate()



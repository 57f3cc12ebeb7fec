"""Python scripts: the same ``openidm`` scope as JavaScript, for trusted code.

A Python script runs in this process with full Python powers: it may import
anything, open files and call the host directly. There is no sandbox, so run
only Python scripts you would run as a program. The time limit is checked at
every host call (a loop that keeps sending stops, and ``except Exception``
cannot swallow the stop); a loop that never calls the host, or memory use,
is not bounded. ``[scripts] python_isolation = "process"`` runs each script
in a child process held to JavaScript's time and memory limits
(:mod:`~emailactions.scripting.python_process`); that is still no sandbox.
Untrusted scripts belong in JavaScript.
"""

from __future__ import annotations

import ast
import builtins
import traceback
from typing import Any, Mapping

from emailactions.errors import EmailActionsError, ScriptError
from emailactions.hookspecs import hookimpl
from emailactions.scripting.base import ScriptLanguage, ScriptRun, ScriptStopped, format_slf4j

__all__ = ["PythonLanguage", "OpenIDM"]


class OpenIDM:
    """``openidm`` for Python scripts: IDM's script API over the host."""

    def __init__(self, run: ScriptRun) -> None:
        self._run = run

    def action(self, resource: str, actionName: str, content: Mapping[str, Any] | None = None,
               params: Mapping[str, Any] | None = None, fields: Any = None) -> dict[str, Any]:  # fmt: skip
        """``openidm.action(resource, actionName, content, params)``; ``fields`` is ignored."""
        return self._run.action(resource, actionName, content, params)

    def create(self, resourceName: str, newResourceId: str | None = None, content: Any = None, params: Any = None, fields: Any = None) -> Any:
        """CREST create; no built-in service allows it (403)."""
        return self._run.request("create", resourceName, newResourceId, content, params, fields)

    def read(self, resourceName: str, params: Any = None, fields: Any = None) -> Any:
        """CREST read; no built-in service allows it (403)."""
        return self._run.request("read", resourceName, params, fields)

    def update(self, resourceName: str, rev: str | None = None, content: Any = None, params: Any = None, fields: Any = None) -> Any:
        """CREST update; no built-in service allows it (403)."""
        return self._run.request("update", resourceName, rev, content, params, fields)

    def patch(self, resourceName: str, rev: str | None = None, value: Any = None, params: Any = None, fields: Any = None) -> Any:
        """CREST patch; no built-in service allows it (403)."""
        return self._run.request("patch", resourceName, rev, value, params, fields)

    def delete(self, resourceName: str, rev: str | None = None, params: Any = None, fields: Any = None) -> Any:
        """CREST delete; no built-in service allows it (403)."""
        return self._run.request("delete", resourceName, rev, params, fields)

    def query(self, resourceName: str, params: Any = None, fields: Any = None) -> Any:
        """CREST query; no built-in service allows it (403)."""
        return self._run.request("query", resourceName, params, fields)


class IdentityServer:
    """``identityServer``: properties and locations, with IDM's method names."""

    def __init__(self, run: ScriptRun) -> None:
        self._run = run
        self._locations = run.locations()

    def getProperty(self, name: str, defaultValue: Any = None, useCache: bool = True) -> Any:
        """The run's property ``name``, else ``defaultValue``."""
        return self._run.property(name, defaultValue)

    def getProjectLocation(self) -> str:
        """The folder holding the IDM conf folder (else the working directory)."""
        return self._locations["project"]

    def getInstallLocation(self) -> str:
        """Where the emailactions package is installed."""
        return self._locations["install"]

    def getWorkingLocation(self) -> str:
        """The working directory."""
        return self._locations["working"]


class _Writer:
    """``console`` (print-like) or ``logger`` (SLF4J ``{}`` placeholders) for Python scripts."""

    def __init__(self, run: ScriptRun, levels: tuple[str, ...], slf4j: bool) -> None:
        for level in levels:
            setattr(self, level, self._writer(run, level, slf4j))

    @staticmethod
    def _writer(run: ScriptRun, level: str, slf4j: bool) -> Any:
        def write(message: Any = "", *args: Any) -> None:
            run.log(level, format_slf4j(message, args) if slf4j else " ".join(str(a) for a in (message, *args)))

        write.__name__ = level
        return write


class PythonLanguage(ScriptLanguage):
    """``.py`` files: ``openidm``, ``action``, ``identityServer``, ``context``,
    ``logger``, ``console`` and ``setResult`` in scope; the value of a final
    expression statement (or ``setResult(value)``) is the result."""

    name = "python"
    extensions = (".py",)

    def run(self, source: str, run: ScriptRun) -> Any:
        """In this process, or in a child with ``[scripts] python_isolation = "process"``."""
        if run.host.config.scripts.python_isolation == "process":
            from emailactions.scripting.python_process import run_in_process

            return run_in_process(source, run)
        return self.run_here(source, run)

    def run_here(self, source: str, run: ScriptRun) -> Any:
        """Run ``source`` in this interpreter (the child's, when isolated)."""
        try:
            tree = ast.parse(source, run.filename)
        except SyntaxError as exc:
            raise ScriptError(f"SyntaxError: {exc.msg}", script=run.filename, line=exc.lineno) from exc
        # As an interactive interpreter does: a final expression is the value.
        last = ast.Expression(tree.body.pop().value) if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        scope = self.scope(run)
        try:
            exec(compile(tree, run.filename, "exec"), scope)
            value = eval(compile(last, run.filename, "eval"), scope) if last is not None else None
        except EmailActionsError as exc:
            exc.detail.setdefault("script", run.filename)
            line = _line(exc, run.filename)
            if line is not None:
                exc.detail.setdefault("line", line)
            raise
        except ScriptStopped as stop:
            raise stop.error from None
        except Exception as exc:  # the script is the boundary: its own bugs become a ScriptError
            raise ScriptError(f"{type(exc).__name__}: {exc}", script=run.filename, line=_line(exc, run.filename)) from exc
        if run.timed_out is not None:
            raise run.timed_out  # the script caught ScriptStopped (except BaseException): still over its limit
        return run.result if run.has_result else value

    def scope(self, run: ScriptRun) -> dict[str, Any]:
        """The script's globals: IDM's names, then the caller's ``globals``."""
        openidm = OpenIDM(run)

        def action(resource: str, action: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
            """``action(resource, action, params)``, as ``emailactions.action`` but in this run's context."""
            return run.action(resource, action, params)

        return {
            "__name__": "__emailactions_script__",
            "__file__": run.filename,
            "__builtins__": builtins,
            "openidm": openidm,
            "action": action,
            "identityServer": IdentityServer(run),
            "context": run.context(),
            "logger": _Writer(run, ("trace", "debug", "info", "warn", "error"), slf4j=True),
            "console": _Writer(run, ("log", "info", "warn", "error", "debug", "trace"), slf4j=False),
            "setResult": run.set_result,
            **run.globals,
        }


def _line(exc: BaseException, filename: str) -> int | None:
    """The innermost line of the script in the exception's traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


@hookimpl
def register_script_languages(register: Any) -> None:
    register("python", PythonLanguage)

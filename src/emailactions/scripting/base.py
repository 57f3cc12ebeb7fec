"""The ScriptLanguage contract, and ScriptRun: what one run of a script may reach.

A language only turns source text into calls on a :class:`ScriptRun`; the
run owns the host, the request context, the limits and the result, so every
language gives scripts the same ``openidm`` behaviour.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from emailactions.errors import InvalidParams, ScriptTimeout, escape_controls
from emailactions.params.incoming import check_depth

if TYPE_CHECKING:  # pragma: no cover
    from emailactions.host import ActionHost

__all__ = ["ScriptLanguage", "ScriptLimits", "ScriptRun", "ScriptStopped", "Console", "LEVELS", "format_slf4j"]

#: console / logger method -> logging level. ``trace`` is IDM's finest level.
LEVELS: dict[str, int] = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "log": logging.INFO,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}

#: Where script output goes when the caller gives no ``console``.
script_log = logging.getLogger("emailactions.script")

#: ``console(level, text)``: receives each console.log / logger line.
Console = Callable[[str, str], None]


class ScriptStopped(BaseException):
    """Raised into a script whose run is over its time limit.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that a script's
    ``except Exception`` cannot swallow it; languages turn it into its
    :class:`~emailactions.errors.ScriptTimeout` (``.error``) at their boundary.
    """

    def __init__(self, error: ScriptTimeout) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class ScriptLimits:
    """Bounds on one run. ``None`` turns a bound off."""

    #: Seconds of wall-clock time. JavaScript: enforced by QuickJS's
    #: interrupt handler, by the host killing the sandbox process, and at
    #: every host call. Python: checked at every host call only.
    time_limit: float | None = 10.0
    #: Bytes the JavaScript engine may allocate (Python scripts: not enforced).
    memory_limit: int | None = 64 * 1024 * 1024
    #: Bytes of native stack for JavaScript recursion.
    stack_size: int | None = 1024 * 1024


class ScriptRun:
    """One run of one script: its host, request context, limits and result.

    Languages call :meth:`action`, :meth:`request`, :meth:`log` and
    :meth:`property` on behalf of the script; host calls first check the
    deadline, so a script that keeps calling the host stops on time. Once a
    run has timed out every further call raises :class:`ScriptStopped` again:
    a script cannot catch the timeout and carry on.
    """

    def __init__(
        self,
        host: "ActionHost",
        *,
        filename: str,
        language: str,
        limits: ScriptLimits,
        accept_language: str | None = None,
        wait_for_completion: bool = True,
        caller: str | None = None,
        properties: Mapping[str, Any] | None = None,
        console: Console | None = None,
        globals: Mapping[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.filename = filename
        self.language = language
        self.limits = limits
        self.accept_language = accept_language
        self.wait_for_completion = bool(wait_for_completion)
        self.caller = caller
        self.properties = dict(properties or {})
        self.globals = dict(globals or {})
        self._console = console
        self.started = time.monotonic()
        self.deadline = None if limits.time_limit is None else self.started + limits.time_limit
        self.timed_out: ScriptTimeout | None = None
        self.has_result = False
        self.result: Any = None

    # -- what scripts reach -------------------------------------------------

    def action(self, resource: str, action: str, content: Mapping[str, Any] | None = None,
               params: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        """``openidm.action(resource, action, content, params)`` with this run's context.

        IDM keeps the request body (``content``) and the extra request
        parameters (``params``, e.g. ``waitForCompletion``) apart; our actions
        read both from one mapping, where ``params`` wins.
        """
        self.check_deadline()
        _names(resource=resource, action=action)
        merged = dict(_mapping(content, "content"))
        merged.update(_mapping(params, "params"))
        check_depth(merged, "openidm.action params", "params")
        return self.host.action(
            resource,
            action,
            merged,
            accept_language=self.accept_language,
            wait_for_completion=self.wait_for_completion,
            caller=self.caller,
        )

    def request(self, verb: str, resource: str, *args: Any) -> Any:
        """``openidm.read/create/update/patch/delete/query``: any other CREST verb."""
        self.check_deadline()
        _names(verb=verb, resource=resource)
        return self.host.request(verb, resource, *args)

    def log(self, level: str, text: str) -> None:
        """One line of script output (console.log, logger.info, ...).

        Control characters are escaped (line breaks kept), as the console
        transport does: a script must not drive the terminal (ESC, BEL) or
        forge a log line with a bare CR.
        """
        self.check_deadline()  # a script that only logs must stop too
        text = "\n".join(escape_controls(line) for line in str(text).split("\n"))
        if self._console is not None:
            self._console(level, text)
        else:
            script_log.log(LEVELS.get(level, logging.INFO), "%s: %s", self.filename, text)

    def property(self, name: str, default: Any = None) -> Any:
        """``identityServer.getProperty(name, default)``: the run's properties only."""
        self.check_deadline()
        return self.properties.get(name, default)

    def set_result(self, value: Any) -> None:
        """``setResult(value)``: the run's result, instead of the last value."""
        self.has_result, self.result = True, value

    # -- context values -------------------------------------------------------

    def locations(self) -> dict[str, str]:
        """``identityServer.get*Location()``: where IDM would say it runs.

        The project is the folder holding the IDM ``conf/`` folder (as in IDM),
        else the working directory; the install location is this package's.
        """
        conf = self.host.config.conf_dir
        project = Path(conf).resolve().parent if conf is not None else Path.cwd()
        return {
            "project": str(project),
            "install": str(Path(__file__).resolve().parent.parent),
            "working": os.getcwd(),
        }

    def context(self) -> dict[str, Any]:
        """The ``context`` object scripts see: a JSON snapshot shaped like IDM's chain."""
        headers = {"Accept-Language": self.accept_language} if self.accept_language else {}
        return {
            "security": {"authenticationId": self.caller or "anonymous"},
            "http": {"headers": headers},
            "request": {"waitForCompletion": self.wait_for_completion},
            "script": {"name": self.filename, "language": self.language},
        }

    # -- limits ---------------------------------------------------------------

    def check_deadline(self) -> None:
        """Raise :class:`ScriptStopped` once the run is past its time limit."""
        if self.timed_out is None and self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = self.timeout_error()
        if self.timed_out is not None:
            raise ScriptStopped(self.timed_out)

    def timeout_error(self) -> ScriptTimeout:
        """The error for a run stopped at its time limit."""
        return ScriptTimeout(
            f"Script {self.filename} ran longer than its time limit of {self.limits.time_limit} s and was stopped",
            script=self.filename,
            time_limit=self.limits.time_limit,
        )


def _names(**values: Any) -> None:
    """Resource paths and verbs must be strings (a script may pass anything)."""
    for name, value in values.items():
        if not isinstance(value, str):
            raise InvalidParams(f"The {name} must be a string, not {_js_type(value)}", param=name)


def _js_type(value: Any) -> str:
    return "null" if value is None else {dict: "an object", list: "an array"}.get(type(value), type(value).__name__)


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidParams(f"openidm.action {name} must be an object", param=name)
    return value


def format_slf4j(message: Any, args: tuple[Any, ...]) -> str:
    """IDM's ``logger.info("sent to {}", addr)``: SLF4J ``{}`` placeholders."""
    text = str(message)
    if not args:
        return text
    parts = text.split("{}")
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        out.append(str(args[i]) if i < len(args) else "{}")
        out.append(part)
    return "".join(out)


class ScriptLanguage(ABC):
    """Runs scripts of one language against a :class:`ScriptRun`.

    Subclasses set ``name`` (the registry key, what ``language=`` selects)
    and ``extensions`` (file suffixes such as ``".js"``), and implement
    :meth:`run`. One instance per host is made on first use, so a language
    may import its engine lazily and raise ``EngineUnavailable`` there.
    """

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def run(self, source: str, run: ScriptRun) -> Any:
        """Run ``source``; return its value (JSON-ready data) or ``None``.

        ``run.has_result`` / ``run.result`` hold an explicit ``setResult``
        value, which beats the last value. Errors the host raised and the
        script did not handle propagate as they are; anything else the script
        threw becomes a :class:`~emailactions.errors.ScriptError`.
        """

    def close(self) -> None:
        """Release what the language holds (processes, caches); the host calls
        it when it closes. Later runs may start again. The default does nothing."""

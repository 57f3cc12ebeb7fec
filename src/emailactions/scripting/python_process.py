"""Python scripts in a child process (``[scripts] python_isolation = "process"``).

The child runs the script with the same scope as in-process runs
(:meth:`PythonLanguage.scope`), over a stand-in for :class:`ScriptRun` whose
``openidm`` calls, logging and properties are round trips to the host over
the child's pipes (one JSON object a line). The host holds the child to the
JavaScript limits: it kills it at the wall-clock time limit, and the child
caps its own address space at its size plus ``memory_limit``. An error the
host raised and the script let escape comes back as the very same object.
Not a sandbox: the child may still read files and open sockets.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Any, TextIO

import emailactions.errors as errors
from emailactions.errors import EmailActionsError, InvalidParams, ScriptError, ScriptMemoryError
from emailactions.scripting.base import ScriptRun, ScriptStopped

#: Address space the interpreter needs beyond its size at start, besides the script's own limit.
_HEADROOM = 64 * 1024 * 1024


def run_in_process(source: str, run: ScriptRun) -> Any:
    """Run ``source`` in a fresh child process; its result, or the error it ended with."""
    try:
        start = json.dumps({
            "source": source, "filename": run.filename, "globals": run.globals, "context": run.context(),
            "locations": run.locations(), "memory_limit": run.limits.memory_limit,
        }, allow_nan=False)  # fmt: skip
    except (TypeError, ValueError):
        raise InvalidParams("With python_isolation = 'process', script globals must be JSON data", param="globals") from None
    child = subprocess.Popen(
        [sys.executable, "-m", "emailactions.scripting.python_process"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout] + [lines.put("")], daemon=True).start()  # type: ignore[union-attr]
    raised: list[EmailActionsError] = []
    try:
        _send(child.stdin, start)
        while True:
            remaining = None if run.deadline is None else max(0.0, run.deadline - time.monotonic())
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                raise run.timeout_error() from None
            if not line:
                raise ScriptError(f"Script {run.filename}: the Python child process ended without an answer", script=run.filename)
            message = json.loads(line)
            if "call" in message:
                _send(child.stdin, json.dumps(_answer(run, message["call"], message["args"], raised), default=str))
            elif "done" in message:
                return message["done"]
            else:
                failed = message["failed"]
                if failed.get("remote") is None:
                    raise _rebuilt(failed)
                error = raised[failed["remote"]]
                for key in ("script", "line"):  # as an in-process run adds them
                    if key in failed["detail"]:
                        error.detail.setdefault(key, failed["detail"][key])
                raise error
    finally:
        child.kill()
        child.wait()


def _answer(run: ScriptRun, op: str, args: list[Any], raised: list[EmailActionsError]) -> dict[str, Any]:
    try:
        value = {"action": run.action, "request": run.request, "log": run.log, "property": run.property}[op](*args)
        return {"value": value}
    except ScriptStopped as stop:
        raise stop.error from None
    except EmailActionsError as exc:
        raised.append(exc)
        return {"error": {"class": type(exc).__name__, "id": len(raised) - 1, **exc.to_dict()}}


def _send(stream: TextIO | None, text: str) -> None:
    assert stream is not None
    stream.write(text + "\n")
    stream.flush()


def _rebuilt(data: dict[str, Any]) -> EmailActionsError:
    """An error of the class named in ``data``, with its message and detail."""
    cls = getattr(errors, str(data.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, EmailActionsError)):
        cls = ScriptError
    error = cls.__new__(cls)
    detail = {k: v for k, v in (data.get("detail") or {}).items() if k != "kind"}
    EmailActionsError.__init__(error, str(data.get("message", "")), **detail)
    if data.get("code") != cls.code:
        error.code = data.get("code", cls.code)
    return error


# -- the child -----------------------------------------------------------------


class _RemoteRun:
    """What :class:`PythonLanguage` needs of a :class:`ScriptRun`, answered by the host."""

    timed_out = None

    def __init__(self, start: dict[str, Any], answers: TextIO, out: TextIO) -> None:
        self.filename = start["filename"]
        self.globals = start["globals"]
        self._context, self._locations = start["context"], start["locations"]
        self._answers, self._out = answers, out
        self.has_result, self.result = False, None

    def _call(self, op: str, *args: Any) -> Any:
        _send(self._out, json.dumps({"call": op, "args": args}, default=str))
        reply = json.loads(self._answers.readline())
        if "error" in reply:
            error = _rebuilt(reply["error"])
            error._remote_id = reply["error"]["id"]  # type: ignore[attr-defined]
            raise error
        return reply["value"]

    def action(self, resource: str, action: str, content: Any = None, params: Any = None) -> Any:
        return self._call("action", resource, action, content, params)

    def request(self, verb: str, resource: str, *args: Any) -> Any:
        return self._call("request", verb, resource, *args)

    def log(self, level: str, text: str) -> None:
        self._call("log", level, text)

    def property(self, name: str, default: Any = None) -> Any:
        return self._call("property", name, default)

    def set_result(self, value: Any) -> None:
        self.has_result, self.result = True, value

    def context(self) -> dict[str, Any]:
        return self._context

    def locations(self) -> dict[str, str]:
        return self._locations


def _limit_memory(limit: int | None) -> None:
    try:
        import resource

        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError):
        return  # no RLIMIT_AS here: the time limit still holds
    if limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (size + limit + _HEADROOM, resource.RLIM_INFINITY))


def main() -> None:
    """The child: one script, then exit."""
    from emailactions.scripting.python import PythonLanguage

    # The protocol owns the real stdout; the script's print() goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    start = json.loads(sys.stdin.readline())
    _limit_memory(start["memory_limit"])
    run = _RemoteRun(start, sys.stdin, out)
    try:
        value = PythonLanguage().run_here(start["source"], run)  # type: ignore[arg-type]
        _send(out, json.dumps({"done": value}, default=str))
    except EmailActionsError as exc:
        if isinstance(exc.__cause__, MemoryError):
            exc = ScriptMemoryError(f"Script {run.filename} used more memory than its limit", script=run.filename)
        _send(out, json.dumps({"failed": {"class": type(exc).__name__, "remote": getattr(exc, "_remote_id", None), **exc.to_dict()}}, default=str))


if __name__ == "__main__":
    main()

"""JavaScript scripts in QuickJS (the ``quickjs`` package), each run in a sandbox process.

QuickJS runs in a child process (``js_sandbox.py``), never in the host: a
script that crashes the engine (QuickJS's ``JSON.stringify`` recurses in C
without a stack check), backtracks in a regular expression (QuickJS's regex
engine never polls its interrupt handler) or allocates without end takes
down or pins only its child. Each run gets a fresh QuickJS context in the
child, so scripts share nothing.

The prelude's single bridge callable ``(op, args_json) -> reply_json`` is a
round trip over the child's pipes: the child sends the call, this process
answers it with :class:`_Bridge` (the host's actions, logging, properties,
the caller's functions) and the script carries on. Limits:

- time: this process watches the wall clock and kills the child
  :data:`_GRACE` seconds after the run's deadline; inside the child
  QuickJS's interrupt handler stops ordinary loops at the limit first (the
  child survives that and is reused), and a soft ``RLIMIT_CPU`` is the
  backstop should this process go away;
- memory: QuickJS's own allocation limit, plus a soft ``RLIMIT_AS`` in the
  child (the limit plus headroom) for what QuickJS does not count;
- stack: QuickJS's stack limit, and nesting bounded before values cross.

Children are kept warm in a small pool (:class:`_Pool`): one per script
running at the same time, at most :data:`_MAX_IDLE` idle; a child that
timed out, crashed or said anything unexpected is killed, never reused.
``quickjs`` is looked up when the language is first used; without it the
language raises ``EngineUnavailable`` and everything else keeps working.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from emailactions.errors import EmailActionsError, EngineUnavailable, InvalidParams, ScriptError, ScriptMemoryError
from emailactions.hookspecs import hookimpl
from emailactions.scripting.base import ScriptLanguage, ScriptRun, ScriptStopped

__all__ = ["JavaScriptLanguage"]

_SANDBOX = str(Path(__file__).with_name("js_sandbox.py"))
_LINE = re.compile(r"<input>:(\d+)")
_MAX_FRAMES = 20
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_HEADER = struct.Struct(">I")
#: Seconds past a run's deadline before its child is killed: QuickJS's own
#: interrupt usually stops the script first, and then the child is reused.
_GRACE = 0.25
#: Seconds a new child may take to start (import quickjs, say hello).
_START_TIMEOUT = 30.0
#: Idle children kept warm per language instance (that is, per host).
_MAX_IDLE = 4
#: Largest frame a child may send with no memory limit (a result is bounded
#: by the memory limit otherwise: at most 3 UTF-8 bytes per JS code unit).
_MAX_FRAME = 1 << 30


class _Bridge:
    """Answers the prelude's bridge calls: ``(op, args_json) -> reply_json``.

    Every outcome becomes a JSON reply for the child. Errors the host raised
    become catchable JS errors; anything else (a bug in a caller's function,
    a timeout, Ctrl-C) is *fatal*: the run stops the child at once and
    re-raises it. What the child sends is untrusted: text that is not the
    JSON the prelude sends is a :class:`ScriptError`, never a bare
    ``ValueError`` or ``RecursionError``.
    """

    def __init__(self, run: ScriptRun) -> None:
        self.run = run
        #: id -> host error thrown into the script, to re-raise if uncaught.
        self.raised: dict[int, EmailActionsError] = {}
        self.fatal: BaseException | None = None

    def __call__(self, op: str, args_json: str) -> str:
        if self.fatal is not None:
            return self._fatal_reply()
        try:
            args = _loads(args_json, "call")
            if not isinstance(args, list):
                raise ScriptError(f"Bridge call {op!r} sent no argument list")
            return json.dumps({"value": self._dispatch(op, args)}, ensure_ascii=False, default=str)
        except ScriptStopped as stop:
            self.fatal = stop.error
            return self._fatal_reply()
        except EmailActionsError as exc:
            ident = len(self.raised)
            self.raised[ident] = exc
            error = {"name": type(exc).__name__, "id": ident, **exc.to_dict()}
            return json.dumps({"error": error}, ensure_ascii=False, default=str)
        except BaseException as exc:  # noqa: BLE001 - the C boundary: nothing may cross it raw
            self.fatal = exc
            return self._fatal_reply()

    def _fatal_reply(self) -> str:
        return json.dumps({"error": {"name": "ScriptAborted", "code": 500, "message": "The script is being stopped", "detail": {}}})

    def _dispatch(self, op: str, args: list[Any]) -> Any:
        run = self.run
        if op == "action":
            resource, action, content, params = (args + [None] * 4)[:4]
            return run.action(resource, action, content, params)
        if op == "request":
            return run.request(*args)
        if op == "log" and len(args) == 2:
            level, text = args
            run.log(str(level), str(text))
            return None
        if op == "property":
            return run.property(*args[:2])
        if op == "global" and len(args) == 2 and args[0] in run.globals and isinstance(args[1], list):
            name, call_args = args
            run.check_deadline()
            return run.globals[name](*call_args)
        raise ScriptError(f"Unknown bridge operation {op!r}")  # only a broken child sends one


class _Gone(Exception):
    """The child closed its end (it crashed or was killed)."""


class _Late(Exception):
    """The run's deadline passed while waiting on the child."""


class _Child:
    """One sandbox process and the frames to and from it (see ``js_sandbox.py``)."""

    def __init__(self) -> None:
        if not sys.executable:  # pragma: no cover - an embedded interpreter
            raise EngineUnavailable("The javascript language needs a Python executable to start its sandbox", language="javascript")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, _SANDBOX], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True
            )
        except OSError as exc:
            raise EngineUnavailable(f"Cannot start the JavaScript sandbox: {exc}", language="javascript") from exc
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.owner = os.getpid()
        self.rfd = self.proc.stdout.fileno()
        self.wfd = self.proc.stdin.fileno()
        # Non-blocking both ways: a child that stops reading or writing must
        # not hang the host past the deadline.
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self._buffer = bytearray()
        self._readable = select.poll()
        self._readable.register(self.rfd, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(self.wfd, select.POLLOUT)
        try:
            kind, body = self.recv(time.monotonic() + _START_TIMEOUT, 1 << 16)
            if kind == b"U":
                raise EngineUnavailable(
                    f"The javascript language needs quickjs: pip install 'emailactions[javascript]' ({body})",
                    language="javascript",
                )
            hello = _loads(body, "hello") if kind == b"H" else None
            if not isinstance(hello, dict):
                raise ScriptError("The JavaScript sandbox did not start properly")
        except (_Gone, _Late):
            self.close()
            raise ScriptError(f"The JavaScript sandbox did not start ({self.exit_description()})") from None
        except BaseException:
            self.close()
            raise

    def send(self, kind: bytes, body: str, deadline: float | None) -> None:
        data = body.encode("utf-8", "surrogatepass")
        view = memoryview(_HEADER.pack(len(data) + 1) + kind + data)
        while view:
            try:
                view = view[os.write(self.wfd, view) :]
            except BlockingIOError:
                self._wait(self._writable, deadline)
            except OSError:  # EPIPE: the child is gone
                raise _Gone from None

    def recv(self, deadline: float | None, limit: int) -> tuple[bytes, str]:
        """The next frame; ``_Gone`` at end of file, ``_Late`` past ``deadline``."""
        (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        if not 1 <= size <= limit + 1:
            raise _Gone  # a frame the protocol never sends: treat the child as broken
        payload = self._read(size, deadline)
        try:
            return payload[:1], payload[1:].decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise _Gone from None

    def _read(self, size: int, deadline: float | None) -> bytes:
        buffer = self._buffer
        while len(buffer) < size:
            try:
                chunk = os.read(self.rfd, max(size - len(buffer), 1 << 16))
            except BlockingIOError:
                self._wait(self._readable, deadline)
                continue
            except OSError:  # pragma: no cover - the pipe broke
                raise _Gone from None
            if not chunk:
                raise _Gone
            buffer += chunk
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def _wait(self, poller: Any, deadline: float | None) -> None:
        while True:
            timeout = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000) + 1)
            if poller.poll(timeout):
                return  # ready, or an error/hang-up that the read or write will report
            if deadline is not None and time.monotonic() >= deadline:
                raise _Late

    def alive(self) -> bool:
        """Running, and a child of this process (not of the host this one was forked from)."""
        return self.owner == os.getpid() and self.proc.poll() is None

    def close(self) -> None:
        """Kill the child and reap it (idempotent)."""
        if self.owner != os.getpid():  # a forked copy of the host: the child is not ours to kill
            return
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:  # pragma: no cover - it exited in between
                pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def exit_description(self) -> str:
        """How the child ended: "signal SIGSEGV", "exit status 1", or "still running"."""
        try:
            status = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "still running"
        if status < 0:
            try:
                return f"signal {signal.Signals(-status).name}"
            except ValueError:
                return f"signal {-status}"
        return f"exit status {status}"


class _Pool:
    """Warm sandbox children: one per running script, at most :data:`_MAX_IDLE` idle."""

    def __init__(self) -> None:
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        # Children die with their pool, even if the host is never closed.
        weakref.finalize(self, _close_all, self._idle)

    def acquire(self) -> _Child:
        while True:
            with self._lock:
                child = self._idle.pop() if self._idle else None
            if child is None:
                return _Child()
            if child.alive():
                return child
            child.close()

    def release(self, child: _Child, reusable: bool) -> None:
        if reusable and child.alive():
            with self._lock:
                if len(self._idle) < _MAX_IDLE:
                    self._idle.append(child)
                    return
        child.close()

    def close(self) -> None:
        _close_all(self._idle)


def _close_all(children: list[_Child]) -> None:
    while children:
        try:
            child = children.pop()
        except IndexError:  # pragma: no cover - another thread emptied it
            return
        child.close()


class JavaScriptLanguage(ScriptLanguage):
    """``.js`` files, run as IDM runs them: ``openidm``, ``identityServer``,
    ``context``, ``logger`` and ``console`` in scope; the completion value
    (or ``setResult(value)``) is the result."""

    name = "javascript"
    extensions = (".js",)

    def __init__(self) -> None:
        # Only look: the engine is imported in the sandbox process, not here.
        if importlib.util.find_spec("quickjs") is None:
            raise EngineUnavailable(
                "The javascript language needs quickjs: pip install 'emailactions[javascript]'", language="javascript"
            )
        self._pool = _Pool()

    def close(self) -> None:
        """Stop the idle sandbox processes (a later run starts a new one)."""
        self._pool.close()

    def run(self, source: str, run: ScriptRun) -> Any:
        limits = run.limits
        init = _init(run)
        job = json.dumps(
            {
                "source": source,
                "init": json.dumps(init, ensure_ascii=False, allow_nan=False),
                "limits": {"time_limit": limits.time_limit, "memory_limit": limits.memory_limit, "stack_size": limits.stack_size},
            },
            ensure_ascii=False,
        )
        frame_limit = _MAX_FRAME if limits.memory_limit is None else min(_MAX_FRAME, 3 * limits.memory_limit + (1 << 20))
        kill_at = None if run.deadline is None else run.deadline + _GRACE
        bridge = _Bridge(run)
        child = self._pool.acquire()
        reusable = False
        try:
            child.send(b"S", job, kill_at)
            while True:
                kind, body = child.recv(kill_at, frame_limit)
                if kind != b"C":
                    break
                op, _, args_json = body.partition("\n")
                reply = bridge(op, args_json)
                if bridge.fatal is not None:
                    raise bridge.fatal  # the child is killed below: nothing more may run
                child.send(b"R", reply, kill_at)
            if kind == b"D":
                reusable = True
                outcome = _loads(body, "result")
            elif kind == b"E":
                info = _loads(body, "engine report")
                reusable = isinstance(info, dict) and info.get("kind") in ("stack", "engine")
                raise _engine_error(run, info)
            else:
                raise _Gone
        except _Late:
            run.timed_out = run.timeout_error()
            raise run.timed_out from None
        except _Gone:
            raise _crash_error(run, child) from None
        finally:
            self._pool.release(child, reusable)
        if not isinstance(outcome, dict):
            raise ScriptError(f"Script {run.filename} gave a reply the host cannot read", script=run.filename)
        if "thrown" in outcome:
            raise _thrown(outcome["thrown"] if isinstance(outcome["thrown"], dict) else {}, run, bridge)
        return outcome.get("value")


def _loads(text: str, what: str) -> Any:
    """``json.loads`` for text from the sandbox: anything unreadable is a ScriptError."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ScriptError(f"The JavaScript sandbox sent a {what} the host cannot read: {type(exc).__name__}") from None


def _engine_error(run: ScriptRun, info: Any) -> EmailActionsError:
    """The error for a run the engine stopped (not something the script threw)."""
    kind = info.get("kind") if isinstance(info, dict) else None
    message = str(info.get("message", "")) if isinstance(info, dict) else ""
    if kind == "stack":
        return ScriptError(f"Script {run.filename} recursed too deeply: {_first_line(message)}", script=run.filename)
    if kind == "memory":
        return _memory_error(run, message)
    return _limit_error(run, message)


def _crash_error(run: ScriptRun, child: _Child) -> EmailActionsError:
    """The error for a child that died (or broke the protocol) during a run."""
    child.close()
    how = child.exit_description()
    if how in ("signal SIGXCPU",):
        run.timed_out = run.timeout_error()
        return run.timed_out
    return ScriptError(
        f"Script {run.filename} stopped: the JavaScript engine crashed ({how})", script=run.filename, engine_exit=how
    )


def _init(run: ScriptRun) -> dict[str, Any]:
    """What the prelude installs: context values, data globals, callable names."""
    data: dict[str, Any] = {}
    callables: list[str] = []
    for name, value in run.globals.items():
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise InvalidParams(f"Script global {name!r} is not a JavaScript identifier", param="globals")
        if callable(value):
            callables.append(name)
            continue
        try:
            # allow_nan=False: NaN and Infinity are not JSON, and JSON.parse refuses them.
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidParams(f"Script global {name!r} is not JSON data: {exc}", param="globals") from None
        data[name] = value
    return {"context": run.context(), "locations": run.locations(), "globals": data, "callables": callables}


def _limit_error(run: ScriptRun, text: str) -> EmailActionsError:
    """An error QuickJS would not let the script catch: the time or memory limit.

    The prelude catches everything the script throws, so what escapes it is
    an interrupt (uncatchable in QuickJS), memory running out (so far, at
    times, that even the error could not be built: its text is then just
    ``null``), or a failure of the prelude itself, which is a plain
    :class:`ScriptError`.
    """
    if "interrupted" in text:
        run.timed_out = run.timeout_error()
        return run.timed_out
    if "out of memory" in text or (text.strip() == "null" and run.limits.memory_limit is not None):
        return _memory_error(run, text)
    return ScriptError(f"Script {run.filename} failed in the engine: {_first_line(text)}", script=run.filename)


def _memory_error(run: ScriptRun, text: str) -> EmailActionsError:
    if run.limits.memory_limit is None:
        return ScriptError(f"Script {run.filename} ran out of memory: {_first_line(text)}", script=run.filename)
    mib = run.limits.memory_limit / (1024 * 1024)
    return ScriptMemoryError(
        f"Script {run.filename} used more than its memory limit of {mib:g} MiB and was stopped",
        script=run.filename,
        memory_limit=run.limits.memory_limit,
        engine_message=_first_line(text),
    )


def _thrown(info: dict[str, Any], run: ScriptRun, bridge: _Bridge) -> EmailActionsError:
    """The error for what the script threw and did not catch."""
    stack_text = info.get("stack")
    stack, line = _clean_stack(stack_text if isinstance(stack_text, str) else None, run.filename)
    ident = info.get("id")
    if isinstance(ident, int) and ident in bridge.raised:
        # A host error the script let escape: the caller gets the error itself
        # (its code, kind and message, as IDM returns it), plus where it escaped.
        original = bridge.raised[ident]
        original.detail.setdefault("script", run.filename)
        if line is not None:
            original.detail.setdefault("line", line)
        return original
    name, message = info.get("name"), str(info.get("message") or "")
    if name == "InternalError" and message == "out of memory":
        # The script caught nothing (or rethrew): still the memory limit.
        return _limit_error(run, f"{name}: {message}")
    code = info.get("code")
    # IDM scripts throw {code: 403, message: "..."} to choose the HTTP status.
    status = code if isinstance(code, int) and 400 <= code <= 599 else None
    return ScriptError(f"{name}: {message}" if name else message, code=status, script=run.filename, line=line, stack=stack)


def _clean_stack(stack: str | None, filename: str) -> tuple[str | None, int | None]:
    """The script's own frames, named after its file (the prelude's are
    dropped), and the line of the innermost one."""
    if not stack:
        return None, None
    kept: list[str] = []
    line = None
    for frame in stack.splitlines():
        if "at eval (native)" in frame:
            break  # everything below is the runner calling the script
        if "__ea_" in frame or not frame.strip():
            continue
        match = _LINE.search(frame)
        if line is None and match:
            line = int(match.group(1))
        kept.append(frame.replace("<input>", filename))
    if len(kept) > _MAX_FRAMES:  # deep recursion: the top frames tell the story
        kept[_MAX_FRAMES:] = [f"    ... {len(kept) - _MAX_FRAMES} more frames"]
    return "\n".join(kept) or None, line


def _first_line(exc: object) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else "(no message)"


@hookimpl
def register_script_languages(register: Any) -> None:
    register("javascript", JavaScriptLanguage)

"""The JavaScript sandbox process: runs scripts one at a time, each in a fresh QuickJS context.

``emailactions.scripting.javascript`` starts this file as a program
(``python js_sandbox.py``) and talks to it over the child's stdin and
stdout. It imports only the standard library and ``quickjs`` (never
emailactions), so it starts fast, and nothing the host holds is in reach of
the engine: a crash in QuickJS, a runaway regular expression or a memory
bomb ends this process, not the host.

Frames, both ways: a 4-byte big-endian length, then one kind byte, then the
body (UTF-8, lone surrogates passed through)::

    child -> parent  H  hello: {"interruptible": bool}, once, after start-up
                     U  quickjs cannot be imported (body: the reason); the child exits
                     C  a bridge call: "<op>\\n<args JSON>"; the parent answers with R
                     D  the run is over: the prelude's reply JSON ({"value"} or {"thrown"})
                     E  the engine stopped the run: {"kind": "stack"|"engine"|"memory", "message"}
    parent -> child  S  run a script: {"source", "init" (JSON text), "limits"}
                     R  the bridge's reply JSON to the last C

The parent owns every decision (errors, limits, the wall clock); this side
only reports what happened. Before each run it lowers its own soft
``RLIMIT_CPU`` and ``RLIMIT_AS`` to what that run may use on top of what the
process already has, so a run cannot go far past its limits even if the
parent is gone.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == _HERE:
    del sys.path[0]  # run as a file: its folder holds base.py, python.py, ...; keep it off the import path

import json  # noqa: E402
import struct  # noqa: E402
from typing import Any  # noqa: E402

_HEADER = struct.Struct(">I")
#: Room on top of the memory limit for this interpreter's own work (the
#: result's text is held as a Python str and as UTF-8 bytes while it is sent).
_AS_HEADROOM = 64 * 1024 * 1024
#: Native stack on top of QuickJS's own stack limit: room for this
#: interpreter's frames and the C code QuickJS does not check (its
#: JSON.stringify recursion), which then crashes sooner and at less cost.
_STACK_HEADROOM = 2 * 1024 * 1024


class _Channel:
    """Length-prefixed frames over two file descriptors."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.buffer = bytearray()

    def send(self, kind: bytes, body: str) -> None:
        data = body.encode("utf-8", "surrogatepass")
        frame = _HEADER.pack(len(data) + 1) + kind + data
        view = memoryview(frame)
        while view:
            view = view[os.write(self.wfd, view) :]

    def recv(self) -> tuple[bytes, str] | None:
        """The next frame, or ``None`` when the parent has gone."""
        head = self._read(_HEADER.size)
        if head is None:
            return None
        (size,) = _HEADER.unpack(head)
        payload = self._read(size)
        if payload is None or not payload:
            return None
        return payload[:1], payload[1:].decode("utf-8", "surrogatepass")

    def _read(self, size: int) -> bytes | None:
        # Buffered: one read usually brings a frame's header and body together.
        buffer = self.buffer
        while len(buffer) < size:
            chunk = os.read(self.rfd, max(size - len(buffer), 1 << 16))
            if not chunk:
                return None
            buffer += chunk
        data = bytes(buffer[:size])
        del buffer[:size]
        return data


class _Unguard:
    """Clears the context's time-limit flag when QuickJS frees the function wrapping it.

    The ``quickjs`` binding refuses every call into Python while a time
    limit is set, yet installs QuickJS's interrupt handler when a call into
    JS *starts* with a limit set and removes it when the call *ends* with a
    limit still set. So a run starts with the limit set (the handler goes
    in), and the first thing the prelude's runner does is drop the last
    reference to this object, whose finalizer clears the flag: from then on
    the script may call the bridge and the handler stays in place.
    """

    def __init__(self, ctx: Any) -> None:
        self._ctx = [ctx]  # a list, so the reference cycle is cut on first use

    def __call__(self) -> None:  # pragma: no cover - never called, only released
        pass

    def __del__(self) -> None:
        if self._ctx:
            self._ctx.pop().set_time_limit(-1)


def _check_binding(quickjs: Any) -> bool:
    """Whether this ``quickjs`` build keeps the interrupt handler after the unguard."""
    ctx = quickjs.Context()
    calls: list[int] = []
    ctx.add_callable("probe", lambda: calls.append(1))
    ctx.add_callable("__ea_unguard", _Unguard(ctx))
    start = ctx.eval(
        "(function () { var u = globalThis.__ea_unguard; delete globalThis.__ea_unguard;"
        " return function () { u = null; probe(); for (;;) {} }; })()"
    )
    ctx.set_time_limit(0)  # QuickJS polls the handler every 10000 operations
    try:
        start()
    except quickjs.JSException as exc:
        return "interrupted" in str(exc) and calls == [1]
    return False  # pragma: no cover - the loop cannot end by itself


#: The soft limits the process started with: what a run without a bound gets back.
_ORIGINAL: dict[int, int] = {}


def _set_rlimits(limits: dict[str, Any]) -> None:
    """Lower the soft CPU, address-space and stack limits to what this run may add.

    Only soft limits move (an unprivileged process may raise them again, up
    to the hard limit, for the next run); a run without a bound gets back
    what the process started with. CPU time is whole seconds, counted for
    the whole process, so the bound is what it has used plus the run's limit
    plus a second or two: the parent's wall clock is the real limit, this is
    the backstop. Without ``resource`` (not Linux/Unix) nothing is set.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux
        return
    try:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        time_limit = limits.get("time_limit")
        cpu = None if time_limit is None else int(usage.ru_utime + usage.ru_stime + time_limit) + 2
        memory_limit = limits.get("memory_limit")
        address_space = None
        if memory_limit is not None:
            with open("/proc/self/statm", encoding="ascii") as statm:
                address_space = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE") + 3 * memory_limit + _AS_HEADROOM
        stack_size = limits.get("stack_size")
        stack = None if stack_size is None else stack_size + _STACK_HEADROOM
        for which, wanted in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, address_space), (resource.RLIMIT_STACK, stack)):
            soft, hard = resource.getrlimit(which)
            original = _ORIGINAL.setdefault(which, soft)
            if wanted is None:
                wanted = original
            elif original != resource.RLIM_INFINITY:
                wanted = min(wanted, original)
            if hard != resource.RLIM_INFINITY and (wanted == resource.RLIM_INFINITY or wanted > hard):
                wanted = hard
            if wanted != soft:
                resource.setrlimit(which, (wanted, hard))
    except (OSError, ValueError, IndexError):  # pragma: no cover - no /proc, or limits we may not change
        pass


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


class _Prepared:
    """A fresh context with the prelude evaluated, made while the child waits for its next run.

    Building a context and evaluating the prelude is most of a run's fixed
    cost; doing it ahead, while the host does other work, takes it off the
    run's path. Limits are set when the run arrives (a memory limit then
    counts the prelude too, as it always did).
    """

    def __init__(self, quickjs: Any, channel: _Channel, prelude: str, interruptible: bool) -> None:
        def bridge(op: str, args_json: str) -> str:
            # A Python exception must never escape into QuickJS (it becomes an
            # opaque SystemError), and without a parent there is nothing to do.
            try:
                channel.send(b"C", op + "\n" + args_json)
                frame = channel.recv()
            except BaseException:  # noqa: BLE001 - the C boundary
                os._exit(0)
            if frame is None or frame[0] != b"R":
                os._exit(0)
            return frame[1]

        self.quickjs = quickjs
        self.interruptible = interruptible
        self.ctx = ctx = quickjs.Context()
        self.error: BaseException | None = None
        try:
            ctx.add_callable("__ea_call", bridge)
            if interruptible:
                ctx.add_callable("__ea_unguard", _Unguard(ctx))
            ctx.eval(prelude)
            self.install, self.runner = ctx.get("__ea_install"), ctx.get("__ea_run")
            ctx.eval("delete globalThis.__ea_install; delete globalThis.__ea_run;")
        except quickjs.JSException as exc:  # pragma: no cover - the prelude runs without limits here
            self.error = exc

    def run(self, job: dict[str, Any]) -> tuple[bytes, str]:
        """Run one script: the frame that tells the parent how it ended."""
        quickjs, ctx, limits = self.quickjs, self.ctx, job["limits"]
        _set_rlimits(limits)
        if limits.get("memory_limit") is not None:
            ctx.set_memory_limit(limits["memory_limit"])
        if limits.get("stack_size") is not None:
            ctx.set_max_stack_size(limits["stack_size"])
        try:
            if self.error is not None:  # pragma: no cover
                raise self.error
            self.install(job["init"])
            if limits.get("time_limit") is not None and self.interruptible:
                ctx.set_time_limit(limits["time_limit"])  # see _Unguard
            reply = self.runner(job["source"])
        except quickjs.StackOverflow as exc:
            return b"E", json.dumps({"kind": "stack", "message": _first_line(str(exc))})
        except quickjs.JSException as exc:
            return b"E", json.dumps({"kind": "engine", "message": str(exc)})
        if not isinstance(reply, str):  # pragma: no cover - the prelude always returns text
            return b"E", json.dumps({"kind": "engine", "message": "the prelude returned no reply"})
        return b"D", reply


def main() -> int:
    """Serve runs until the parent closes the pipe."""
    # The protocol gets private copies of stdin/stdout; fd 0 and 1 then point
    # elsewhere, so nothing stray (a C library's printf) can corrupt a frame.
    channel = _Channel(os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not leave core files behind
    except (ImportError, OSError, ValueError):  # pragma: no cover
        pass
    try:
        import quickjs
    except ImportError as exc:
        channel.send(b"U", str(exc))
        return 0
    with open(os.path.join(_HERE, "prelude.js"), encoding="utf-8") as file:
        prelude = file.read()
    interruptible = _check_binding(quickjs)
    channel.send(b"H", json.dumps({"interruptible": interruptible}))
    while True:
        prepared = _Prepared(quickjs, channel, prelude, interruptible)
        frame = channel.recv()
        if frame is None or frame[0] != b"S":
            return 0
        try:
            kind, body = prepared.run(json.loads(frame[1]))
        except MemoryError:
            channel.send(b"E", '{"kind": "memory", "message": "out of memory"}')
            return 0  # a process that ran out of address space is not worth keeping
        channel.send(kind, body)
        # Each run's context goes (nothing a script defines survives it),
        # after the reply so the host does not wait for the clean-up.
        del prepared


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BrokenPipeError, KeyboardInterrupt):  # the parent went away
        sys.exit(0)

"""JavaScript scripts in QuickJS (the ``quickjs`` package), with IDM's script scope.

Each run gets a fresh QuickJS context (about 0.1 ms to create) with its own
memory and time limits, so scripts share nothing. ``quickjs`` is imported
when the language is first used; without it the language raises
``EngineUnavailable`` and everything else keeps working.

The time limit needs care. The binding refuses every call into Python while
a time limit is set ("Can not call into Python with a time limit set"), yet
it installs QuickJS's interrupt handler when a call into JS *starts* with a
limit set, and removes it when the call *ends* with a limit still set. So a
run starts with the limit set (the handler goes in), and the first thing the
script's runner does is drop the last reference to :class:`_Unguard`, whose
finalizer clears the limit flag: from then on the script may call Python and
the handler stays in place, stopping a ``while (true) {}`` at the limit. The
context is thrown away after the run, so the handler never outlives it.
:func:`_check_binding` proves this once per process and refuses to run
scripts without a time limit if a future binding behaves differently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import EmailActionsError, EngineUnavailable, InvalidParams, ScriptError, ScriptMemoryError
from ..hookspecs import hookimpl
from .base import ScriptLanguage, ScriptRun, ScriptStopped

__all__ = ["JavaScriptLanguage"]

_PRELUDE = (Path(__file__).parent / "prelude.js").read_text(encoding="utf-8")
_LINE = re.compile(r"<input>:(\d+)")
_MAX_FRAMES = 20
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


class _Bridge:
    """The one Python callable the prelude calls: ``(op, args_json) -> reply_json``.

    A Python exception must never escape into QuickJS (the ``quickjs``
    module turns it into an opaque ``SystemError``), so every outcome
    becomes a JSON reply. Errors the host raised become catchable JS
    errors; anything else (a bug, a timeout, Ctrl-C) is *fatal*: the script
    still sees an error, every later call fails, and the run re-raises it.
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
            args = json.loads(args_json)
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
        if op == "log":
            level, text = args
            run.log(level, text)
            return None
        if op == "property":
            return run.property(*args)
        if op == "global":
            name, call_args = args
            run.check_deadline()
            return run.globals[name](*call_args)
        raise ScriptError(f"Unknown bridge operation {op!r}")  # pragma: no cover - only the prelude calls


class _Unguard:
    """Clears the context's time-limit flag when QuickJS frees the function wrapping it."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = [ctx]  # a list, so the reference cycle is cut on first use

    def __call__(self) -> None:  # pragma: no cover - never called, only released
        pass

    def __del__(self) -> None:
        if self._ctx:
            self._ctx.pop().set_time_limit(-1)


_binding_ok: bool | None = None


def _check_binding(quickjs: Any) -> bool:
    """Whether this ``quickjs`` build keeps the interrupt handler after the unguard (once per process)."""
    global _binding_ok
    if _binding_ok is None:
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
            _binding_ok = False  # pragma: no cover - the loop cannot end by itself
        except quickjs.JSException as exc:
            _binding_ok = "interrupted" in str(exc) and calls == [1]
    return _binding_ok


class JavaScriptLanguage(ScriptLanguage):
    """``.js`` files, run as IDM runs them: ``openidm``, ``identityServer``,
    ``context``, ``logger`` and ``console`` in scope; the completion value
    (or ``setResult(value)``) is the result."""

    name = "javascript"
    extensions = (".js",)

    def __init__(self) -> None:
        try:
            import quickjs
        except ImportError as exc:
            raise EngineUnavailable(
                "The javascript language needs quickjs: pip install 'emailactions[javascript]'", language="javascript"
            ) from exc
        self._quickjs = quickjs
        self._interruptible = _check_binding(quickjs)

    def run(self, source: str, run: ScriptRun) -> Any:
        quickjs = self._quickjs
        bridge = _Bridge(run)
        ctx = quickjs.Context()
        limits = run.limits
        if limits.memory_limit is not None:
            ctx.set_memory_limit(limits.memory_limit)
        if limits.stack_size is not None:
            ctx.set_max_stack_size(limits.stack_size)
        if limits.time_limit is not None and not self._interruptible:  # pragma: no cover - a quickjs build we do not know
            raise EngineUnavailable(
                "This quickjs build cannot stop scripts at a time limit; install quickjs>=1.19,<1.20 or run without a time limit",
                language="javascript",
            )
        init = json.dumps(_init(run), ensure_ascii=False)
        try:
            # All inside the try: a tiny memory limit (or huge globals) can fail before the script starts.
            ctx.add_callable("__ea_call", bridge)
            if limits.time_limit is not None:
                ctx.add_callable("__ea_unguard", _Unguard(ctx))
            ctx.eval(_PRELUDE)
            install, runner = ctx.get("__ea_install"), ctx.get("__ea_run")
            ctx.eval("delete globalThis.__ea_install; delete globalThis.__ea_run;")
            install(init)
            if limits.time_limit is not None:
                # Installs the interrupt handler as the runner starts (see the module docstring).
                ctx.set_time_limit(limits.time_limit)
            reply = runner(source)
        except quickjs.StackOverflow as exc:
            raise ScriptError(f"Script {run.filename} recursed too deeply: {_first_line(exc)}", script=run.filename) from None
        except quickjs.JSException as exc:
            if bridge.fatal is not None:
                raise bridge.fatal from None
            raise _limit_error(run, str(exc)) from None
        if bridge.fatal is not None:
            raise bridge.fatal
        outcome = json.loads(reply)
        if "thrown" in outcome:
            raise _thrown(outcome["thrown"], run, bridge)
        return outcome["value"]


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
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise InvalidParams(f"Script global {name!r} is not JSON data: {exc}", param="globals") from None
        data[name] = value
    return {"context": run.context(), "locations": run.locations(), "globals": data, "callables": callables}


def _limit_error(run: ScriptRun, text: str) -> EmailActionsError:
    """An error QuickJS would not let the script catch: the time or memory limit.

    The prelude catches everything else, so what escapes it is an interrupt
    (uncatchable in QuickJS) or memory running out so far that even the
    error could not be built (its text is then often just ``null``).
    """
    if "interrupted" in text:
        run.timed_out = run.timeout_error()
        return run.timed_out
    if run.limits.memory_limit is not None:
        mib = run.limits.memory_limit / (1024 * 1024)
        return ScriptMemoryError(
            f"Script {run.filename} used more than its memory limit of {mib:g} MiB and was stopped",
            script=run.filename,
            memory_limit=run.limits.memory_limit,
            engine_message=_first_line(text),
        )
    return ScriptError(f"Script {run.filename} failed in the engine: {_first_line(text)}", script=run.filename)


def _thrown(info: dict[str, Any], run: ScriptRun, bridge: _Bridge) -> EmailActionsError:
    """The error for what the script threw and did not catch."""
    stack, line = _clean_stack(info.get("stack"), run.filename)
    ident = info.get("id")
    if ident in bridge.raised:
        # A host error the script let escape: the caller gets the error itself
        # (its code, kind and message, as IDM returns it), plus where it escaped.
        original = bridge.raised[ident]
        original.detail.setdefault("script", run.filename)
        if line is not None:
            original.detail.setdefault("line", line)
        return original
    name, message = info.get("name"), info.get("message") or ""
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

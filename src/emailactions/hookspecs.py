"""The pluggy markers for the ``emailactions`` project and every hook it calls."""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("emailactions")
hookimpl = pluggy.HookimplMarker("emailactions")


@hookspec
def register_actions(register: Callable[..., None], host: Any) -> None:
    """Contribute action handlers.

    Called once when an :class:`~emailactions.ActionHost` is created. Call
    ``register(resource, action, handler)`` for each action; ``handler`` is
    called as ``handler(params, context)`` with the raw params dict and an
    :class:`~emailactions.host.ActionContext`, and returns a JSON-ready dict.
    ``host`` is the host being built, for services that keep per-host state.
    Registering a (resource, action) pair twice raises ``DuplicateRegistration``.
    Return value ignored.
    """


@hookspec
def register_transports(register: Callable[..., None]) -> None:
    """Contribute transport backends.

    Called once per host. Call ``register(name, transport_class)`` where the
    class subclasses :class:`~emailactions.transports.BaseTransport` and takes
    its options as keyword arguments. ``name`` is what ``backend = "..."``
    selects in config; the options of every configured alias are checked
    against the class's ``__init__`` signature and annotations when the host
    is built (unknown, missing, mistyped). A name registered twice raises
    ``DuplicateRegistration``. Return value ignored.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``emailactions`` CLI.

    Called once when the CLI starts, with the root ``click.Group``; call
    ``cli.command()`` or ``cli.add_command()`` on it. The CLI registers its
    own command modules, installed plugins and those given to
    ``emailactions.cli.main(argv, plugins=[...])`` into one manager, which
    the host it builds shares. Return value ignored.
    """


@hookspec(firstresult=True)
def resolve_recipients(destination: str, host: Any, caller: str | None) -> list[Any] | None:
    """Turn a named destination (a recipient group) into addresses.

    Called when a ``send`` has ``destination``. Return a list of addresses
    (strings such as ``"Ann <ann@example.com>"`` or ``{"address", "display"}``
    objects), or ``None`` when the name is not yours. ``caller`` is who asks
    (the action context's caller: a ``[server.users]`` or API-key name over
    REST, ``None`` in process), so names such as Enswitch's ``me`` or
    ``customer`` can depend on it; an implementation that ignores it may
    leave it out of its signature. firstresult: the first plugin that
    answers wins; the built-in resolver (``me``, then ``[groups]``) runs last.
    """


@hookspec
def message_sent(message: Any, result: Any) -> None:
    """Observe a delivered message.

    Called after a transport accepted ``message`` (a
    :class:`~emailactions.mime.message.Message`), with its
    :class:`~emailactions.transports.SendResult`. Notification only: the
    return value is ignored and the message is already gone.
    """


@hookspec
def send_failed(message: Any, error: Any) -> None:
    """Observe a failed delivery.

    Called when a transport raised ``error`` (a ``TransportError``) for
    ``message``. Notification only: the return value is ignored and the error
    is still raised to the caller afterwards.
    """


@hookspec
def message_queued(message: Any, outbox_id: int) -> None:
    """Observe a message committed to the outbox.

    Called after a ``send`` or ``sendTemplate`` with ``waitForCompletion``
    false stored ``message`` (a :class:`~emailactions.mime.message.Message`) and
    committed it, before the caller hears "Email submitted". ``outbox_id`` is
    the entry's id, as ``emailactions outbox show`` takes it. Delivery attempts
    that follow call ``message_sent`` / ``send_failed`` as synchronous sends do.
    Notification only: the return value is ignored.
    """


@hookspec
def message_failed(message: Any, outbox_id: int, error: Any) -> None:
    """Observe the outbox giving up on some or all of a message's recipients.

    Called once per outbox entry when no further attempt will be made for
    some recipients: a permanent refusal (5xx), or ``max_attempts`` /
    ``max_age`` reached. ``message`` is addressed to just those recipients,
    ``error`` is the last error (an ``EmailActionsError``). ``send_failed``
    has already been called for each failed attempt; this is the final word,
    the one to alert on. Notification only: the return value is ignored.
    """


@hookspec
def register_template_engines(register: Callable[..., None]) -> None:
    """Contribute template engines.

    Called once per host. Call ``register(name, engine_class)`` where the class
    subclasses :class:`~emailactions.engines.TemplateEngine`; a template whose
    ``engine`` field is ``name`` renders with it. The class is instantiated on
    first use, so an engine may import its library lazily. A name registered
    twice raises ``DuplicateRegistration``. Return value ignored.
    """


@hookspec(firstresult=True)
def resolve_locale(requested: list[str], available: list[str]) -> str | None:
    """Choose the locale of one template part (subject, html, text or from-name).

    Called for each part of a template being rendered. ``requested`` is the
    caller's preference list in canonical form (``fr_CA``): the
    ``Accept-Language`` locales by q value, then ``_locale``, then the
    template's ``defaultLocale``, then the host's ``default_locale``.
    ``available`` lists the part's locales as the template spells them.
    Return one item of ``available``, or ``None`` to let the next
    implementation decide. firstresult: the first non-``None`` answer wins;
    the built-in (IDM's rules, ``trylast``) answers last. When nobody
    answers, the part's default text is used, else its first locale.
    """


@hookspec
def register_script_languages(register: Callable[..., None]) -> None:
    """Contribute script languages for ``ActionHost.run_script`` and ``emailactions run``.

    Called once per host, when it runs its first script. Call
    ``register(name, language_class)`` where the class subclasses
    :class:`~emailactions.scripting.ScriptLanguage` and lists the file
    ``extensions`` it handles (``(".js",)``); ``language=name`` selects it
    explicitly, a file's extension otherwise. The class is instantiated on
    first use, so it may import its engine lazily (raising
    ``EngineUnavailable`` when missing). A name or an extension registered
    twice raises ``DuplicateRegistration``. Return value ignored.
    """


@hookspec
def register_template_stores(register: Callable[..., None]) -> None:
    """Contribute template stores.

    Called once per host. Call ``register(name, factory)`` where
    ``factory(config)`` returns a
    :class:`~emailactions.templates.stores.base.TemplateStore` for the host's
    :class:`~emailactions.config.loader.Config`; ``[templates] store = "name"``
    selects it (default: ``folder`` with ``[email] templates``, ``idm-folder``
    with ``[email] conf``, else ``memory``). The factory runs when the host
    first uses its templates. A name registered twice raises
    ``DuplicateRegistration``. Return value ignored.
    """


@hookspec
def register_outbox_backends(register: Callable[..., None]) -> None:
    """Contribute outbox backends (where ``waitForCompletion=false`` mail waits).

    Called once per host. Call ``register(name, factory)`` where
    ``factory(settings)`` opens an outbox for the ``[outbox]`` settings (an
    :class:`~emailactions.config.loader.OutboxConfig`); ``[outbox] backend =
    "name"`` selects it (default: ``sqlite`` with ``[outbox] path``, else
    ``memory``). The outbox offers what
    :class:`~emailactions.delivery.outbox.sqlite.Outbox` does. A name
    registered twice raises ``DuplicateRegistration``. Return value ignored.
    """


@hookspec
def register_api_routes(register: Callable[..., None]) -> None:
    """Contribute REST routes to ``emailactions serve`` (an API dialect).

    Called once per app, when :func:`emailactions.server.create_app` builds
    it. Call ``register(endpoint)`` with an
    :class:`~emailactions.server.app.Endpoint` (path, methods, an async
    handler taking a :class:`~emailactions.server.app.Call` and returning a
    :class:`~emailactions.server.app.Reply`). Requests are authenticated and
    rate limited before the handler runs, which checks the permission it
    needs. A path and method registered twice raises
    ``DuplicateRegistration``. Return value ignored.
    """


@hookspec
def prepare_message(message: Any, host: Any) -> Any:
    """Change a finished message before it is delivered or queued (sign it, add headers).

    Called once per message, after composition and before rate limits and
    dispatch, with the :class:`~emailactions.mime.message.Message` and the
    :class:`~emailactions.ActionHost`. Return a replacement ``Message`` or
    ``None`` to keep it. A pipeline: implementations run in pluggy's order,
    each getting what the previous one returned; wrappers are refused. What
    comes out is what the outbox stores, so every attempt sends the same bytes.
    """

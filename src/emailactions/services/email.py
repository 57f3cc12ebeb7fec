"""The ``external/email`` service: IDM's ``send`` and ``sendTemplate``, and ``preview``."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, Iterable

from emailactions.params.addresses import Address, parse_address_list
from emailactions.delivery.bulk import Job, deliver_each, summarize
from emailactions.mime.compose import compose
from emailactions.mime.message import MessageInfo
from emailactions.errors import InvalidParams, TemplateDisabled, UnknownDestination
from emailactions.hookspecs import hookimpl
from emailactions.params.fields import boolean
from emailactions.params.senders import check_sender
from emailactions.params.send import Body, SendRequest, check_body, dedupe, parse_send
from emailactions.params.template import TemplateRequest, parse_preview, parse_send_template, template_sender

RESOURCE = "external/email"
#: Messages a bulk ``waitForCompletion=false`` call commits together.
SUBMIT_BATCH = 16


class EmailService:
    """Handlers for ``external/email``; one instance per host."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def send(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """IDM's ``send``: validate, compose, deliver."""
        wait = _wait_flag(params, context)
        config = self.host.config
        resolve = partial(self.resolve_destination, caller=context.caller)
        request = parse_send(params, default_from=config.sender, limits=config.limits, resolve=resolve)
        check_sender(request.sender, config.allowed_senders, config.sender)
        if request.separately:
            return self.dispatch_each(_one_each(request), wait)
        return self.dispatch(compose(request), wait, idempotency_key=_key(request, wait))

    def resolve_destination(self, name: str, caller: str | None = None) -> list[Address]:
        """A ``destination`` group's members, through the ``resolve_recipients`` hook."""
        members = self.host.hook.resolve_recipients(destination=name, host=self.host, caller=caller)
        if members is None:
            raise UnknownDestination(f"Destination {name!r} not found", param="destination", destination=name)
        return parse_address_list(members, "destination")

    def dispatch_each(self, jobs: Iterable[Job], wait: bool, *, template: str | None = None) -> dict[str, Any]:
        """One message per job, composed lazily, each through :meth:`dispatch`
        (rate limits, retries, or the outbox), at most the pool's size at a time."""
        workers = getattr(self.host.transport(), "pool_size", 1)
        if not wait:
            # Submitting only writes to the outbox: concurrent submits share
            # one fsync (its group commit), so enqueueing goes in batches.
            workers = max(workers, SUBMIT_BATCH)
        send = partial(self.dispatch, wait=wait, template=template)
        return summarize(deliver_each(send, jobs, workers=workers), submitted=not wait)

    def dispatch(self, message: Any, wait: bool, *, template: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        """Deliver now (retrying within the deadline) or commit to the outbox.

        ``template`` is the template name, for per-template rate limits; when
        not given, ``message.info.template`` is used. Both paths apply the
        rate limits first (429 with ``retry_after``).
        """
        if template is None:
            template = message.info.template
        dispatcher = self.host.dispatcher
        if wait:
            result, attempts = dispatcher.send(message, template=template)
            return {"status": "OK", "message": "Email sent", **result.to_dict(), "attempts": attempts}
        # "Email submitted" only once the outbox row is committed.
        submitted = dispatcher.submit(message, template=template, idempotency_key=idempotency_key)
        return {"status": "OK", "message": "Email submitted", **submitted}


    def send_template(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """IDM's ``sendTemplate``: validate the params, then :meth:`deliver_template`."""
        wait = _wait_flag(params, context)
        resolve = partial(self.resolve_destination, caller=context.caller)
        request = parse_send_template(params, limits=self.host.config.limits, resolve=resolve)
        return self.deliver_template(request, context.accept_language, wait)

    def deliver_template(self, request: TemplateRequest, accept_language: str | None, wait: bool) -> dict[str, Any]:
        """Read the template, pick locales, render, compose, deliver: the one template
        send, behind ``sendTemplate`` and FusionAuth's send route alike.

        With ``request.separately`` each ``to`` recipient gets a message of
        their own (with the request's cc and bcc), rendered for them. A
        template that does not compile fails them all alike, so it is refused
        (400) before anything is sent; after that, one recipient's render
        error, refusal or rate limit is reported under their address.
        """
        template = self.host.templates.store.get(request.template_name or "")
        if not template.enabled:
            raise TemplateDisabled(f"Email template {template.id!r} is disabled", template=template.id)
        if request.separately:
            self.host.templates.check(template)
            jobs = ((address.addr, partial(self._render, template, request, accept_language, (address,))) for address in request.to)
            result = self.dispatch_each(jobs, wait, template=template.id)
            result["templateName"] = template.id
            return result
        message = self._render(template, request, accept_language, request.to)
        result = self.dispatch(message, wait, template=template.id, idempotency_key=_key(request, wait))
        result.update(templateName=template.id, locale=message.info.locale, locales=dict(message.info.locales))
        return result

    def _render(self, template: Any, request: TemplateRequest, accept_language: str | None, to: tuple[Address, ...]) -> Any:
        """Render ``template`` for these recipients (with the first one's own data) and compose."""
        data, locale = request.data, request.locale
        own_data, own_locale = request.personal.get(to[0].key, (None, None)) if to else (None, None)
        if own_data:
            data = {**data, **own_data}
        config = self.host.config
        rendered = self.host.templates.render(template, data, accept_language=accept_language, locale=own_locale or locale)
        sender = template_sender(request.sender, template.from_email, config.sender, rendered.from_name)
        check_sender(sender, config.allowed_senders, template.from_email or config.sender)
        bodies = tuple(
            Body(subtype, check_body(content, config.limits, part))
            for subtype, part, content in (("html", "html", rendered.html), ("plain", "text", rendered.text))
            if content is not None
        )
        # Sent separately, a recipient may also be in the request's Cc or Bcc: addressed once.
        to, cc, bcc = (tuple(field) for field in dedupe(list(to), list(request.cc), list(request.bcc)))
        message = compose(
            SendRequest(
                sender=sender,
                to=to,
                cc=cc,
                bcc=bcc,
                subject=rendered.subject,
                bodies=bodies or (Body("plain", ""),),
                locale=rendered.locale,
                reply_to=request.reply_to,
                headers=request.headers,
                attachments=request.attachments,
            )
        )
        return replace(message, info=MessageInfo(template=template.id, locale=rendered.locale, locales=rendered.locales))

    def preview(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """Render a stored or inline template without sending; errors are reported per part."""
        config = self.host.config
        request = parse_preview(params)
        templates = self.host.templates
        if request.template is not None:
            from emailactions.templates.formats import from_dict  # the template model loads only when used

            template = from_dict(request.template, str(request.template.get("id") or "preview"))
        else:
            template = templates.store.get(request.template_name or "")
        rendered = templates.render(
            template, request.data, accept_language=context.accept_language, locale=request.locale, collect_errors=True
        )
        try:
            sender: str | None = str(template_sender(request.sender, template.from_email, config.sender, rendered.from_name))
        except InvalidParams as exc:
            sender = None
            rendered.errors["from"] = {"message": exc.message}
        return {
            "templateName": request.template_name,
            "enabled": template.enabled,
            "engine": template.engine,
            "locale": rendered.locale,
            "locales": rendered.locales,
            "from": sender,
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "errors": rendered.errors,
            "missing": rendered.missing,
        }


def _one_each(request: SendRequest) -> Iterable[Job]:
    """A job per ``to`` recipient, with only their own address in To."""
    for address in request.to:
        yield address.addr, partial(compose, replace(request, to=(address,), separately=False))


def _key(request: Any, wait: bool) -> str | None:
    """``idempotencyKey`` guards a submit to the outbox, whose row remembers it."""
    if request.idempotency_key is not None and wait:
        raise InvalidParams("Parameter 'idempotencyKey' needs waitForCompletion=false", param="idempotencyKey")
    return request.idempotency_key


def _wait_flag(params: dict[str, Any], context: Any) -> bool:
    """``waitForCompletion`` in params (as REST's query string has it) overrides the context."""
    value = params.pop("waitForCompletion", None)
    if value is None:
        return context.wait_for_completion
    return boolean(value, "waitForCompletion")


@hookimpl
def register_actions(register: Any, host: Any) -> None:
    service = EmailService(host)
    register(RESOURCE, "send", service.send)
    register(RESOURCE, "sendTemplate", service.send_template)
    register(RESOURCE, "preview", service.preview)

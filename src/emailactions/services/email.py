"""The ``external/email`` service: IDM's ``send`` and ``sendTemplate``, and ``preview``."""

from __future__ import annotations

from typing import Any

from ..compose import compose
from ..errors import InvalidParams, TemplateDisabled
from ..hookspecs import hookimpl
from ..request import Body, SendRequest, check_body, parse_preview, parse_send, parse_send_template, template_sender
from ..templates import from_dict

RESOURCE = "external/email"


class EmailService:
    """Handlers for ``external/email``; one instance per host."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def send(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """IDM's ``send``: validate, compose, deliver."""
        wait = _wait_flag(params, context)
        config = self.host.config
        request = parse_send(params, default_from=config.sender, limits=config.limits)
        return self.dispatch(compose(request), wait)

    def send_template(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """IDM's ``sendTemplate``: read the template, pick locales, render, compose, deliver."""
        wait = _wait_flag(params, context)
        config = self.host.config
        request = parse_send_template(params, limits=config.limits)
        templates = self.host.templates
        template = templates.store.get(request.template_name)
        if not template.enabled:
            raise TemplateDisabled(f"Email template {template.id!r} is disabled", template=template.id)
        rendered = templates.render(template, request.data, accept_language=context.accept_language, locale=request.locale)
        sender = template_sender(request.sender, template.from_email, config.sender, rendered.from_name)
        bodies = tuple(
            Body(subtype, check_body(content, config.limits, part))
            for subtype, part, content in (("html", "html", rendered.html), ("plain", "text", rendered.text))
            if content is not None
        )
        message = compose(
            SendRequest(
                sender=sender,
                to=request.to,
                cc=request.cc,
                bcc=request.bcc,
                subject=rendered.subject,
                bodies=bodies or (Body("plain", ""),),
                locale=rendered.locale,
                extra={"template": template.id},
            )
        )
        result = self.dispatch(message, wait)
        result.update(templateName=template.id, locale=rendered.locale, locales=rendered.locales)
        return result

    def preview(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """Render a stored or inline template without sending; errors are reported per part."""
        config = self.host.config
        request = parse_preview(params)
        templates = self.host.templates
        if request.template is not None:
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

    def dispatch(self, message: Any, wait: bool) -> dict[str, Any]:
        """Deliver now; the result carries IDM's status plus per-recipient detail."""
        result = self.host.deliver(message)
        # Until the durable outbox exists, a submitted message is delivered
        # before answering: slower than IDM's fire-and-forget, but never lost.
        return {"status": "OK", "message": "Email sent" if wait else "Email submitted", **result.to_dict()}


def _wait_flag(params: dict[str, Any], context: Any) -> bool:
    """``waitForCompletion`` in params (as REST's query string has it) overrides the context."""
    value = params.pop("waitForCompletion", None)
    if value is None:
        return context.wait_for_completion
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise InvalidParams("Parameter 'waitForCompletion' must be a boolean", param="waitForCompletion")
    return value


@hookimpl
def register_actions(register: Any, host: Any) -> None:
    service = EmailService(host)
    register(RESOURCE, "send", service.send)
    register(RESOURCE, "sendTemplate", service.send_template)
    register(RESOURCE, "preview", service.preview)

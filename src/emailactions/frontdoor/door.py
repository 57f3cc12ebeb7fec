"""The front door's policy: who may submit what, and the submit itself.

One :class:`FrontDoor` per server, shared by its connections; it is the
aiosmtpd handler (``handle_MAIL``, ``handle_RCPT``, ``handle_DATA``). A
message is refused before any side effect, or committed to the outbox
through ``host.dispatcher.submit`` (the ``prepare_message`` stage, the rate
limits, the durable commit) before the ``250`` goes out.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from emailactions.config import RateLimitConfig
from emailactions.config.server import ApiRateLimits
from emailactions.config.smtp_server import message_limit
from emailactions.delivery.ratelimit import applying, build
from emailactions.errors import ConfigError, EmailActionsError, PermissionDenied
from emailactions.frontdoor.identity import Identities
from emailactions.frontdoor.message import Submission, check, envelope_address
from emailactions.frontdoor.replies import Refused, refusal
from emailactions.params.addresses import Address
from emailactions.params.senders import CallerSenders, bound, check_sender
from emailactions.server.auth import Principal
from emailactions.server.throttle import ApiLimiter

log = logging.getLogger("emailactions.frontdoor")

LOCAL_ERROR = "451 4.3.0 Local error: the message could not be stored; try again later"


def tls_context(cert: Any, key: Any) -> ssl.SSLContext:
    """A server context for STARTTLS or implicit TLS: TLS 1.2 at least, no client certificates."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"Config keys 'smtp_server.tls_cert' and 'smtp_server.tls_key': cannot load them ({exc})", key="smtp_server.tls_cert"
        ) from None
    return context


class FrontDoor:
    """What every connection shares: the host, settings, identities, limits; and the aiosmtpd hooks."""

    def __init__(self, host: Any) -> None:
        config = host.config
        self.host = host
        self.settings = config.smtp_server
        self.limits = config.limits
        server = config.server
        failures = server.rate_limits.auth_failures if server.rate_limits.enabled else None
        self.limiter = ApiLimiter(ApiRateLimits(caller=self.settings.identity_limit, anonymous=None, auth_failures=failures))
        self.identities = Identities(server, self.limiter)
        # As the REST server does: mail of callers without "*" counts per recipient,
        # in the host's [rate_limits] storage (shared through Redis when it is).
        mail = config.rate_limits
        self.recipient_limiter = build(
            RateLimitConfig(recipient=server.recipient_limit, strategy=mail.strategy, storage=mail.storage),
            {"recipient": "server.recipient_limit"},
        )
        self.size = self.settings.max_message_bytes or message_limit(config.limits)
        cert, key = self.settings.tls_cert, self.settings.tls_key
        self.tls = tls_context(cert, key) if cert is not None and key is not None else None
        #: Open connections (their SMTP protocols), closed when the server stops.
        self.sessions: set[Any] = set()

    def hang_up_all(self) -> None:
        """Close every open connection: a client mid-DATA gets no 250, so it keeps its message."""
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()

    # -- policy -----------------------------------------------------------

    def rule(self, principal: Principal) -> CallerSenders | None:
        """The identity's sender rule, as the REST server binds it for a request."""
        trusted = "*" in principal.permissions
        if trusted and principal.senders is None:
            return None
        return CallerSenders(principal.senders, (principal.email,) if principal.email else ())

    def allow_sender(self, principal: Principal, sender: Address) -> None:
        """403 (550 5.7.1) unless ``[email] allowed_senders`` and the identity's ``senders`` allow ``sender``."""
        with bound(self.rule(principal)):
            check_sender(sender, self.host.config.allowed_senders, self.host.config.sender)

    def submit(self, principal: Principal, data: bytes, mail_from: str, rcpt_tos: list[str], smtputf8: bool) -> tuple[Submission, dict[str, Any]]:
        """Check the message, the header senders, then commit it (blocking: run it in a thread)."""
        submission = check(
            data, envelope_address(mail_from, "MAIL FROM"), [envelope_address(r, "RCPT TO") for r in rcpt_tos], self.limits, smtputf8
        )
        try:
            for sender in submission.header_senders:
                self.allow_sender(principal, sender)
            limiter = None if "*" in principal.permissions else self.recipient_limiter
            with applying(limiter):
                return submission, self.host.dispatcher.submit(submission.message)
        except EmailActionsError as exc:
            raise refusal(exc) from None

    # -- aiosmtpd hooks ---------------------------------------------------

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        responses.insert(-1, "250-ENHANCEDSTATUSCODES")
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        principal: Principal = session.auth_data
        try:
            if "send" not in principal.permissions:
                raise PermissionDenied(f"{principal.name!r} lacks permission 'send'", permission="send")
            # Per identity: every transaction counts, refused or not.
            self.limiter.request(f"{principal.kind}:{principal.name}", server.client)
            self.allow_sender(principal, envelope_address(address, "MAIL FROM"))
        except Refused as exc:
            return exc.reply
        except EmailActionsError as exc:
            return refusal(exc, stage="MAIL").reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.limits.max_recipients:
            return f"452 4.5.3 Too many recipients (limit {self.limits.max_recipients} per message)"
        try:
            envelope_address(address, "RCPT TO")
        except Refused as exc:
            return exc.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        principal: Principal = session.auth_data
        try:
            submission, result = await asyncio.to_thread(
                self.submit, principal, envelope.original_content, envelope.mail_from, list(envelope.rcpt_tos), envelope.smtp_utf8
            )
        except Refused as exc:
            log.info("refused a message from %s (%s): %s", principal.name, server.client, exc.reply)
            return exc.reply
        server.messages += 1
        message = submission.message
        log.info("queued outbox #%s %s from %s for %d recipient(s)", result["outboxId"], message.message_id, principal.name, len(message.recipients))
        return f"250 2.0.0 OK queued as {result['outboxId']} {message.message_id}"

    async def handle_exception(self, error: Exception) -> str:
        # Never the exception's text: it may name files or hold client input.
        log.error("front door session error", exc_info=error)
        return LOCAL_ERROR

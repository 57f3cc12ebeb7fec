"""SMTP replies with enhanced status codes (RFC 3463, RFC 2034), and errors turned into them."""

from __future__ import annotations

import math
import re

from emailactions.errors import EmailActionsError, NotAuthenticated, PermissionDenied, RateLimited, TooLarge

#: A reply that already carries an enhanced status code ("250 2.0.0 ...").
_ENHANCED = re.compile(r"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b")
_CODE = re.compile(r"^([245])(\d\d)([ -])(.*)$", re.S)
#: Enhanced codes for aiosmtpd's own replies, which carry none, by reply code.
_DEFAULTS = {
    "250": "2.0.0", "221": "2.0.0", "354": "", "334": "", "220": "",
    "421": "4.7.0", "450": "4.2.0", "451": "4.3.0", "452": "4.5.3", "454": "4.7.0",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4",
    "530": "5.7.0", "535": "5.7.8", "538": "5.7.11", "550": "5.0.0", "552": "5.3.4",
    "553": "5.1.3", "554": "5.0.0", "555": "5.5.4",
}  # fmt: skip


class Refused(Exception):
    """An SMTP refusal: reply code, enhanced status code and text."""

    def __init__(self, code: int, status: str, text: str) -> None:
        super().__init__(text)
        self.code, self.status, self.text = code, status, text

    @property
    def reply(self) -> str:
        # One line, printable: the text may hold a client's words.
        clean = "".join(c if c.isprintable() else "?" for c in self.text)[:400]
        return f"{self.code} {self.status} {clean}"


def enhanced(reply: str) -> str:
    """``reply`` with an enhanced status code if it lacks one (greetings, 334 and 354 stay bare)."""
    if _ENHANCED.match(reply):
        return reply
    match = _CODE.match(reply)
    if match is None:
        return reply
    status = _DEFAULTS.get(match.group(1) + match.group(2), f"{match.group(1)}.0.0")
    if not status:
        return reply
    text = match.group(4)
    # aiosmtpd's own texts start "Error: "; the enhanced code says as much.
    text = text[len("Error: "):] if text.startswith("Error: ") else text
    return f"{match.group(1)}{match.group(2)}{match.group(3)}{status} {text}"


def refusal(exc: EmailActionsError, *, stage: str = "DATA") -> Refused:
    """The SMTP answer to an error from the checks, the policy or the outbox.

    ``stage``: ``MAIL`` or ``RCPT`` answer an address refusal with 553 5.1.3
    (or 5.1.7 for a sender); ``DATA`` with 554 5.6.0 (the content).
    """
    if isinstance(exc, RateLimited):
        wait = exc.detail.get("retry_after")
        said = "retry" in exc.message.lower()
        later = f"; retry in {max(1, math.ceil(float(wait)))} s" if wait is not None and not said else ""
        return Refused(451, "4.7.0", f"{exc.message}{later}")
    if isinstance(exc, NotAuthenticated):
        return Refused(530, "5.7.0", exc.message)
    if isinstance(exc, PermissionDenied):  # SenderNotAllowed among them
        return Refused(550, "5.7.1", exc.message)
    if isinstance(exc, TooLarge):
        return Refused(552, "5.3.4", exc.message)
    if exc.code < 500:
        if stage == "MAIL":
            return Refused(553, "5.1.7", exc.message)
        if stage == "RCPT":
            return Refused(553, "5.1.3", exc.message)
        return Refused(554, "5.6.0", exc.message)
    # The outbox could not store it: nothing was accepted, the client retries.
    return Refused(451, "4.3.0", "Local error: the message could not be stored; try again later")

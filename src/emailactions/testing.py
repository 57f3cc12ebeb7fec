"""The pytest plugin: no test delivers real mail unless it asks; fixtures to see what was sent.

Registered through the ``pytest11`` entry point. As Django's test runner swaps
``EMAIL_BACKEND``, every :class:`~emailactions.ActionHost` -- the default one
behind ``emailactions.action()``, or one the code under test builds from any
config -- sends to a memory transport while tests run, one per test
(``emailactions_outbox``). Real delivery is opted into per test with the
``emailactions_deliver`` marker, or for a whole suite with the
``emailactions_deliver = true`` ini option. emailactions is imported inside
hooks and fixtures, not here, so coverage sees its import-time lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterator

import pytest

#: What a criterion of :meth:`Outbox.find` may be: a value, a regex, or a predicate.
Criterion = Any


@dataclass(frozen=True)
class SentAttachment:
    """One attachment or inline part of a sent mail."""

    filename: str | None
    content_type: str
    data: bytes
    #: Content-ID without the angle brackets, for inline parts.
    cid: str | None = None


class SentMail:
    """A sent :class:`~emailactions.Message` read back the way a test asks about it."""

    def __init__(self, message: Any) -> None:
        #: The :class:`~emailactions.Message` the transport got.
        self.message = message

    @cached_property
    def parsed(self) -> Any:
        """The stdlib ``EmailMessage``."""
        return self.message.parsed()

    @property
    def sender(self) -> str:
        """Envelope sender (MAIL FROM)."""
        return self.message.sender

    @property
    def recipients(self) -> list[str]:
        """Envelope recipients: To, Cc and Bcc."""
        return list(self.message.recipients)

    @property
    def to(self) -> list[str]:
        """Addresses in the To header."""
        return _addresses(self.parsed, "To")

    @property
    def cc(self) -> list[str]:
        """Addresses in the Cc header."""
        return _addresses(self.parsed, "Cc")

    @property
    def bcc(self) -> list[str]:
        """Envelope recipients that appear in no header."""
        shown = {a.lower() for a in self.to + self.cc}
        return [a for a in self.recipients if a.lower() not in shown]

    @property
    def from_(self) -> str:
        """The From header, decoded."""
        return str(self.parsed["From"] or "")

    @property
    def subject(self) -> str:
        """The Subject header, decoded."""
        return str(self.parsed["Subject"] or "")

    @property
    def text(self) -> str | None:
        """The text/plain body (newlines as ``\\n``), or None."""
        return self._body("plain")

    @property
    def html(self) -> str | None:
        """The text/html body (newlines as ``\\n``), or None."""
        return self._body("html")

    def _body(self, kind: str) -> str | None:
        body = self.parsed.get_body((kind,))
        # The wire uses CRLF; tests compare with Python strings.
        return body.get_content().replace("\r\n", "\n") if body is not None else None

    @property
    def attachments(self) -> list[SentAttachment]:
        """Attachments and inline parts (with ``cid``), in message order."""
        bodies = {id(b) for b in (self.parsed.get_body(("plain",)), self.parsed.get_body(("html",))) if b is not None}
        out = []
        for part in self.parsed.walk():
            if part.is_multipart() or id(part) in bodies:
                continue
            cid = part["Content-ID"]
            if part.get_content_disposition() is None and cid is None:
                continue
            out.append(SentAttachment(part.get_filename(), part.get_content_type(), part.get_payload(decode=True) or b"",
                                      str(cid).strip("<>") if cid else None))  # fmt: skip
        return out

    @property
    def locale(self) -> str | None:
        """The locale a template send resolved to (None for ``send``)."""
        return self.message.info.locale

    @property
    def locales(self) -> dict[str, str]:
        """Locale per template part (``{"subject": "fr", "html": "fr"}``)."""
        return dict(self.message.info.locales)

    @property
    def template(self) -> str | None:
        """The template id of a ``sendTemplate``, else None."""
        return self.message.info.template

    def __repr__(self) -> str:
        return f"<SentMail to={self.recipients} subject={self.subject!r} locale={self.locale!r}>"


def _addresses(parsed: Any, header: str) -> list[str]:
    value = parsed[header]
    if value is None:
        return []
    return [a.addr_spec for a in value.addresses]


def _check(name: str, mail: SentMail, expected: Criterion) -> bool:
    """Whether ``mail`` meets one criterion of :meth:`Outbox.find`."""
    read, contains = _CRITERIA[name]
    actual = read(mail)
    if callable(expected) and not isinstance(expected, re.Pattern):
        return bool(expected(actual))  # a predicate sees the whole value (a list for to/cc/...)
    if isinstance(actual, list):
        if isinstance(expected, str) and name in ("to", "cc", "bcc"):
            expected = expected.lower()  # addresses compare case-insensitively
        return any(_one(item, expected, contains) for item in actual)
    return _one(actual, expected, contains)


def _one(actual: Any, expected: Criterion, contains: bool) -> bool:
    if actual is None:
        return expected is None
    if isinstance(expected, re.Pattern):
        return expected.search(actual) is not None
    return expected in actual if contains else actual == expected


#: criterion -> (how to read it from a SentMail, whether a string means "contains").
_CRITERIA: dict[str, tuple[Callable[[SentMail], Any], bool]] = {
    "to": (lambda m: [a.lower() for a in m.recipients], False),
    "cc": (lambda m: [a.lower() for a in m.cc], False),
    "bcc": (lambda m: [a.lower() for a in m.bcc], False),
    "sender": (lambda m: m.sender, False),
    "subject": (lambda m: m.subject, False),
    "text": (lambda m: m.text, True),
    "html": (lambda m: m.html, True),
    "attachment": (lambda m: [a.filename for a in m.attachments], False),
    "locale": (lambda m: m.locale, False),
    "template": (lambda m: m.template, False),
}


class Outbox:
    """What the memory transport captured, with helpers for assertions.

    ``find``/``assert_sent`` criteria: ``to`` (any envelope recipient),
    ``cc``, ``bcc``, ``attachment`` (a filename) match one item of a list;
    ``text`` and ``html`` match when the body contains the string; ``sender``,
    ``subject``, ``locale`` and ``template`` match exactly. Any criterion may
    also be a compiled regex (searched) or a predicate on the value.
    """

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    @property
    def messages(self) -> list[Any]:
        """Every :class:`~emailactions.Message` sent, oldest first."""
        return list(self._transport.outbox)

    def __len__(self) -> int:
        return len(self._transport.outbox)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.messages)

    def __getitem__(self, index: int) -> Any:
        return self._transport.outbox[index]

    @property
    def last(self) -> Any:
        """The most recent message, parsed (an ``email.message.EmailMessage``)."""
        if not self._transport.outbox:
            raise AssertionError("no message was sent")
        return self._transport.outbox[-1].parsed()

    def to(self, address: str) -> list[Any]:
        """Parsed messages whose envelope includes ``address``."""
        wanted = address.casefold()  # as find() compares addresses
        return [m.parsed() for m in self._transport.outbox if wanted in (r.casefold() for r in m.recipients)]

    @property
    def subjects(self) -> list[str]:
        """Subjects of all messages, decoded."""
        return [str(m.parsed()["Subject"]) for m in self._transport.outbox]

    def clear(self) -> None:
        """Forget everything sent so far."""
        self._transport.outbox.clear()

    @property
    def sent(self) -> list[SentMail]:
        """Every message sent, oldest first, as :class:`SentMail`."""
        return [SentMail(m) for m in self._transport.outbox]

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient of every message, in order."""
        return [r for m in self._transport.outbox for r in m.recipients]

    @property
    def locales(self) -> list[str | None]:
        """The resolved locale of every message (None for plain sends)."""
        return [m.info.locale for m in self._transport.outbox]

    def find(self, **criteria: Criterion) -> list[SentMail]:
        """Sent mails matching every criterion (see the class docstring)."""
        unknown = set(criteria) - set(_CRITERIA)
        if unknown:
            raise TypeError(f"unknown criteria {sorted(unknown)}; known: {sorted(_CRITERIA)}")
        return [m for m in self.sent if all(_check(name, m, expected) for name, expected in criteria.items())]

    def assert_sent(self, count: int | None = None, **criteria: Criterion) -> SentMail:
        """Assert that mail matching ``criteria`` was sent (exactly ``count``
        times if given); return the last match. The failure lists what was sent."""
        if count is not None and count < 1:
            raise ValueError("assert_sent needs count >= 1; use assert_not_sent")
        found = self.find(**criteria)
        if not found or (count is not None and len(found) != count):
            wanted = "a mail" if count is None else f"{count} mail(s)"
            raise AssertionError(f"expected {wanted} matching {criteria}, found {len(found)}; sent: {self.sent}")
        return found[-1]

    def assert_not_sent(self, **criteria: Criterion) -> None:
        """Assert that no mail matches ``criteria`` (with none: that nothing was sent)."""
        found = self.find(**criteria)
        if found:
            raise AssertionError(f"expected no mail matching {criteria}, found {found}")


DELIVER = "emailactions_deliver"
#: The capture that the session-wide one replaced, restored at the end.
_previous = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(DELIVER, "Deliver mail through each host's own transports instead of capturing it (default: false).", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{DELIVER}(on=True): this test delivers mail through its hosts' own transports; "
                                       f"{DELIVER}(False) captures it even when the {DELIVER} ini option is set.")  # fmt: skip
    # Mail sent outside a test (at import, in session fixtures) is captured too.
    # Once, though the plugin be loaded twice (entry point and pytest_plugin.py).
    if not config.getini(DELIVER) and _previous not in config.stash:
        from emailactions.host import capture
        from emailactions.transports.memory import MemoryTransport

        config.stash[_previous] = capture(MemoryTransport())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _previous in config.stash:
        from emailactions.host import capture

        capture(config.stash[_previous])
        del config.stash[_previous]


@pytest.fixture(autouse=True)
def _emailactions_capture(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh capturing memory transport per test (``None`` when the test delivers);
    the default host is rebuilt for each test, so it reads the config the test sets."""
    from emailactions.host import capture
    from emailactions.transports.memory import MemoryTransport

    marker = request.node.get_closest_marker(DELIVER)
    deliver = bool(marker.args[0] if marker.args else marker.kwargs.get("on", True)) if marker else request.config.getini(DELIVER)
    transport = None if deliver else MemoryTransport()
    previous = capture(transport)
    try:
        yield transport
    finally:
        capture(previous)


@pytest.fixture
def emailactions_config() -> dict[str, Any]:
    """Override to change the host's config: memory transport, no rate limits
    (a test may send many mails to one address)."""
    return {
        "email": {"from": "IDM <openidm@example.com>"},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"enabled": False},
    }


@pytest.fixture
def emailactions_host(emailactions_config: dict[str, Any]) -> Iterator[Any]:
    """An :class:`~emailactions.ActionHost` with no third-party plugins."""
    from emailactions import ActionHost

    host = ActionHost(emailactions_config, load_entry_points=False)
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def emailactions_outbox(request: pytest.FixtureRequest, _emailactions_capture: Any) -> Outbox:
    """Every mail sent during the test, by any host; when the test delivers,
    the outbox of ``emailactions_host``'s memory transport."""
    if _emailactions_capture is not None:
        return Outbox(_emailactions_capture)
    return Outbox(request.getfixturevalue("emailactions_host").transport())

"""Compose cost per message against the stdlib's EmailMessage, in one process.

    python benchmarks/bench_compose.py

The message is the transactional one of issue 4: non-ASCII names and subject,
~1 KB text and ~2 KB HTML, multipart/alternative.
"""

from __future__ import annotations

import sys
from email import policy
from email.headerregistry import Address as StdAddress
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import HTML, PARAMS, TEXT, per_call, show  # noqa: E402

from emailactions.params.addresses import Address  # noqa: E402
from emailactions.mime.compose import _cached_text_part, compose  # noqa: E402
from emailactions.params.send import Body, SendRequest  # noqa: E402


def stdlib_message() -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = StdAddress("Jürgen Müller", addr_spec="openidm@example.com")
    msg["To"] = StdAddress("Zoë Ærøskøbing", addr_spec="zoe@example.com")
    msg["Cc"] = "ops@example.com"
    msg["Subject"] = PARAMS["subject"]
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(TEXT)
    msg.add_alternative(HTML, subtype="html")
    return msg.as_bytes()


REQUEST = SendRequest(
    sender=Address("openidm@example.com", "Jürgen Müller"),
    to=(Address("zoe@example.com", "Zoë Ærøskøbing"),),
    cc=(Address("ops@example.com"),),
    subject=PARAMS["subject"],
    bodies=(Body("plain", TEXT), Body("html", HTML)),
)


def ours() -> bytes:
    """One-off message: encoded parts are cached by content, so the cache is
    cleared to measure a message whose body was never seen before."""
    _cached_text_part.cache_clear()
    return compose(REQUEST).data


def ours_repeated() -> bytes:
    """The same body again (a bulk or template send): the encoded parts are reused."""
    return compose(REQUEST).data


def main() -> None:
    print(f"compose, one message: {len(ours())} bytes (stdlib: {len(stdlib_message())} bytes)")
    base = per_call(stdlib_message)
    show("stdlib EmailMessage(policy=SMTP) build + as_bytes()", base)
    show("emailactions compose(), new body", per_call(ours), base, "stdlib")
    show("emailactions compose(), body seen before (bulk)", per_call(ours_repeated), base, "stdlib")
    try:
        from emailactions.host import ActionHost
    except ImportError:  # pragma: no cover
        return
    host = ActionHost({"email": {}, "transports": {"default": {"backend": "memory"}}, "rate_limits": {"enabled": False}}, load_entry_points=False)
    outbox = host.transport().outbox
    params = {k: v for k, v in PARAMS.items() if k not in ("text", "html")}
    params.update(body=HTML, type="text/html")

    def action() -> None:
        _cached_text_part.cache_clear()
        host.action("external/email", "send", params)
        outbox.clear()

    show("action('external/email','send') params -> bytes (memory)", per_call(action), base, "stdlib")
    new_address_per_message(params)


def new_address_per_message(params: dict) -> None:
    """Issue 17 target 1: defaults, a new recipient each time, the body seen before.

    Baselines in the same run: email-validator alone on a new address, and
    the stdlib's EmailMessage for the same message."""
    from itertools import count

    from email_validator import validate_email

    from emailactions.host import ActionHost

    numbers = count()

    def validator_only() -> None:
        validate_email(f"zoe{next(numbers)}@example.com", allow_smtputf8=True, check_deliverability=False)

    hosts = {"defaults": ActionHost({"transports": {"default": {"backend": "memory"}}}, load_entry_points=False),
             "rate limits off": ActionHost({"transports": {"default": {"backend": "memory"}}, "rate_limits": {"enabled": False}},
                                           load_entry_points=False)}
    base = per_call(validator_only)
    show("email-validator alone, new address", base)
    for label, host in hosts.items():
        outbox = host.transport().outbox

        def send() -> None:
            host.action("external/email", "send", {**params, "to": f'"Zoë Ærøskøbing" <zoe{next(numbers)}@example.com>'})
            outbox.clear()

        show(f"send, new address each time, {label}", per_call(send), base, "email-validator alone")


if __name__ == "__main__":
    main()

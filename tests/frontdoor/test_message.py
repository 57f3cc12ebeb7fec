"""The message checks on hostile input: a Submission or a refusal, never anything else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emailactions.config.model import Limits
from emailactions.frontdoor.message import Submission, check, envelope_address
from emailactions.frontdoor.replies import Refused

SENDER = envelope_address("app@example.com", "MAIL FROM")
RCPT = [envelope_address("bob@example.org", "RCPT TO")]
NAMES = st.sampled_from(["From", "To", "Cc", "Sender", "Reply-To", "Subject", "Message-ID", "Bcc", "X-Any", "from"])
VALUES = st.one_of(
    st.text(max_size=80),
    st.text(alphabet='abc@<>",;:()\\=?._ \t-QBqb', max_size=60),
    st.builds(lambda a, b: f"=?utf-8?{a}?{b}?=", st.sampled_from("qQbB"), st.text(alphabet="=0AD9F_x-+/", max_size=30)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, VALUES), max_size=6), st.binary(max_size=40))
def test_any_header_block_is_checked_or_refused(fields, body):
    head = b"".join(f"{name}: {value}".encode("utf-8", "surrogatepass") + b"\r\n" for name, value in fields)
    data = b"From: app@example.com\r\n" + head + b"\r\n" + body
    try:
        result = check(data, SENDER, RCPT, Limits())
    except Refused as refused:
        assert refused.code in (550, 552, 554) and refused.reply.isprintable()
        return
    assert isinstance(result, Submission)
    header = result.message.data.partition(b"\r\n\r\n")[0]
    assert not any(line.lower().startswith(b"bcc:") for line in header.split(b"\r\n"))
    assert result.message.data.endswith(body)


def test_the_client_bytes_are_kept_and_the_bcc_dropped():
    data = b"Message-ID: <m@example.com>\r\nDate: x\r\nFrom: app@example.com\r\nBCC: secret@example.org\r\n\r\nbody"
    result = check(data, SENDER, RCPT, Limits())
    assert result.message.data == b"Message-ID: <m@example.com>\r\nDate: x\r\nFrom: app@example.com\r\n\r\nbody"
    assert result.message.message_id == "<m@example.com>" and result.message.recipients == ("bob@example.org",)

from __future__ import annotations

import io

import pytest

from emailactions.errors import ConfigError
from emailactions.mime.compose import compose
from emailactions.params.addresses import Address
from emailactions.params.send import Body, SendRequest
from emailactions.transports.console import ConsoleTransport, make_visible

from support.transport_contract import TransportContract


class TestConsole(TransportContract):
    def make_transport(self):
        self.stream = io.StringIO()
        return ConsoleTransport(stream=self.stream)

    def host_config(self):
        return {"transports": {"default": {"backend": "console"}}}

    def read_outbox(self):
        # The console shows the message between rules; take the bytes back out.
        chunks = self.stream.getvalue().split("-" * 72 + "\n")
        return [chunks[i].replace("\n", "\r\n").encode() for i in range(2, len(chunks), 3)]

    def test_through_a_host(self, capsys):
        from emailactions import ActionHost

        ActionHost(self.host_config(), load_entry_points=False).action(
            "external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "via host"}
        )
        assert "Subject: via host" in capsys.readouterr().out


def test_control_characters_are_made_visible():
    assert make_visible(b"a\x1b[31mred\x07\r\nnext\rx\xe2\x80\xaeY") == "a\\x1b[31mred\\x07\nnext\\rx\\u202eY"


def test_body_escape_sequences_cannot_reach_the_terminal():
    stream = io.StringIO()
    message = compose(SendRequest(sender=Address("a@example.com"), to=(Address("b@example.com"),),
                                  bodies=(Body("plain", "\x1b]0;pwned\x07 hi"),)))
    ConsoleTransport(stream=stream).send(message)
    assert "\x1b" not in stream.getvalue() and "\x07" not in stream.getvalue()


def small_message():
    return compose(SendRequest(sender=Address("a@example.com"), to=(Address("b@example.com"),), subject="streams"))


def test_stream_option_names_stdout_or_stderr(capsys):
    ConsoleTransport().send(small_message())
    ConsoleTransport(stream="stderr").send(small_message())
    ConsoleTransport(stream="stdout").send(small_message())
    out = capsys.readouterr()
    assert out.out.count("Subject: streams") == 2 and out.err.count("Subject: streams") == 1


def test_stream_from_a_config_file(capsys):
    from emailactions import ActionHost

    config = {"transports": {"default": {"backend": "console", "stream": "stderr"}}}
    with ActionHost(config, load_entry_points=False) as host:
        host.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "to stderr"})
    out = capsys.readouterr()
    assert "Subject: to stderr" in out.err and out.out == ""


def test_unknown_stream_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        ConsoleTransport(stream="stdin")
    assert info.value.key == "stream" and "stdout" in info.value.message

"""The Pythonic API: keyword arguments, typed results and async twins over ``action()``."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import emailactions
from emailactions import ActionHost, Attachment, EmailResult, InvalidParams, RecipientResult, TemplateNotFound
from emailactions import api
from support import wait_for

MEMORY = {
    "email": {"from": "IDM <openidm@example.com>"},
    "transports": {"default": {"backend": "memory"}},
    "rate_limits": {"enabled": False},
}


@pytest.fixture
def host():
    with ActionHost(MEMORY, load_entry_points=False) as host:
        yield host


def test_the_new_names_are_public():
    for name in ("Attachment", "EmailResult", "RecipientResult"):
        assert name in emailactions.__all__
    assert ActionHost.asend.__name__ == "asend" and "event loop" in ActionHost.asend.__doc__


def test_send_builds_the_message_action_would(host):
    result = host.send(
        to=["bjensen@example.com", "Sam Carter <scarter@example.com>"], cc="ops@example.com", bcc="audit@example.com",
        reply_to="help@example.com", subject="Recon report", text="plain", html="<p>html</p>", from_name="Recon",
        headers={"List-Id": "<recon.example.com>"},
        attachments=[Attachment("report.csv", "a,b\n1,2\n"), Attachment("logo.png", b"\x89PNG", "image/png", cid="logo"),
                     {"filename": "raw.bin", "data": b"\x00\x01"}],
    )  # fmt: skip
    mail = host.transport().outbox[-1].parsed()
    assert isinstance(result, EmailResult) and not result.submitted
    assert (result.status, result.message, result.attempts, result.transport) == ("OK", "Email sent", 1, "default")
    assert result.message_id == mail["Message-ID"]
    assert result.accepted == ["bjensen@example.com", "scarter@example.com", "ops@example.com", "audit@example.com"]
    assert result.envelope == {"from": "openidm@example.com", "to": result.accepted} and result.refused == {}
    assert str(mail["From"]) == "Recon <openidm@example.com>" and str(mail["Reply-To"]) == "help@example.com"
    assert mail["Bcc"] is None and str(mail["List-Id"]) == "<recon.example.com>"
    assert mail.get_body(("plain",)).get_content().strip() == "plain"
    parts = {p.get_filename(): p for p in mail.walk() if p.get_filename()}
    assert parts["report.csv"].get_payload(decode=True) == b"a,b\n1,2\n"
    assert parts["report.csv"].get_content_type() == "text/csv"  # guessed from the name
    assert parts["logo.png"]["Content-ID"] == "<logo>" and parts["raw.bin"].get_payload(decode=True) == b"\x00\x01"


def test_result_to_dict_is_what_action_returns(host):
    typed = host.send(to="a@example.com", subject="s", text="t")
    raw = host.action("external/email", "send", {"to": "a@example.com", "subject": "s", "text": "t"})
    assert typed.to_dict().keys() == raw.keys()
    assert EmailResult.from_dict(raw).to_dict() == raw
    assert EmailResult.from_dict(raw).message_id == raw["messageId"]


def test_same_validation_and_errors_as_action(host):
    with pytest.raises(InvalidParams) as typed:
        host.send(to="not an address", subject="s")
    with pytest.raises(InvalidParams) as raw:
        host.action("external/email", "send", {"to": "not an address", "subject": "s"})
    assert typed.value.to_dict() == raw.value.to_dict() and typed.value.param == "to"
    with pytest.raises(InvalidParams) as bad:
        host.send(to="a@example.com", headers={"X-Mailer": "mine"})
    assert bad.value.param.startswith("headers")
    with pytest.raises(TemplateNotFound):
        host.send_template("nope", to="a@example.com")
    assert host.transport().outbox == []


def test_send_template_renders_in_the_locale_asked(example_config):
    with ActionHost(example_config, load_entry_points=False) as host:
        result = host.send_template("welcome", to="bjensen@example.com", object={"userName": "bjensen"}, locale="fr")
        by_header = host.send_template("welcome", to="b@example.com", object={"userName": "b"}, accept_language="fr-CA")
        mail = host.transport().outbox[0].parsed()
    assert (result.template_name, result.locale, result.locales["subject"]) == ("welcome", "fr", "fr")
    assert by_header.locale == "fr"
    assert str(mail["Subject"]) == "Votre compte a été créé" and "bjensen" in mail.get_body(("html",)).get_content()


def test_separate_send_gives_typed_recipient_results(smtp_host, smtp_server):
    smtp_server.handler.rcpt_reply = lambda address: "550 no such user" if address.startswith("gone") else None
    result = smtp_host.send(to=["a@example.com", "gone@example.com"], subject="s", text="t", separately=True)
    assert (result.count, result.sent, result.failed) == (2, 1, 1)
    ok, failed = result.results
    assert isinstance(ok, RecipientResult) and (ok.address, ok.status) == ("a@example.com", "sent") and ok.message_id
    assert (failed.status, failed.error["code"]) == ("failed", 502) and failed.message_id is None


def test_wait_false_commits_to_the_outbox_then_delivers(outbox_host, smtp_server):
    result = outbox_host.send(to="a@example.com", subject="queued", text="t", wait=False)
    assert result.submitted and result.message == "Email submitted" and result.outbox_id and result.state == "queued"
    wait_for(lambda: smtp_server.messages)
    assert smtp_server.messages[0].message["Message-ID"] == result.message_id


def test_async_twins_send_without_blocking_the_loop(smtp_host, smtp_server, example_conf_smtp):
    smtp_server.handler.stall = lambda received: 0.3

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        with ActionHost(example_conf_smtp, load_entry_points=False) as idm:
            results = await asyncio.gather(
                smtp_host.asend(to="a@example.com", subject="one", text="t"),
                smtp_host.aaction("external/email", "send", {"to": "b@example.com", "subject": "two"}),
                idm.asend_template("welcome", to="c@example.com", object={"userName": "c"}),
            )
        beat.cancel()
        return results, ticks

    (one, two, three), ticks = asyncio.run(main())
    assert ticks >= 10  # the loop ran all along while the server stalled each send
    assert one.message == "Email sent" and two["message"] == "Email sent" and three.template_name == "welcome"
    assert sorted(m.message["Subject"] for m in smtp_server.messages) == ["Your account has been created", "one", "two"]


def test_cancelling_a_started_send_lets_it_finish_whole(smtp_host, smtp_server, caplog):
    at_data = threading.Event()

    def stall(received):
        at_data.set()  # the whole message is at the server, the reply not yet sent
        return 0.4

    smtp_server.handler.stall = stall

    async def main():
        task = asyncio.create_task(smtp_host.asend(to="a@example.com", subject="cancelled", text="t"))
        await asyncio.get_running_loop().run_in_executor(None, at_data.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.INFO, logger="emailactions"):
        asyncio.run(main())
        wait_for(lambda: "cancelled completed" in caplog.text)
    assert [m.message["Subject"] for m in smtp_server.messages] == ["cancelled"]


def test_cancelling_a_send_still_waiting_for_a_thread_sends_nothing(host, monkeypatch):
    monkeypatch.setattr(api, "_pool", ThreadPoolExecutor(max_workers=1))
    release = threading.Event()
    api._pool.submit(release.wait, 5)  # the only thread is busy

    async def main():
        task = asyncio.create_task(host.asend(to="a@example.com", subject="never"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        return await host.asend(to="a@example.com", subject="after")  # the pool still works

    after = asyncio.run(main())
    api._pool.shutdown()
    assert [m.parsed()["Subject"] for m in host.transport().outbox] == ["after"] and after.message == "Email sent"

"""Tests written with the emailactions pytest plugin (installed with the package).

Run them with ``python -m pytest examples/test_with_plugin.py``. The plugin's
fixtures: ``emailactions_host`` (memory transport, no third-party plugins),
``emailactions_outbox`` (what it sent) and ``emailactions_config`` (override
it to change the host's config, as here to add IDM templates).
"""

from pathlib import Path

import pytest

from emailactions import InvalidParams

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture
def emailactions_config():
    # The plugin's default (memory transport, no rate limits) plus the example templates.
    return {
        "email": {"from": "IDM <openidm@example.com>", "conf": str(Path(__file__).parent / "conf")},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"enabled": False},
    }


def test_send_action(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", {
        "to": "bjensen@example.com", "bcc": "audit@example.com",
        "subject": "Welcome", "type": "text/html", "body": "<p>Hello Babs</p>",
    })
    mail = emailactions_outbox.assert_sent(to="bjensen@example.com", subject="Welcome")
    assert "<p>Hello Babs</p>" in mail.html
    assert mail.bcc == ["audit@example.com"]  # envelope only, never a header


def test_idm_script_sends_french_welcome(emailactions_host, emailactions_outbox):
    emailactions_host.run_script(SCRIPTS / "send-template-welcome.js")
    mail = emailactions_outbox.assert_sent(1, template="welcome", locale="fr")
    assert mail.subject == "Votre compte a été créé"
    assert "Bienvenue" in mail.html


def test_accept_language_reaches_the_script(emailactions_host, emailactions_outbox):
    emailactions_host.run_script(SCRIPTS / "send-template-hello.py", accept_language="fr-CA, fr;q=0.9")
    emailactions_outbox.assert_sent(locale="fr", subject="Bonjour Hilda", text="Bonjour Hilda Gale")


def test_attachments(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", {
        "to": "bjensen@example.com", "subject": "Report", "body": "See attached.",
        "attachments": [{"filename": "report.csv", "fileType": "text/csv", "data": "YSxiCjEsMgo="}],
    })
    [attachment] = emailactions_outbox.assert_sent(attachment="report.csv").attachments
    assert attachment.data == b"a,b\n1,2\n"


def test_bad_address_sends_nothing(emailactions_host, emailactions_outbox):
    with pytest.raises(InvalidParams) as info:
        emailactions_host.run_script('openidm.action("external/email", "send", {to: "not an address"})', language="javascript")
    assert info.value.to_dict()["message"] == "Bad To: email address"
    emailactions_outbox.assert_not_sent()

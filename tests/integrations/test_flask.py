"""The Flask extension: a real app, its test client, a real SMTP server, and the pytest plugin's capture."""

from __future__ import annotations

from typing import Any, Iterator

import flask
import pytest

from emailactions import EmailActionsError
from emailactions.integrations.flask import EmailActions

mail = EmailActions()


def create_app(config: Any) -> Any:
    """A small app as a user writes one: routes send through the extension."""
    app = flask.Flask(__name__)
    app.config["EMAILACTIONS_CONFIG"] = config
    mail.init_app(app)

    @app.post("/signup")
    def signup() -> Any:
        result = mail.send_template("welcome", to=flask.request.form["email"], object={"userName": flask.request.form["user"]},
                                    accept_language=flask.request.headers.get("Accept-Language"))  # fmt: skip
        return result.to_dict()

    @app.post("/contact")
    def contact() -> Any:
        return mail.send(to=flask.request.form["to"], subject="Contact", text=flask.request.form["text"]).to_dict()

    @app.post("/contact-async")
    async def contact_async() -> Any:
        result = await mail.asend(to=flask.request.form["to"], subject="Async contact", text="t")
        return {"messageId": result.message_id}

    @app.errorhandler(EmailActionsError)
    def refused(error: EmailActionsError) -> Any:
        return error.to_dict(), error.code

    return app


@pytest.fixture
def apps() -> Iterator[list[Any]]:
    """Apps built by a test; their hosts are closed after it."""
    built: list[Any] = []
    yield built
    for app in built:
        app.extensions["emailactions"].close()


@pytest.fixture
def app(apps, example_conf_smtp):
    app = create_app(str(example_conf_smtp))  # an IDM conf/ folder, its relay the test SMTP server
    apps.append(app)
    return app


def test_routes_send_through_the_apps_host(app, smtp_server):
    client = app.test_client()
    signup = client.post("/signup", data={"email": "bjensen@example.com", "user": "bjensen"}, headers={"Accept-Language": "fr"})
    contact = client.post("/contact", data={"to": "ops@example.com", "text": "Hello"})
    assert signup.status_code == 200 and signup.json["templateName"] == "welcome" and signup.json["locale"] == "fr"
    assert contact.status_code == 200 and contact.json["message"] == "Email sent"
    assert [(m.rcpt_tos, str(m.message["Subject"])) for m in smtp_server.messages] == [
        (["bjensen@example.com"], "Votre compte a été créé"),
        (["ops@example.com"], "Contact"),
    ]
    assert smtp_server.messages[1].message["Message-ID"] == contact.json["messageId"]


def test_async_view_awaits_asend(app, smtp_server):
    response = app.test_client().post("/contact-async", data={"to": "a@example.com"})
    assert response.status_code == 200
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [response.json["messageId"]]


def test_errors_are_typed_and_nothing_is_sent(app, smtp_server):
    response = app.test_client().post("/contact", data={"to": "not an address", "text": "x"})
    assert response.status_code == 400 and response.json["detail"]["param"] == "to"
    assert smtp_server.messages == []


def test_a_host_per_app(apps, tmp_path, smtp_server):
    toml = tmp_path / "emailactions.toml"
    toml.write_text('[email]\nfrom = "app@example.com"\n[transports.default]\nbackend = "file"\npath = "%s"\n' % (tmp_path / "out"), encoding="utf-8")
    to_files = create_app(str(toml))
    to_smtp = create_app({"email": {"from": "app@example.com"},
                          "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port}}})  # fmt: skip
    apps.extend([to_files, to_smtp])
    assert to_files.extensions["emailactions"] is not to_smtp.extensions["emailactions"]
    assert to_files.test_client().post("/contact", data={"to": "a@example.com", "text": "file"}).status_code == 200
    assert to_smtp.test_client().post("/contact", data={"to": "b@example.com", "text": "smtp"}).status_code == 200
    assert len(list((tmp_path / "out").glob("*.eml"))) == 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [["b@example.com"]]
    with to_smtp.app_context():
        assert mail.host is to_smtp.extensions["emailactions"]


def test_without_init_app_the_helpers_say_so(apps):
    other = flask.Flask("other")
    with other.app_context(), pytest.raises(RuntimeError, match="init_app"):
        mail.send(to="a@example.com")


@pytest.mark.emailactions_deliver(False)
def test_the_pytest_plugin_captures_the_apps_mail(app, smtp_server, emailactions_outbox):
    app.test_client().post("/signup", data={"email": "bjensen@example.com", "user": "bjensen"})
    sent = emailactions_outbox.assert_sent(1, to="bjensen@example.com", template="welcome", locale="en")
    assert "bjensen" in sent.html
    assert smtp_server.messages == []  # captured, never delivered

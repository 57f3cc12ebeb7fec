"""How an application uses the typed API; tests/integrations/test_typing.py runs ``mypy --strict``
on it, and runs it."""

from __future__ import annotations

from flask import Flask

from emailactions import ActionHost, Attachment, EmailActionsError, EmailResult, RecipientResult
from emailactions.integrations.flask import EmailActions


def notify(host: ActionHost, address: str) -> str | None:
    result: EmailResult = host.send(
        to=[address, "Ops <ops@example.com>"],
        subject="Recon report",
        text="Recon report follows...",
        html="<p>Recon report follows...</p>",
        attachments=[Attachment("report.csv", b"a,b\n", "text/csv"), {"filename": "x.txt", "data": b"x"}],
        headers={"List-Id": "<recon.example.com>"},
        wait=False,
    )
    if result.submitted:
        outbox_id: int | None = result.outbox_id
        print(outbox_id)
    return result.message_id


def welcome(host: ActionHost, addresses: list[str]) -> list[str]:
    try:
        result = host.send_template("welcome", to=addresses, object={"userName": "bjensen"}, locale="fr", separately=True)
    except EmailActionsError as error:
        return [str(error.to_dict()["message"])]
    outcomes: list[RecipientResult] = result.results or []
    return [f"{r.address}: {r.status}" for r in outcomes]


async def notify_async(host: ActionHost) -> int:
    sent = await host.asend(to="a@example.com", subject="hi", text="t")
    templated = await host.asend_template("welcome", to="b@example.com", object={"userName": "b"})
    raw = await host.aaction("external/email", "send", {"to": "c@example.com"}, wait_for_completion=True)
    return len([sent.message_id, templated.locale, raw["message"]])


mail = EmailActions()


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["EMAILACTIONS_CONFIG"] = {"email": {"from": "app@example.com"}, "transports": {"default": {"backend": "memory"}}}
    mail.init_app(app)

    @app.post("/contact")
    def contact() -> dict[str, object]:
        result: EmailResult = mail.send(to="ops@example.com", subject="Contact", text="Hello")
        return result.to_dict()

    return app


"""FusionAuth's email API as its document says: UUID ids, required fields, empty 404s,
``"errors": {}``; templates under names (folder, IDM) stay usable; and every example
request of the document, verbatim, against an ``emailactions serve`` process."""

from __future__ import annotations

import copy
import uuid

import httpx
import pytest

from support import wait_for
from support.server import API_KEY, FA_AUTH, Serve, copy_conf, write_config
from support.smtp_server import free_port

#: The document's example request body for create and update, verbatim.
EXAMPLE_TEMPLATE = {
    "emailTemplate": {
        "defaultFromName": "Administrator",
        "defaultHtmlTemplate": "<p>Hello ${user.username}</p><p>Welcome To FusionAuth!</p>",
        "defaultSubject": "Hello World",
        "defaultTextTemplate": "Hello ${user.username},\nWelcome To FusionAuth!",
        "fromEmail": "email@example.com",
        "localizedFromNames": {"de": "Verwalter", "fr": "Administrateur"},
        "localizedHtmlTemplates": {
            "de": "<p>Hallo ${user.username}</p><p>Willkommen auf der FusionAuth!<p>",
            "fr": "<p>Bonjour ${user.username}</p><p>Bienvenue à FusionAuth!<p>",
        },
        "localizedSubjects": {"de": "Hallo Welt", "fr": "Bonjour le monde"},
        "localizedTextTemplates": {
            "de": "Hallo ${user.username},\nWillkommen auf der FusionAuth!",
            "fr": "Bonjour ${user.username},\nBienvenue à FusionAuth!",
        },
        "name": "Hello World",
    }
}
#: The id of the document's example responses.
EXAMPLE_ID = "00000000-0000-0000-0000-0000000000ab"
EXAMPLE_SEARCH = {"search": {"name": "Hello", "numberOfResults": 25, "orderBy": "insertInstant", "startRow": 0}}
EXAMPLE_PREVIEW = {"emailTemplate": {k: v for k, v in EXAMPLE_TEMPLATE["emailTemplate"].items() if k != "name"}, "locale": "de"}
EXAMPLE_SEND = {
    "bccAddresses": ["jared@piedpiper.com"],
    "ccAddresses": ["james@bond.com"],
    "requestData": {"message": "Thank you for purchasing the answer to the universe. We appreciate your business", "paymentAmount": 42},
    "toAddresses": [{"address": "accounting@piedpiper.com", "display": "Piped Piper Accounting"}, {"address": "sales@piedpiper.com"}],
    "userIds": ["ce485a91-906f-4615-af75-81d37dc71e90"],
}
TEMPLATE = EXAMPLE_TEMPLATE["emailTemplate"]


# -- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, body_id, field", [
    ("/api/email/template/reset", None, "emailTemplateId"),
    ("/api/email/template/{00000000-0000-0000-0000-0000000000ab}", None, "emailTemplateId"),
    ("/api/email/template/000000000000000000000000000000ab", None, "emailTemplateId"),
    ("/api/email/template", "reset", "emailTemplate.id"),
    ("/api/email/template", 42, "emailTemplate.id"),
    ("/api/email/template/5b6f5c2e-1d1e-4c55-9b43-0c0e1f3a2d11", "reset", "emailTemplate.id"),
])  # fmt: skip
def test_a_given_id_that_is_not_a_uuid_is_refused(client, path, body_id, field):
    body = {**TEMPLATE, **({"id": body_id} if body_id is not None else {})}
    refused = client.post(path, headers=FA_AUTH, json={"emailTemplate": body})
    assert refused.status_code == 400 and list(refused.json()["fieldErrors"]) == [field], refused.text
    assert refused.json()["fieldErrors"][field][0]["code"] == f"[invalid]{field}"
    assert client.get("/api/email/template/reset", headers=FA_AUTH).status_code == 404
    assert not any(t["name"] == "Hello World" for t in client.get("/api/email/template", headers=FA_AUTH).json()["emailTemplates"])


def test_every_problem_of_a_create_is_reported_at_once(client):
    refused = client.post("/api/email/template/reset", headers=FA_AUTH, json={"emailTemplate": {"defaultSubject": "Hi"}})
    assert refused.status_code == 400
    assert list(refused.json()["fieldErrors"]) == ["emailTemplateId", "emailTemplate.name", "emailTemplate.defaultHtmlTemplate",
                                                   "emailTemplate.defaultTextTemplate"]  # fmt: skip


def test_ids_are_generated_or_taken_as_given(client):
    generated = client.post("/api/email/template", headers=FA_AUTH, json=EXAMPLE_TEMPLATE).json()["emailTemplate"]["id"]
    assert uuid.UUID(generated).version == 4 and str(uuid.UUID(generated)) == generated
    upper = "5B6F5C2E-1D1E-4C55-9B43-0C0E1F3A2D11"
    given = client.post(f"/api/email/template/{upper}", headers=FA_AUTH, json={"emailTemplate": {**TEMPLATE, "id": upper}})
    assert given.status_code == 200 and given.json()["emailTemplate"]["id"] == upper.lower()  # as FusionAuth writes UUIDs
    in_body = str(uuid.uuid4())
    assert client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": {**TEMPLATE, "id": in_body}}).json()["emailTemplate"]["id"] == in_body
    taken = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": {**TEMPLATE, "id": in_body}})
    assert taken.status_code == 400 and taken.json()["fieldErrors"]["emailTemplate.id"][0]["code"] == "[duplicate]emailTemplate.id"
    for template_id in (generated, upper.lower(), in_body):
        assert client.delete(f"/api/email/template/{template_id}", headers=FA_AUTH).status_code == 200


# -- required fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["name", "defaultSubject", "defaultHtmlTemplate", "defaultTextTemplate"])
def test_create_and_update_require_what_the_document_marks_required(client, missing):
    for value in (None, "", " \t"):
        body = {k: v for k, v in TEMPLATE.items() if k != missing}
        if value is not None:
            body[missing] = value
        created = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": body})
        field = f"emailTemplate.{missing}"
        assert created.status_code == 400 and created.json() == {"fieldErrors": {field: [
            {"code": f"[blank]{field}", "message": f"You must specify the [{field}] property."}]}}  # fmt: skip
        updated = client.put("/api/email/template/welcome", headers=FA_AUTH, json={"emailTemplate": body})
        assert updated.status_code == 400 and list(updated.json()["fieldErrors"]) == [field]
    # Optional ones may be left out.
    optional = {k: TEMPLATE[k] for k in ("name", "defaultSubject", "defaultHtmlTemplate", "defaultTextTemplate")}
    created = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": optional})
    assert created.status_code == 200
    assert client.delete(f"/api/email/template/{created.json()['emailTemplate']['id']}", headers=FA_AUTH).status_code == 200


@pytest.mark.parametrize("missing", ["defaultFromName", "defaultSubject", "defaultHtmlTemplate", "defaultTextTemplate", "fromEmail"])
def test_preview_requires_what_the_document_marks_required(client, missing):
    body = copy.deepcopy(EXAMPLE_PREVIEW)
    del body["emailTemplate"][missing]
    refused = client.post("/api/email/template/preview", headers=FA_AUTH, json=body)
    assert refused.status_code == 400 and list(refused.json()["fieldErrors"]) == [f"emailTemplate.{missing}"]
    assert refused.json()["fieldErrors"][f"emailTemplate.{missing}"][0]["code"] == f"[blank]emailTemplate.{missing}"


def test_a_merge_patch_needs_only_what_it_changes(client):
    patched = client.patch("/api/email/template/welcome", headers=FA_AUTH, json={"emailTemplate": {"defaultFromName": "Team"}})
    assert patched.status_code == 200 and patched.json()["emailTemplate"]["defaultFromName"] == "Team"


# -- templates under names, and empty 404s -------------------------------------------------------


def test_templates_under_names_stay_readable_previewable_and_sendable(client, smtp_server):
    welcome = client.get("/api/email/template/welcome", headers=FA_AUTH)
    assert welcome.status_code == 200 and welcome.json()["emailTemplate"]["id"] == "welcome"
    found = client.get("/api/email/template/search", headers=FA_AUTH, params={"name": "welcome"}).json()
    assert "welcome" in [t["id"] for t in found["emailTemplates"]]
    preview = client.post("/api/email/template/preview", headers=FA_AUTH,
                          json={"emailTemplateId": "welcome", "requestData": {"userName": "bjensen"}})  # fmt: skip
    assert preview.status_code == 200 and preview.json()["errors"] == {} and "bjensen" in preview.json()["email"]["subject"] + preview.json()["email"]["html"]
    sent = client.post("/api/email/send/welcome?waitForCompletion=true", headers=FA_AUTH,
                       json={"toAddresses": [{"address": "bjensen@example.com"}], "requestData": {"userName": "bjensen"}})  # fmt: skip
    assert sent.status_code == 202 and sent.json()["sent"] == 1, sent.text
    assert [m.rcpt_tos for m in smtp_server.messages] == [["bjensen@example.com"]]


UNKNOWN = "9d1c8e7a-0b5f-4a3e-8c2d-1f6e7a8b9c0d"


@pytest.mark.parametrize("method, path, body", [
    ("GET", f"/api/email/template/{UNKNOWN}", None),
    ("GET", "/api/email/template/no-such-name", None),
    ("PUT", f"/api/email/template/{UNKNOWN}", EXAMPLE_TEMPLATE),
    ("PATCH", f"/api/email/template/{UNKNOWN}", {"emailTemplate": {"name": "x"}}),
    ("DELETE", f"/api/email/template/{UNKNOWN}", None),
    ("POST", f"/api/email/send/{UNKNOWN}", {"toAddresses": [{"address": "a@example.com"}]}),
    ("POST", "/api/email/template/preview", {"emailTemplateId": UNKNOWN}),
])  # fmt: skip
def test_404_has_an_empty_body(client, smtp_server, method, path, body):
    reply = client.request(method, path, headers=FA_AUTH, json=body)
    assert reply.status_code == 404 and reply.content == b"", reply.text
    assert smtp_server.messages == []


# -- the document's examples, verbatim, against `emailactions serve` ----------------------------


def _documented_keys(template):
    """The response fields the document shows (ours add engine, enabled, defaultLocale)."""
    return {k: v for k, v in template.items() if k in TEMPLATE or k == "id"}


def test_every_documented_example_against_emailactions_serve(smtp_server, tmp_path):
    port = free_port()
    copy_conf(tmp_path)
    config = write_config(tmp_path, smtp_server.port, port, extra=f"""
[server.api_keys.docs]
key = "{API_KEY}"
permissions = ["templates", "preview", "sendTemplate"]
[groups]
# No user store: the example's userId is resolved by resolve_recipients, here from [groups].
"ce485a91-906f-4615-af75-81d37dc71e90" = ["Richard Hendricks <richard@piedpiper.com>"]
""")  # fmt: skip
    config.write_text(config.read_text().replace("[email]\n", '[email]\nconf = "conf"\n', 1))
    serve = Serve(config, port)
    api = f"{serve.url}/api/email"
    try:
        with httpx.Client(timeout=20, headers={"Authorization": API_KEY}) as http:
            created = http.post(f"{api}/template/{EXAMPLE_ID}", json=EXAMPLE_TEMPLATE)
            assert created.status_code == 200, created.text
            template = created.json()["emailTemplate"]
            assert _documented_keys(template) == {**TEMPLATE, "id": EXAMPLE_ID}
            assert template["insertInstant"] == template["lastUpdateInstant"] > 1_500_000_000_000

            assert http.get(f"{api}/template/{EXAMPLE_ID}").json() == {"emailTemplate": template}
            assert template in http.get(f"{api}/template").json()["emailTemplates"]
            # "Hello" is *Hello*: the conf folder's "hello" template matches too.
            for found in (http.post(f"{api}/template/search", json=EXAMPLE_SEARCH).json(), http.get(f"{api}/template/search?name=Hello").json()):
                assert template in found["emailTemplates"] and [t["id"] for t in found["emailTemplates"]] == ["hello", EXAMPLE_ID]
                assert found["total"] == 2
            generated = http.post(f"{api}/template", json=EXAMPLE_TEMPLATE).json()["emailTemplate"]["id"]
            assert generated != EXAMPLE_ID and http.delete(f"{api}/template/{generated}").status_code == 200

            updated = http.put(f"{api}/template/{EXAMPLE_ID}", json=EXAMPLE_TEMPLATE)
            assert updated.status_code == 200 and _documented_keys(updated.json()["emailTemplate"]) == {**TEMPLATE, "id": EXAMPLE_ID}
            assert updated.json()["emailTemplate"]["insertInstant"] == template["insertInstant"]

            preview = http.post(f"{api}/template/preview", json=EXAMPLE_PREVIEW)
            assert preview.status_code == 200, preview.text
            email = preview.json()["email"]
            assert email["from"] == {"address": "email@example.com", "display": "Verwalter"} and email["subject"] == "Hallo Welt"
            assert email["html"] == "<p>Hallo </p><p>Willkommen auf der FusionAuth!<p>" and preview.json()["errors"] == {}

            sent = http.post(f"{api}/send/{EXAMPLE_ID}", json=EXAMPLE_SEND)
            assert sent.status_code == 202 and sent.json()["anonymousResults"] == {} and sent.json()["results"] == {}, sent.text
            # Queued (the outbox), as FusionAuth queues: one message per recipient, each with the cc and bcc.
            wait_for(lambda: len(smtp_server.messages) == 3, timeout=20)
            by_to = {m.message["To"]: m for m in smtp_server.messages}
            assert set(by_to) == {"Piped Piper Accounting <accounting@piedpiper.com>", "sales@piedpiper.com",
                                  "Richard Hendricks <richard@piedpiper.com>"}  # fmt: skip
            for received in by_to.values():
                assert received.message["Cc"] == "james@bond.com" and "jared@piedpiper.com" in received.rcpt_tos
                assert received.message["Subject"] == "Hello World" and received.message["From"] == "Administrator <email@example.com>"

            deleted = http.delete(f"{api}/template/{EXAMPLE_ID}")
            assert deleted.status_code == 200 and deleted.content == b""
            gone = http.get(f"{api}/template/{EXAMPLE_ID}")
            assert gone.status_code == 404 and gone.content == b""
            unauthorized = httpx.get(f"{api}/template", timeout=20)
            assert unauthorized.status_code == 401 and unauthorized.content == b""
    finally:
        status, log = serve.stop()
    assert status == 0 and "Traceback" not in log, log[-3000:]

"""FusionAuth-style routes over real HTTP with an API key: the template
lifecycle (create, search, preview, send, delete), then each route's rules."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from support import wait_for

from support.server import FA_AUTH, IDM_AUTH, SENDER_KEY, start

RESET = {
    "name": "Password reset",
    "fromEmail": "support@example.com",
    "defaultLocale": "en",
    "defaultSubject": "Reset your password, {{object.givenName}}",
    "localizedSubjects": {"fr": "Réinitialisez votre mot de passe, {{object.givenName}}"},
    "defaultHtmlTemplate": "<p>Hi {{object.givenName}}, click <a href='{{object.url}}'>here</a>.</p>",
    "localizedHtmlTemplates": {"fr": "<p>Bonjour {{object.givenName}}</p>"},
    "defaultTextTemplate": "Hi {{object.givenName}}: {{object.url}}",
    "defaultFromName": "Support",
}


def test_template_lifecycle_with_an_api_key(client, smtp_server):
    # create without an id: one is generated
    created = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": RESET})
    assert created.status_code == 200, created.text
    template = created.json()["emailTemplate"]
    template_id = template["id"]
    assert len(template_id) == 36 and template["name"] == "Password reset" and template["insertInstant"] > 0

    # search, by GET and by POST
    found = client.get("/api/email/template/search", headers=FA_AUTH, params={"name": "password*"}).json()
    assert found["total"] == 1 and found["emailTemplates"][0]["id"] == template_id
    found = client.post("/api/email/template/search", headers=FA_AUTH,
                        json={"search": {"name": "reset", "numberOfResults": 10, "orderBy": "name DESC"}}).json()  # fmt: skip
    assert [t["id"] for t in found["emailTemplates"]] == [template_id]

    # preview the stored template in French
    preview = client.post("/api/email/template/preview", headers=FA_AUTH,
                          json={"emailTemplateId": template_id, "locale": "fr", "requestData": {"givenName": "Hilda"}}).json()  # fmt: skip
    assert preview["email"]["subject"] == "Réinitialisez votre mot de passe, Hilda"
    assert preview["email"]["from"] == {"address": "support@example.com", "display": "Support"}
    assert preview["errors"] == {}  # as FusionAuth's example response: no errors is an empty object

    # send to two recipients with display names, a cc and a bcc: 202, one message each
    sent = client.post(f"/api/email/send/{template_id}?waitForCompletion=true", headers=FA_AUTH, json={
        "toAddresses": [{"address": "hilda@example.com", "display": "Hilda Gale"}, {"address": "sam@example.com", "display": "Sam Ross"}],
        "ccAddresses": ["audit@example.com"], "bccAddresses": ["archive@example.com"],
        "requestData": {"givenName": "Friend", "url": "https://example.com/r?a=1&b=2"}, "preferredLanguages": ["en"],
    })  # fmt: skip
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert body["anonymousResults"] == {} and body["sent"] == 2 and body["failed"] == 0
    assert len(smtp_server.messages) == 2
    first = smtp_server.messages[0]
    msg = first.message
    assert msg["To"] in ("Hilda Gale <hilda@example.com>", "Sam Ross <sam@example.com>")
    assert msg["Cc"] == "audit@example.com" and msg["Bcc"] is None and "archive@example.com" in first.rcpt_tos
    assert msg["From"] == "Support <support@example.com>" and msg["Subject"] == "Reset your password, Friend"
    html = msg.get_body(("html",)).get_content()
    assert "https://example.com/r?a=1&amp;b=2" in html  # escaped in HTML

    # delete: 200 without a body, then 404
    deleted = client.delete(f"/api/email/template/{template_id}", headers=FA_AUTH)
    assert deleted.status_code == 200 and deleted.content == b""
    gone = client.get(f"/api/email/template/{template_id}", headers=FA_AUTH)
    assert gone.status_code == 404 and gone.content == b""  # "The response will be empty."


RESET_ID = "5e7c1a52-3b0d-4c35-9d7e-2f0a6a1c9b10"


def test_create_with_id_retrieve_replace_patch(client):
    created = client.post(f"/api/email/template/{RESET_ID}", headers=FA_AUTH, json={"emailTemplate": RESET})
    assert created.status_code == 200 and created.json()["emailTemplate"]["id"] == RESET_ID
    again = client.post(f"/api/email/template/{RESET_ID}", headers=FA_AUTH, json={"emailTemplate": RESET})
    # FusionAuth's create answers 200, 400, 401 or 500: a taken id is a 400 naming the id.
    assert again.status_code == 400
    assert again.json()["fieldErrors"]["emailTemplateId"][0]["code"] == "[duplicate]emailTemplateId"
    assert client.get(f"/api/email/template/{RESET_ID}", headers=FA_AUTH).json()["emailTemplate"]["defaultFromName"] == "Support"
    everything = client.get("/api/email/template", headers=FA_AUTH).json()["emailTemplates"]
    assert {"hello", "welcome", RESET_ID} <= {t["id"] for t in everything}

    # PUT needs what create needs ("You must specify all of the properties").
    partial = client.put(f"/api/email/template/{RESET_ID}", headers=FA_AUTH, json={"emailTemplate": {"defaultSubject": "Only this", "defaultTextTemplate": "t"}})
    assert partial.status_code == 400 and sorted(partial.json()["fieldErrors"]) == ["emailTemplate.defaultHtmlTemplate", "emailTemplate.name"]
    replaced = client.put(f"/api/email/template/{RESET_ID}", headers=FA_AUTH, json={"emailTemplate": {
        "name": "Only", "defaultSubject": "Only this", "defaultTextTemplate": "t", "defaultHtmlTemplate": "<p>t</p>"}})  # fmt: skip
    assert replaced.status_code == 200
    replaced_t = replaced.json()["emailTemplate"]
    assert replaced_t["defaultSubject"] == "Only this" and "localizedSubjects" not in replaced_t and "defaultFromName" not in replaced_t

    patched = client.patch(f"/api/email/template/{RESET_ID}", headers={**FA_AUTH, "Content-Type": "application/merge-patch+json"},
                           content=b'{"emailTemplate": {"localizedSubjects": {"fr": "Seulement"}, "defaultTextTemplate": null, "defaultHtmlTemplate": "<b>x</b>"}}')  # fmt: skip
    assert patched.status_code == 200, patched.text
    patched_t = patched.json()["emailTemplate"]
    assert patched_t["defaultSubject"] == "Only this" and patched_t["localizedSubjects"] == {"fr": "Seulement"}
    assert "defaultTextTemplate" not in patched_t and patched_t["defaultHtmlTemplate"] == "<b>x</b>"
    assert patched_t["lastUpdateInstant"] > replaced_t["lastUpdateInstant"] - 1
    assert client.delete(f"/api/email/template/{RESET_ID}", headers=FA_AUTH).status_code == 200


def test_field_errors(client):
    bad = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": {"defaultSubject": 3}})
    assert bad.status_code == 400
    assert list(bad.json()["fieldErrors"]) == ["emailTemplate.defaultSubject"]
    broken = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": {"defaultSubject": "{{#each}}"}})
    assert broken.status_code == 400
    [error] = broken.json()["fieldErrors"]["emailTemplate.defaultSubject"]
    assert error["code"] == "[render_error]emailTemplate.defaultSubject" and "does not compile" in error["message"]
    unwrapped = client.post("/api/email/template", headers=FA_AUTH, json={"defaultSubject": "x"})
    assert unwrapped.status_code == 400 and "defaultSubject" in unwrapped.json()["fieldErrors"]
    # Found by the fuzzer: a non-string id in the body used to reach the header checks (500).
    odd_id = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": {**DOCUMENTED, "id": [None, None]}})
    assert odd_id.status_code == 400 and list(odd_id.json()["fieldErrors"]) == ["emailTemplate.id"]
    order = client.get("/api/email/template/search", headers=FA_AUTH, params={"orderBy": "color ASC"})
    assert order.status_code == 400 and "search.orderBy" in order.json()["fieldErrors"]


EMPTY_ID = "0f3b8c1e-9a4d-4e57-8b2c-6d1e0a9f7c34"
PARTS = ["emailTemplate.defaultSubject", "emailTemplate.defaultHtmlTemplate", "emailTemplate.defaultTextTemplate"]


@pytest.mark.parametrize("template, blank", [({}, ["emailTemplate.name", *PARTS]), ({"name": "Empty"}, PARTS),
                                             ({"name": "Blank", "defaultSubject": "", "localizedTextTemplates": {"de": " "}}, PARTS)])  # fmt: skip
def test_a_template_without_subject_or_body_is_refused(client, template, blank):
    created = client.post(f"/api/email/template/{EMPTY_ID}", headers=FA_AUTH, json={"emailTemplate": template})
    # The fields FusionAuth's document marks required, each as its [blank] field error.
    assert created.status_code == 400 and list(created.json()["fieldErrors"]) == blank
    assert all(errors == [{"code": f"[blank]{field}", "message": f"You must specify the [{field}] property."}]
               for field, errors in created.json()["fieldErrors"].items())  # fmt: skip
    assert client.get(f"/api/email/template/{EMPTY_ID}", headers=FA_AUTH).status_code == 404
    generated = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": template})
    assert generated.status_code == 400
    before = client.get("/api/email/template/welcome", headers=FA_AUTH).json()
    replaced = client.put("/api/email/template/welcome", headers=FA_AUTH, json={"emailTemplate": template})
    assert replaced.status_code == 400
    assert client.get("/api/email/template/welcome", headers=FA_AUTH).json() == before


def test_inline_preview_reports_render_errors_by_field(client):
    template = {"defaultSubject": "Hi {{object.name}}", "defaultHtmlTemplate": "<p>{{formatDate object.when 'long'}}</p>", "defaultTextTemplate": "ok",
                "defaultFromName": "Support", "fromEmail": "support@example.com"}  # fmt: skip
    preview = client.post("/api/email/template/preview", headers=FA_AUTH, json={"emailTemplate": template, "requestData": {"when": "not a date"}})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["email"]["subject"] == "Hi" and body["email"]["text"] == "ok" and body["email"]["html"] is None
    [error] = body["errors"]["fieldErrors"]["emailTemplate.defaultHtmlTemplate"]
    assert "formatDate" in error["message"] and body["missing"] == ["object.name"]
    bad_locale = client.post("/api/email/template/preview", headers=FA_AUTH, json={"emailTemplate": template, "locale": "!!"})
    assert bad_locale.status_code == 400 and "locale" in bad_locale.json()["fieldErrors"]


def seed(host, template_id, template):
    """A template stored under a name, not a UUID (a folder's, IDM's): FusionAuth's routes read and send it."""
    host.templates.store.create({"engine": "freemarker" if "${" in json.dumps(template) else "handlebars", **template}, template_id)


def test_send_reports_errors_per_address(client, live, smtp_server):
    template = {"defaultSubject": "Due {{formatDate object.due 'long'}}", "defaultTextTemplate": "x",
                "localizedSubjects": {"fr": "Échéance {{formatDate object.due 'long'}}"}}
    seed(live.host, "due", template)
    sent = client.post("/api/email/send/due", headers=FA_AUTH,
                       json={"toAddresses": [{"address": "a@example.com"}], "requestData": {"due": "soon"}})  # fmt: skip
    assert sent.status_code == 202
    [(address, result)] = sent.json()["anonymousResults"].items()
    assert address == "a@example.com" and "subject" in result["renderErrors"] and result["parseErrors"] == {}
    assert smtp_server.messages == []

    # Submitted to the outbox by default (FusionAuth queues mail), then delivered.
    ok = client.post("/api/email/send/due", headers={"Authorization": SENDER_KEY},
                     json={"toAddresses": [{"address": "b@example.com"}], "requestData": {"due": "2024-03-01"}, "preferredLanguages": ["fr_FR"]})  # fmt: skip
    assert ok.status_code == 202 and ok.json()["messages"][0]["status"] == "submitted"
    wait_for(lambda: smtp_server.messages)
    assert smtp_server.messages[0].message["Subject"] == "Échéance 1 mars 2024"

    invalid = client.post("/api/email/send/due", headers=FA_AUTH, json={"toAddresses": [{"address": "a@example.com"}, {"address": "nope"}]})
    assert invalid.status_code == 400 and "toAddresses[1]" in invalid.json()["fieldErrors"]
    assert client.post("/api/email/send/missing", headers=FA_AUTH, json={"toAddresses": [{"address": "a@example.com"}]}).status_code == 404
    assert client.post("/api/email/send/due", headers=FA_AUTH, json={"toAddresses": []}).status_code == 400
    assert client.post("/api/email/send/due", headers=FA_AUTH, json={"userIds": ["u1"], "toAddresses": [{"address": "a@example.com"}]}).status_code == 400


def test_api_key_auth(client):
    assert client.get("/api/email/template").status_code == 401
    assert client.get("/api/email/template", headers={"Authorization": "wrong-key-0000000000"}).status_code == 401
    assert client.get("/api/email/template", headers={"Authorization": f"Bearer {FA_AUTH['Authorization']}"}).status_code == 200
    denied = client.get("/api/email/template", headers={"Authorization": SENDER_KEY})
    assert denied.status_code == 403 and denied.json()["generalErrors"][0]["code"] == "[permission_denied]"
    assert client.delete("/api/email/template/welcome", headers={"Authorization": SENDER_KEY}).status_code == 403


# -- one template send: this route and IDM's sendTemplate share the service's path ----------------


def test_send_shares_rate_limits_and_results_with_send_template(server_config, smtp_server):
    server_config["rate_limits"] = {"recipient": "1 per minute"}
    host, server = start(server_config)
    try:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            def fa_send(*addresses):
                reply = client.post("/api/email/send/welcome?waitForCompletion=true", headers=FA_AUTH, json={
                    "toAddresses": [{"address": a} for a in addresses], "requestData": {"userName": "bjensen"}})  # fmt: skip
                assert reply.status_code == 202, reply.text
                return reply.json()

            first = fa_send("a@example.com", "b@example.com")
            idm = client.post("/openidm/external/email?_action=sendTemplate", headers=IDM_AUTH, json={
                "templateName": "welcome", "to": ["a@example.com", "c@example.com"], "sendSeparately": True,
                "object": {"userName": "bjensen"}}).json()  # fmt: skip
            second = fa_send("c@example.com", "d@example.com")
    finally:
        server.stop()
        host.close()
    assert [(m["address"], m["status"], m["locale"]) for m in first["messages"]] == [
        ("a@example.com", "sent", "en"), ("b@example.com", "sent", "en")]  # fmt: skip
    # a@ was mailed through FusionAuth's route: IDM's call is limited for it, and c@ gets through...
    assert [(r["address"], r["status"]) for r in idm["results"]] == [("a@example.com", "failed"), ("c@example.com", "sent")]
    # ... so FusionAuth's route is limited for c@, reporting the very same error.
    assert list(second["anonymousResults"]) == ["c@example.com"] and second["sent"] == 1
    limited = second["anonymousResults"]["c@example.com"]["error"]
    assert limited["code"] == idm["results"][0]["error"]["code"] == 429
    assert limited["detail"]["kind"] == "rate_limited" and limited["detail"]["scope"] == "recipient"
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]


def test_a_template_that_does_not_compile_is_parse_errors_for_everyone(client, live, smtp_server):
    # Written behind our back (as IDM's admin UI may): the one write path would refuse it.
    path = live.conf / "emailTemplate-broken.json"
    path.write_text(json.dumps({"subject": {"en": "{{#if x}}"}, "message": {"en": "body"}}), encoding="utf-8")
    try:
        sent = client.post("/api/email/send/broken?waitForCompletion=true", headers=FA_AUTH,
                           json={"toAddresses": [{"address": "a@example.com"}, {"address": "b@example.com"}]})  # fmt: skip
        idm = client.post("/openidm/external/email?_action=sendTemplate", headers=IDM_AUTH,
                          json={"templateName": "broken", "to": ["a@example.com", "b@example.com"], "sendSeparately": True})  # fmt: skip
    finally:
        path.unlink()
    assert sent.status_code == 202
    body = sent.json()
    assert list(body["anonymousResults"]) == ["a@example.com", "b@example.com"] and body["sent"] == 0 and body["failed"] == 2
    parse_errors = body["anonymousResults"]["a@example.com"]["parseErrors"]
    assert list(parse_errors) == ["subject"] and "does not compile" in parse_errors["subject"]
    # IDM's door refuses the same template with the same error, before anything is sent.
    assert idm.status_code == 400 and idm.json()["message"] == parse_errors["subject"]
    assert smtp_server.messages == []


def test_send_has_the_bulk_recipient_limit_of_send_template(server_config, smtp_server):
    server_config["email"]["limits"] = {"max_bulk_recipients": 2}
    host, server = start(server_config)
    to = ["a@example.com", "b@example.com", "c@example.com"]
    try:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            fa = client.post("/api/email/send/welcome", headers=FA_AUTH, json={"toAddresses": [{"address": a} for a in to]})
            idm = client.post("/openidm/external/email?_action=sendTemplate", headers=IDM_AUTH,
                              json={"templateName": "welcome", "to": to, "sendSeparately": True})  # fmt: skip
    finally:
        server.stop()
        host.close()
    assert fa.status_code == 400 and "toAddresses" in fa.json()["fieldErrors"]
    assert idm.status_code == 400 and idm.json()["detail"]["param"] == "to"
    assert smtp_server.messages == []


# -- FusionAuth's templates as written: FreeMarker, with user, requestData, application, tenant --

#: The template of FusionAuth's email API documentation, verbatim.
DOCUMENTED = {
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
EXPECTED = {
    "en": ("Hello World", "Administrator", "<p>Hello john</p><p>Welcome To FusionAuth!</p>", "Hello john,\nWelcome To FusionAuth!"),
    "de": ("Hallo Welt", "Verwalter", "<p>Hallo john</p><p>Willkommen auf der FusionAuth!<p>", "Hallo john,\nWillkommen auf der FusionAuth!"),
    "fr": ("Bonjour le monde", "Administrateur", "<p>Bonjour john</p><p>Bienvenue à FusionAuth!<p>", "Bonjour john,\nBienvenue à FusionAuth!"),
}


@pytest.mark.parametrize("locale", ["en", "de", "fr"])
def test_the_documented_template_renders_per_locale_in_preview_and_mail(client, smtp_server, locale):
    created = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": DOCUMENTED})
    assert created.status_code == 200, created.text
    assert created.json()["emailTemplate"]["engine"] == "freemarker"
    template_id = created.json()["emailTemplate"]["id"]
    subject, display, html, text = EXPECTED[locale]

    stored = client.post("/api/email/template/preview", headers=FA_AUTH,
                         json={"emailTemplateId": template_id, "locale": locale, "user": {"username": "john"}}).json()  # fmt: skip
    inline = client.post("/api/email/template/preview", headers=FA_AUTH,
                         json={"emailTemplate": DOCUMENTED, "locale": locale, "user": {"username": "john"}}).json()  # fmt: skip
    for preview in (stored, inline):
        assert preview["email"]["subject"] == subject and preview["email"]["html"] == html and preview["email"]["text"] == text
        assert preview["email"]["from"] == {"address": "email@example.com", "display": display}
        assert preview["errors"] == {} and preview["missing"] == []

    sent = client.post(f"/api/email/send/{template_id}?waitForCompletion=true", headers=FA_AUTH,
                       json={"toAddresses": [{"address": "john@example.com", "username": "john"}], "preferredLanguages": [locale]})  # fmt: skip
    assert sent.status_code == 202 and sent.json()["sent"] == 1, sent.text
    [received] = smtp_server.messages
    assert received.message["Subject"] == subject and received.message["From"] == f"{display} <email@example.com>"
    assert received.message.get_body(("html",)).get_content().strip() == html
    # (The composer may end a line with a space, as format=flowed does: compare the words.)
    assert [line.rstrip() for line in received.message.get_body(("plain",)).get_content().strip().splitlines()] == text.splitlines()
    client.delete(f"/api/email/template/{template_id}", headers=FA_AUTH)


def test_send_gives_each_recipient_their_user_and_everyone_request_data(client, live, smtp_server):
    template = {"defaultSubject": "Hi ${user.firstName!user.email}", "defaultTextTemplate":
                "${requestData.message} (${requestData.paymentAmount?c}) from ${application.name} / ${tenant.name}"}  # fmt: skip
    seed(live.host, "fa-data", template)
    sent = client.post("/api/email/send/fa-data?waitForCompletion=true", headers=FA_AUTH, json={
        "toAddresses": [{"address": "ann@example.com", "firstName": "Ann"}, {"address": "bob@example.com", "display": "Bob"}],
        "requestData": {"message": "Thanks", "paymentAmount": 42},
    })  # fmt: skip
    assert sent.status_code == 202 and sent.json()["sent"] == 2, sent.text
    by_to = {m.message["To"]: m.message for m in smtp_server.messages}
    assert by_to["ann@example.com"]["Subject"] == "Hi Ann" and by_to["Bob <bob@example.com>"]["Subject"] == "Hi bob@example.com"
    assert by_to["ann@example.com"].get_content().strip() == "Thanks (42) from emailactions / Default"
    client.delete("/api/email/template/fa-data", headers=FA_AUTH)


def test_user_ids_resolve_through_resolve_recipients(server_config, smtp_server):
    from emailactions import hookimpl

    class Directory:
        @hookimpl
        def resolve_recipients(self, destination, host):
            return [{"address": "ce@example.com", "display": "Carol Evans"}] if destination == "ce485a91" else None

    server_config["server"]["fusionauth"] = {"application": {"name": "Pied Piper"}, "tenant": {"id": "t-1", "name": "Main"}}
    host, server = start(server_config, plugins=(Directory(),))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            template = {"defaultSubject": "For ${user.fullName} (${user.id})", "defaultTextTemplate": "${application.name} ${tenant.id} ${user.nope}"}
            seed(host, "fa-ids", template)
            sent = client.post("/api/email/send/fa-ids?waitForCompletion=true", headers=FA_AUTH, json={"userIds": ["ce485a91"]})
            assert sent.status_code == 202 and sent.json()["sent"] == 1, sent.text
            [received] = smtp_server.messages
            assert received.message["Subject"] == "For Carol Evans (ce485a91)" and received.message["To"] == "Carol Evans <ce@example.com>"
            assert received.message.get_content().strip() == "Pied Piper t-1"
            unknown = client.post("/api/email/send/fa-ids", headers=FA_AUTH, json={"userIds": ["nobody"]})
            assert unknown.status_code == 400 and "userIds[0]" in unknown.json()["fieldErrors"]
            preview = client.post("/api/email/template/preview", headers=FA_AUTH, json={"emailTemplateId": "fa-ids", "user": {"id": "u"}}).json()
            assert preview["email"]["subject"] == "For  (u)" and preview["missing"] == ["object.user.fullName", "object.user.nope"]
    finally:
        server.stop()
        host.close()


def test_freemarker_render_errors_are_per_recipient_results(client, live, smtp_server):
    template = {"defaultSubject": "x", "defaultTextTemplate": "${requestData.flag}"}
    seed(live.host, "fa-bool", template)
    sent = client.post("/api/email/send/fa-bool?waitForCompletion=true", headers=FA_AUTH,
                       json={"toAddresses": [{"address": "a@example.com"}], "requestData": {"flag": True}})  # fmt: skip
    assert sent.status_code == 202 and "boolean" in sent.json()["anonymousResults"]["a@example.com"]["renderErrors"]["text"]
    broken = client.post("/api/email/template/fa-broken", headers=FA_AUTH, json={"emailTemplate": {"defaultSubject": "<#include 'x'>"}})
    assert broken.status_code == 400 and "<#include>" in broken.json()["fieldErrors"]["emailTemplate.defaultSubject"][0]["message"]
    assert smtp_server.messages == []


# -- issue 15: JSON Patch, server-set instants, empty 401s --------------------------------------


#: The response fields FusionAuth's documentation lists for one template.
DOCUMENTED_RESPONSE_KEYS = {"defaultFromName", "defaultHtmlTemplate", "defaultSubject", "defaultTextTemplate", "fromEmail", "id",
                            "insertInstant", "lastUpdateInstant", "localizedFromNames", "localizedHtmlTemplates",
                            "localizedSubjects", "localizedTextTemplates", "name"}  # fmt: skip


def test_the_documented_create_example_gets_a_generated_uuid(client):
    created = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": DOCUMENTED})
    assert created.status_code == 200, created.text
    template = created.json()["emailTemplate"]
    assert str(uuid.UUID(template["id"])) == template["id"] and DOCUMENTED_RESPONSE_KEYS <= set(template)
    assert {k: template[k] for k in DOCUMENTED} == DOCUMENTED
    assert client.delete(f"/api/email/template/{template['id']}", headers=FA_AUTH).status_code == 200


def _json_patch(client, template_id, operations):
    return client.patch(f"/api/email/template/{template_id}", headers={**FA_AUTH, "Content-Type": "application/json-patch+json"},
                        content=json.dumps(operations).encode())  # fmt: skip


def test_json_patch_applies_rfc_6902_operations(client):
    template_id = client.post("/api/email/template", headers=FA_AUTH, json={"emailTemplate": DOCUMENTED}).json()["emailTemplate"]["id"]
    before = client.get(f"/api/email/template/{template_id}", headers=FA_AUTH).json()["emailTemplate"]
    patched = _json_patch(client, template_id, [
        {"op": "test", "path": "/emailTemplate/defaultSubject", "value": "Hello World"},
        {"op": "replace", "path": "/emailTemplate/defaultSubject", "value": "Hello again"},
        {"op": "add", "path": "/emailTemplate/localizedSubjects/es", "value": "Hola mundo"},
        {"op": "remove", "path": "/emailTemplate/localizedFromNames/fr"},
        {"op": "copy", "from": "/emailTemplate/defaultFromName", "path": "/emailTemplate/localizedFromNames/es"},
        {"op": "replace", "path": "/emailTemplate/insertInstant", "value": 1},  # the server's: ignored
    ])  # fmt: skip
    assert patched.status_code == 200, patched.text
    after = patched.json()["emailTemplate"]
    assert after["defaultSubject"] == "Hello again" and after["localizedSubjects"] == {"de": "Hallo Welt", "fr": "Bonjour le monde", "es": "Hola mundo"}
    assert after["localizedFromNames"] == {"de": "Verwalter", "es": "Administrator"}
    assert after["insertInstant"] == before["insertInstant"] and after["lastUpdateInstant"] >= before["lastUpdateInstant"]
    assert after["defaultHtmlTemplate"] == DOCUMENTED["defaultHtmlTemplate"] and after["engine"] == "freemarker"
    assert client.get(f"/api/email/template/{template_id}", headers=FA_AUTH).json()["emailTemplate"] == after

    # Refused whole, nothing changed: a failing test, a missing path, not a patch, an id change, an emptied template.
    for operations in ([{"op": "test", "path": "/emailTemplate/name", "value": "Other"}, {"op": "remove", "path": "/emailTemplate/name"}],
                       [{"op": "remove", "path": "/emailTemplate/nope"}], [{"op": "jump", "path": "/x"}], {"op": "remove"}, ["x"],
                       [{"op": "replace", "path": "/emailTemplate/id", "value": "other"}],
                       [{"op": "remove", "path": f"/emailTemplate/{k}"} for k in DOCUMENTED if k.startswith(("default", "localized")) and k != "defaultFromName"]):  # fmt: skip
        refused = _json_patch(client, template_id, operations)
        assert refused.status_code == 400 and refused.json()["fieldErrors"], (operations, refused.text)
    assert client.get(f"/api/email/template/{template_id}", headers=FA_AUTH).json()["emailTemplate"] == after
    assert _json_patch(client, str(uuid.uuid4()), [{"op": "remove", "path": "/emailTemplate/name"}]).status_code == 404
    assert client.delete(f"/api/email/template/{template_id}", headers=FA_AUTH).status_code == 200


def test_instants_are_the_servers_whatever_the_body_says(client):
    created = client.post("/api/email/template", headers=FA_AUTH,
                          json={"emailTemplate": {**DOCUMENTED, "insertInstant": 1, "lastUpdateInstant": 2}}).json()["emailTemplate"]  # fmt: skip
    assert created["insertInstant"] > 1_500_000_000_000 and created["lastUpdateInstant"] >= created["insertInstant"]
    # A template read back and PUT whole (instants included) keeps its insertInstant.
    replaced = client.put(f"/api/email/template/{created['id']}", headers=FA_AUTH,
                          json={"emailTemplate": {**created, "insertInstant": 1, "lastUpdateInstant": 2, "name": "Renamed"}})  # fmt: skip
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["emailTemplate"]["insertInstant"] == created["insertInstant"]
    assert replaced.json()["emailTemplate"]["lastUpdateInstant"] >= created["lastUpdateInstant"]
    assert client.delete(f"/api/email/template/{created['id']}", headers=FA_AUTH).status_code == 200


@pytest.mark.parametrize("method, path", [("GET", "/api/email/template"), ("GET", "/api/email/template/welcome"),
                                          ("POST", "/api/email/template/preview"), ("DELETE", "/api/email/template/welcome"),
                                          ("POST", "/api/email/send/welcome")])  # fmt: skip
def test_401_has_an_empty_body(client, method, path):
    for headers in ({}, {"Authorization": "wrong-key-0000000000"}):
        reply = client.request(method, path, headers=headers, json={})
        assert reply.status_code == 401 and reply.content == b"", reply.text

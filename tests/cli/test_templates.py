"""The template commands: send-template, preview and templates ..., added by a built-in plugin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import ROOT

from emailactions.cli.root import main

EXAMPLES = ROOT / "examples" / "conf"


@pytest.fixture
def conf(tmp_path, smtp_server) -> Path:
    """The example conf folder, its external.email.json pointed at the test server."""
    folder = Path(shutil.copytree(EXAMPLES, tmp_path / "conf"))
    settings = json.loads((folder / "external.email.json").read_text(encoding="utf-8"))
    settings.update(host="127.0.0.1", port=smtp_server.port)
    (folder / "external.email.json").write_text(json.dumps(settings), encoding="utf-8")
    return folder


def run(capsys, conf, *args):
    with pytest.raises(SystemExit) as info:
        main(["--conf", str(conf), *args])
    out = capsys.readouterr()
    err = out.err[out.err.find("{"):] if "{" in out.err else ""  # after any log lines
    return info.value.code, json.loads(out.out) if out.out.strip() else None, json.loads(err) if err.strip() else None


def test_send_template(capsys, conf, smtp_server):
    code, result, _ = run(capsys, conf, "send-template", "welcome", "--to", "hgale815@example.com", "--locale", "fr",
                          "--object", '{"userName": "hgale815"}')  # fmt: skip
    assert code == 0 and result["locale"] == "fr" and result["message"] == "Email sent"
    assert smtp_server.messages[0].message["Subject"] == "Votre compte a été créé"


def test_send_template_with_accept_language(capsys, conf, smtp_server):
    code, result, _ = run(capsys, conf, "send-template", "hello", "--to", "a@example.com", "--accept-language", "fr-CA,en;q=0.5",
                          "--object", '{"givenName": "Hilda"}', "--no-wait")  # fmt: skip
    assert code == 0 and result["message"] == "Email submitted" and result["locale"] == "fr"
    assert smtp_server.messages[0].message["Subject"] == "Bonjour Hilda"


def test_preview(capsys, conf, smtp_server):
    code, result, _ = run(capsys, conf, "preview", "hello", "--locale", "fr", "--object", '{"givenName": "Hilda"}')
    assert code == 0 and result["subject"] == "Bonjour Hilda" and result["missing"] == ["object.sn", "object.created"]
    assert smtp_server.messages == []


def test_preview_inline(capsys, conf):
    inline = json.dumps({"engine": "jinja2", "defaultSubject": "Hi {{ object.x }}"})
    code, result, _ = run(capsys, conf, "preview", "--template", inline, "--object", '{"x": 1}')
    assert code == 0 and result["subject"] == "Hi 1"


def test_templates_crud_and_search(capsys, conf):
    code, page, _ = run(capsys, conf, "templates", "list")
    assert code == 0 and page["total"] == 2 and [t["id"] for t in page["templates"]] == ["hello", "welcome"]

    native = json.dumps({"name": "Password reset", "defaultSubject": "Reset", "defaultTextTemplate": "Hi {{object.givenName}}"})
    code, created, _ = run(capsys, conf, "templates", "create", "reset", "--data", native)
    assert code == 0 and created["id"] == "reset" and (conf / "emailTemplate-reset.json").is_file()

    code, page, _ = run(capsys, conf, "templates", "search", "RESET")
    assert [t["id"] for t in page["templates"]] == ["reset"]
    code, page, _ = run(capsys, conf, "templates", "list", "--order-by", "id", "--desc", "--page-size", "2")
    assert page["total"] == 3 and [t["id"] for t in page["templates"]] == ["welcome", "reset"]

    code, shown, _ = run(capsys, conf, "templates", "show", "welcome", "--format", "idm")
    assert shown["subject"]["fr"] == "Votre compte a été créé" and shown["displayName"] == "Welcome"

    code, updated, _ = run(capsys, conf, "templates", "update", "reset", "--merge", "--data", '{"localizedSubjects": {"fr": "Réinitialiser"}}')
    assert code == 0 and updated["localizedSubjects"] == {"fr": "Réinitialiser"} and updated["defaultSubject"] == "Reset"

    code, deleted, _ = run(capsys, conf, "templates", "delete", "reset")
    assert code == 0 and deleted["deleted"]["id"] == "reset" and not (conf / "emailTemplate-reset.json").exists()


def test_errors_are_json_on_stderr(capsys, conf):
    code, out, err = run(capsys, conf, "templates", "show", "nope")
    assert code == 1 and out is None and err["code"] == 404 and err["detail"]["kind"] == "template_not_found"
    code, out, err = run(capsys, conf, "send-template", "welcome", "--to", "a@example.com", "--locale", "xx!")
    assert code == 1 and err["detail"]["param"] == "_locale"
    code, out, err = run(capsys, conf, "templates", "create", "bad", "--data", '{"subject": {"en": "{{#if x}}"}}')
    assert code == 1 and err["code"] == 400 and err["detail"]["part"] == "subject"
    code, out, err = run(capsys, conf, "templates", "create", "welcome", "--data", '{"subject": {"en": "x"}}')
    assert code == 1 and err["code"] == 409


#: FusionAuth's documented create request, verbatim: the template wrapped in "emailTemplate".
FUSIONAUTH_CREATE = """{
  "emailTemplate": {
    "defaultFromName": "Administrator",
    "defaultHtmlTemplate": "<p>Hello ${user.username}</p><p>Welcome To FusionAuth!</p>",
    "defaultSubject": "Hello World",
    "defaultTextTemplate": "Hello ${user.username},\\nWelcome To FusionAuth!",
    "fromEmail": "email@example.com",
    "localizedFromNames": {
      "de": "Verwalter",
      "fr": "Administrateur"
    },
    "localizedHtmlTemplates": {
      "de": "<p>Hallo ${user.username}</p><p>Willkommen auf der FusionAuth!<p>",
      "fr": "<p>Bonjour ${user.username}</p><p>Bienvenue à FusionAuth!<p>"
    },
    "localizedSubjects": {
      "de": "Hallo Welt",
      "fr": "Bonjour le monde"
    },
    "localizedTextTemplates": {
      "de": "Hallo ${user.username},\\nWillkommen auf der FusionAuth!",
      "fr": "Bonjour ${user.username},\\nBienvenue à FusionAuth!"
    },
    "name": "Hello World"
  }
}"""


def test_templates_create_accepts_the_fusionauth_wrapper(capsys, conf, tmp_path):
    request = tmp_path / "create.json"
    request.write_text(FUSIONAUTH_CREATE, encoding="utf-8")
    code, created, _ = run(capsys, conf, "templates", "create", "--data", f"@{request}")
    assert code == 0 and created["name"] == "Hello World" and created["localizedSubjects"] == {"de": "Hallo Welt", "fr": "Bonjour le monde"}
    assert created["defaultTextTemplate"] == "Hello ${user.username},\nWelcome To FusionAuth!" and len(created["id"]) == 36
    code, shown, _ = run(capsys, conf, "templates", "show", created["id"])
    assert shown["defaultFromName"] == "Administrator" and shown["fromEmail"] == "email@example.com"
    code, updated, _ = run(capsys, conf, "templates", "update", created["id"], "--merge", "--data", '{"emailTemplate": {"name": "Renamed"}}')
    assert code == 0 and updated["name"] == "Renamed" and updated["defaultSubject"] == "Hello World"
    # Only a lone "emailTemplate" object is a wrapper: beside other keys it is refused, as before.
    code, _, err = run(capsys, conf, "templates", "create", "odd", "--data", '{"emailTemplate": {"name": "x"}, "name": "y"}')
    assert code == 1 and err["code"] == 400

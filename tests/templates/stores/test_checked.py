"""The one write path: a template that does not compile is refused the same way
through every door (Python, the store a caller reaches, REST, CLI), and nothing is stored."""

from __future__ import annotations

import json

import httpx
import pytest

from emailactions.cli.root import main
from emailactions.errors import RenderError

from support.server import FA_AUTH, IDM_AUTH, copy_conf, make_config, start
from support.store_contract import BROKEN


@pytest.fixture
def served(tmp_path, smtp_server):
    """A host over an IDM conf folder, and a live REST server over that host."""
    conf = copy_conf(tmp_path)
    host, server = start(make_config(conf, smtp_server.port, tmp_path))
    yield host, server, conf
    server.stop()
    host.close()


def cli(capsys, conf, *args) -> tuple[int, dict]:
    with pytest.raises(SystemExit) as info:
        main(["--conf", str(conf), "templates", *args])
    return info.value.code, json.loads(capsys.readouterr().err)


def test_every_door_refuses_a_template_that_does_not_compile(served, capsys):
    host, server, conf = served
    before = {p.name: p.read_bytes() for p in conf.iterdir()}
    refusals = []
    for write in (
        lambda: host.templates.create(BROKEN, "broken"),
        lambda: host.templates.store.create(BROKEN, "broken"),
        lambda: host.templates.update("welcome", BROKEN),
        lambda: host.templates.store.update("welcome", {"subject": BROKEN["subject"]}, merge=True),
    ):
        with pytest.raises(RenderError) as info:
            write()
        refusals.append(info.value.to_dict())

    with httpx.Client(base_url=server.url, timeout=20) as client:
        for url in ("/openidm/config/emailTemplate/broken", "/openidm/config/emailTemplate/welcome"):  # create, replace
            reply = client.put(url, headers=IDM_AUTH, json=BROKEN)
            assert reply.status_code == 400
            refusals.append(reply.json())
        for method, url in (("POST", "/api/email/template/broken"), ("PUT", "/api/email/template/welcome"),
                            ("PATCH", "/api/email/template/welcome")):  # fmt: skip
            reply = client.request(method, url, headers=FA_AUTH, json={"emailTemplate": BROKEN})
            assert reply.status_code == 400
            [error] = reply.json()["fieldErrors"]["emailTemplate.defaultSubject"]
            assert error["message"] == refusals[0]["message"]

    for args in (("create", "broken"), ("update", "welcome"), ("update", "welcome", "--merge")):
        code, error = cli(capsys, conf, *args, "--data", json.dumps(BROKEN))
        assert code == 1
        refusals.append(error)

    assert refusals[0]["code"] == 400 and refusals[0]["detail"] == {"kind": "render_error", "part": "subject"}
    assert all(r == refusals[0] for r in refusals), refusals
    assert {p.name: p.read_bytes() for p in conf.iterdir()} == before
    assert sorted(t.id for t in host.templates.store.all()) == ["hello", "welcome"]

"""Routing: 404 for unknown resources, 400 listing actions, 403 for other verbs."""

from __future__ import annotations

import pytest

import emailactions
from emailactions import ActionHost, ForbiddenOperation, UnknownAction, UnknownResource, UnknownTransport


def test_unknown_resource_is_404(emailactions_host):
    with pytest.raises(UnknownResource) as info:
        emailactions_host.action("external/nope", "send", {})
    assert info.value.to_dict()["code"] == 404 and info.value.to_dict()["reason"] == "Not Found"


def test_unknown_action_is_400_listing_valid_ones(emailactions_host):
    with pytest.raises(UnknownAction) as info:
        emailactions_host.action("external/email", "sendMail", {})
    assert info.value.code == 400 and "send" in info.value.valid
    assert "send" in info.value.message


@pytest.mark.parametrize("verb", ["read", "create", "update", "patch", "delete", "query"])
def test_other_verbs_are_403(emailactions_host, verb):
    with pytest.raises(ForbiddenOperation) as info:
        emailactions_host.request(verb, "external/email", {})
    assert info.value.to_dict()["code"] == 403


def test_other_verbs_on_unknown_resource_are_404(emailactions_host):
    with pytest.raises(UnknownResource):
        emailactions_host.request("read", "external/nothing")


def test_request_action_dispatches(emailactions_host, emailactions_outbox):
    emailactions_host.request("action", "external/email", "send", {"to": "a@example.com"})
    assert len(emailactions_outbox) == 1


def test_resource_paths_tolerate_slashes(emailactions_host, emailactions_outbox):
    emailactions_host.action("/external/email/", "send", {"to": "a@example.com"})
    assert len(emailactions_outbox) == 1


def test_unknown_transport_backend():
    with pytest.raises(UnknownTransport) as info:  # refused when the host is built
        ActionHost({"transports": {"default": {"backend": "carrier-pigeon"}}}, load_entry_points=False)
    assert "carrier-pigeon" in info.value.message and "smtp" in info.value.message


def test_no_config_means_console(capsys):
    host = ActionHost(load_entry_points=False)
    host.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "hello console"})
    assert "Subject: hello console" in capsys.readouterr().out


def test_module_level_action_uses_env_config(tmp_path, monkeypatch):
    from emailactions import host as host_module

    config = tmp_path / "emailactions.toml"
    config.write_text(f'[email]\nfrom = "a@example.com"\n[transports.default]\nbackend = "file"\npath = "{tmp_path / "out"}"\n')
    monkeypatch.setenv("EMAILACTIONS_CONFIG", str(config))
    monkeypatch.setattr(host_module, "_default_host", None)
    result = emailactions.action("external/email", "send", {"to": "b@example.com"})
    assert result["status"] == "OK"
    assert len(list((tmp_path / "out").glob("*.eml"))) == 1
    monkeypatch.setattr(host_module, "_default_host", None)


def test_module_level_action_reads_local_toml(tmp_path, monkeypatch):
    from emailactions import host as host_module

    (tmp_path / "emailactions.toml").write_text(
        '[email]\nfrom = "a@example.com"\n[transports.default]\nbackend = "file"\npath = "out"\n'
    )
    monkeypatch.delenv("EMAILACTIONS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(host_module, "_default_host", None)
    emailactions.action("external/email", "send", {"to": "b@example.com"})
    assert len(list((tmp_path / "out").glob("*.eml"))) == 1
    monkeypatch.setattr(host_module, "_default_host", None)


def test_error_dict_shape():
    err = emailactions.InvalidParams("Bad To: email address", param="to")
    assert err.to_dict() == {"code": 400, "reason": "Bad Request", "message": "Bad To: email address",
                             "detail": {"kind": "invalid_params", "param": "to"}}
    with pytest.raises(AttributeError):
        err.nothing_here


def test_public_api_is_exactly_all():
    from types import ModuleType

    public = {
        name for name in dir(emailactions)
        if not name.startswith(("_", "@")) and not isinstance(getattr(emailactions, name), ModuleType)
    }
    assert public == set(emailactions.__all__)
    for name in emailactions.__all__:
        assert getattr(emailactions, name).__doc__, name

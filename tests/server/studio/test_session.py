"""Studio sessions and the sample-data sidecar, without a server."""

from __future__ import annotations

import json

import pytest

from emailactions.errors import InvalidParams, TooLarge
from emailactions.server.studio import session as sessions_module
from emailactions.server.studio.samples import FILE_NAME, Samples, parse_sample
from emailactions.server.studio.session import IDLE_SECONDS, MAX_AGE, MAX_PREVIEWS, Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_end_when_idle_or_too_old():
    clock = Clock()
    sessions = Sessions(clock)
    idle = sessions.new("ada")
    clock.now += IDLE_SECONDS + 1
    assert sessions.get(idle.id) is None
    busy = sessions.new("ada")
    born, step = clock.now, IDLE_SECONDS // 2
    while sessions.get(busy.id) is not None:  # used every hour: it still ends at MAX_AGE
        clock.now += step
    assert MAX_AGE < clock.now - born <= MAX_AGE + step


def test_sessions_are_bounded_and_unguessable(monkeypatch):
    monkeypatch.setattr(sessions_module, "MAX_SESSIONS", 3)
    sessions = Sessions()
    made = [sessions.new() for _ in range(4)]
    assert sessions.get(made[0].id) is None and all(sessions.get(s.id) for s in made[1:])
    assert len({s.id for s in made} | {s.csrf for s in made}) == 8 and all(len(s.id) >= 40 for s in made)
    assert sessions.get("x" * 65) is None and sessions.get(None) is None


def test_login_forms_in_bulk_never_evict_a_logged_in_user(monkeypatch):
    monkeypatch.setattr(sessions_module, "MAX_SESSIONS", 3)
    sessions = Sessions()
    user = sessions.new("ada")
    forms = [sessions.new() for _ in range(10)]
    assert sessions.get(user.id) is user and sessions.get(forms[0].id) is None and sessions.get(forms[-1].id) is not None


def test_csrf_tokens_compare_exactly():
    session = Sessions().new()
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok(None) and not session.csrf_ok("") and not session.csrf_ok(session.csrf[:-1])
    assert not session.csrf_ok(session.csrf + "\udcff")


def test_previews_keep_the_newest_only():
    session = Sessions().new("ada")
    keys = [session.keep_preview(f"<p>{i}</p>") for i in range(MAX_PREVIEWS + 2)]
    assert keys[0] not in session.previews and session.previews[keys[-1]] == f"<p>{MAX_PREVIEWS + 1}</p>"
    assert len(session.previews) == MAX_PREVIEWS


def test_samples_sidecar(tmp_path):
    samples = Samples(tmp_path)
    samples.put("welcome", {"userName": "ada"})
    samples.put("hello", {"givenName": "Zoé"})
    samples.put("hello", None)
    assert json.loads((tmp_path / FILE_NAME).read_text()) == {"welcome": {"userName": "ada"}}
    assert Samples(tmp_path).get("welcome") == {"userName": "ada"} and samples.get("hello") == {}
    (tmp_path / FILE_NAME).write_text("{broken")
    assert samples.get("welcome") == {}  # a broken sidecar never locks the editor


def test_samples_in_memory_without_a_folder():
    samples = Samples(None)
    samples.put("welcome", {"a": 1})
    assert samples.get("welcome") == {"a": 1} and samples.path is None


@pytest.mark.parametrize("text, error", [("[1]", InvalidParams), ("{", InvalidParams), ('{"a": NaN}', InvalidParams),
                                         ("[" * 500 + "]" * 500, InvalidParams), ('{"a": "' + "x" * 300_000 + '"}', TooLarge)])  # fmt: skip
def test_bad_samples_name_the_field(text, error):
    with pytest.raises(error) as info:
        parse_sample(text)
    assert info.value.detail["param"] == "sample"


def test_an_empty_sample_is_an_empty_object():
    assert parse_sample("  ") == {} and parse_sample('{"a": [1]}') == {"a": [1]}

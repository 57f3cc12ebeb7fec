"""Outbox entries: the meta column, times, worker ids and liveness checks."""

from __future__ import annotations

import os
import subprocess
import sys

from emailactions.delivery.outbox.entry import STATES, info_from_json, info_json, iso_time, pid_alive, worker_id
from emailactions.mime.message import MessageInfo


def test_info_round_trips_and_leaves_empty_fields_out():
    info = MessageInfo(template="welcome", locale="fr", locales={"subject": "fr", "html": "en"})
    assert info_from_json(info_json(info)) == info
    assert info_json(MessageInfo()) is None and info_from_json(None) == MessageInfo()
    assert info_json(MessageInfo(locale="fr")) == '{"locale": "fr"}'


def test_unknown_meta_keys_from_a_later_version_are_ignored():
    assert info_from_json('{"template": "t", "future": 1}') == MessageInfo(template="t")


def test_times_are_utc_iso_with_milliseconds():
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(None) is None


def test_worker_ids_name_this_process_and_differ():
    a, b = worker_id(), worker_id()
    assert a != b and a.split(":")[1] == str(os.getpid())


def test_pid_alive_tells_a_live_process_from_a_finished_one():
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)


def test_the_states():
    assert STATES == ("queued", "in-flight", "sent", "failed")

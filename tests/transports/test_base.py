"""The transport contract's helpers: the caller's deadline."""

from __future__ import annotations

import threading

from emailactions.transports.base import answer_by, caller_deadline


def test_answer_by_sets_the_deadline_for_its_block_and_this_thread_only():
    assert caller_deadline() is None
    seen = []
    with answer_by(100.0):
        with answer_by(50.0):
            assert caller_deadline() == 50.0
        assert caller_deadline() == 100.0
        thread = threading.Thread(target=lambda: seen.append(caller_deadline()))
        thread.start()
        thread.join()
    assert caller_deadline() is None and seen == [None]

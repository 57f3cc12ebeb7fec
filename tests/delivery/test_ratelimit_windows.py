"""The hand-written in-memory moving window answers exactly as ``limits``'s own, and forgets idle keys."""

from __future__ import annotations

import time_machine
from hypothesis import given, settings, strategies as st
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from emailactions.delivery.ratelimit.windows import LimitsWindows, MemoryWindows

START = 1_900_000_000.0
ITEMS = [parse("1 per 2 seconds"), parse("3 per 2 seconds"), parse("4 per 5 seconds")]

steps = st.lists(
    st.tuples(
        # Seconds since the previous step, never summing to a window's length: at
        # that instant limits's own test (strict) and hit (inclusive) disagree.
        st.integers(1, 70).map(lambda k: k * 0.0371),
        st.sampled_from(["a", "b"]),
        st.sampled_from(range(len(ITEMS))),
        st.integers(1, 5),  # cost
        st.sampled_from(["hit", "test", "reset_at"]),
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(steps)
def test_memory_windows_answer_as_limits_moving_window(ops):
    with time_machine.travel(START, tick=False) as clock:
        ours, theirs = MemoryWindows(), LimitsWindows(MovingWindowRateLimiter(MemoryStorage()))
        for dt, key, which, cost, op in ops:
            clock.shift(dt)
            item, ids = ITEMS[which], ("rate_limits.recipient", key)
            if op == "reset_at":
                # limits's answer for an empty window is the time of a stale hit its
                # expiry thread has not dropped yet; compare windows holding hits.
                if not ours.test(item, ids, item.amount):
                    assert abs(ours.reset_at(item, ids) - theirs.reset_at(item, ids)) < 1e-6
            else:
                assert getattr(ours, op)(item, ids, cost) == getattr(theirs, op)(item, ids, cost), (op, key, which, cost)


def test_idle_keys_are_swept_when_the_table_doubles():
    item = parse("5 per second")
    with time_machine.travel(START, tick=False) as clock:
        windows = MemoryWindows()
        for n in range(1500):
            assert windows.hit(item, ("rate_limits.recipient", f"u{n}@example.com"))
        clock.shift(2)  # every window has emptied
        for n in range(2000):
            windows.hit(item, ("rate_limits.recipient", f"v{n}@example.com"))
        # The first 1,500 went at the first sweep; what is left is recent.
        assert len(windows._windows) <= 2000
        assert windows.hit(item, ("rate_limits.recipient", "u0@example.com"))  # a swept key starts afresh


def test_a_hit_larger_than_the_limit_is_refused_and_counts_nothing():
    windows, item, ids = MemoryWindows(), parse("3 per minute"), ("k", "x")
    assert not windows.hit(item, ids, 4)
    assert windows.hit(item, ids, 3)

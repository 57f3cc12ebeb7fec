"""The SMTP watchdog: socket timeouts capped by what a send has left."""

from __future__ import annotations

import time

from emailactions.transports.watchdog import Watch, within


def test_within_caps_a_timeout_by_the_time_left_and_never_reaches_zero():
    assert within(300.0, None) == 300.0 and within(None, None) is None
    soon = Watch(time.monotonic() + 2)
    assert 1.5 < within(300.0, soon) <= 2 and within(1.0, soon) == 1.0 and 1.5 < within(None, soon) <= 2
    assert within(300.0, Watch(time.monotonic() - 5)) == 0.001  # 0 would mean "never block"

"""A host process for the crash tests: submits N messages, then lets its workers deliver.

    python outbox_child.py CONFIG.toml N

Prints ``outbox_id message_id`` for each "Email submitted" answer (flushed,
so the parent knows what was acknowledged before it kills us). With N = 0 it
is a restarted host: it exits once nothing is queued or in flight.
"""

from __future__ import annotations

import sys
import time

from emailactions import ActionHost


def main() -> None:
    config, count = sys.argv[1], int(sys.argv[2])
    host = ActionHost(config, load_entry_points=False)
    for n in range(count):
        result = host.action(
            "external/email", "send", {"to": f"user{n}@example.com", "subject": f"batch {n}", "body": "x" * 500},
            wait_for_completion=False,
        )  # fmt: skip
        print(result["outboxId"], result["messageId"], flush=True)
    outbox = host.dispatcher.outbox
    while outbox.unfinished():
        time.sleep(0.02)
    host.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()

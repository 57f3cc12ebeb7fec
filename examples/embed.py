"""A tiny host application: embed emailactions and answer an IDM-style call.

Run it with ``python examples/embed.py``; with no config the console
transport prints the message it would send.
"""

from __future__ import annotations

import json

from emailactions import ActionHost, EmailActionsError


def main() -> None:
    with ActionHost() as host:  # no config: the console transport
        result = host.action(
            "external/email",
            "send",
            {"from": "openidm@example.com", "to": "bjensen@example.com", "subject": "Password changed", "body": "Your password was changed."},
        )
        print(json.dumps(result, indent=2))
        try:
            host.action("external/email", "send", {"from": "openidm@example.com", "to": "not an address"})
        except EmailActionsError as err:
            # Errors carry IDM's error shape, ready to return from a REST endpoint.
            print(json.dumps(err.to_dict(), indent=2))


if __name__ == "__main__":
    main()

"""A tiny host application that runs IDM-style scripts against its own data.

Run it with ``python examples/script_host.py``: the example conf folder's
templates, mail printed by the console transport. The application decides
what scripts see: its own functions (``findUser``), the caller and the
language of the request, and how long a script may run.
"""

from __future__ import annotations

import json
from pathlib import Path

from emailactions import ActionHost, EmailActionsError
from emailactions.scripting import ScriptLimits

HERE = Path(__file__).resolve().parent
USERS = {"hgale815": {"userName": "hgale815", "givenName": "Hilda", "sn": "Gale", "mail": "hgale815@example.com"}}

# What an administrator might store as an automation: it looks a user up in
# the application, then sends IDM's welcome template to them.
WELCOME_SCRIPT = """
var user = findUser(userId);
if (user === null) throw {code: 404, message: "No user " + userId};
openidm.action("external/email", "sendTemplate", {templateName: "welcome", to: user.mail, object: user});
"""


def find_user(user_id: str) -> dict | None:
    """Exposed to scripts as findUser(id): plain data in, plain data out."""
    return USERS.get(user_id)


def main() -> None:
    config = {"email": {"from": "IDM <openidm@example.com>", "conf": str(HERE / "conf")}}  # console transport
    with ActionHost(config) as host:
        for user_id in ("hgale815", "nobody"):
            try:
                result = host.run_script(
                    WELCOME_SCRIPT,
                    language="javascript",
                    globals={"findUser": find_user, "userId": user_id},
                    caller="admin",
                    accept_language="fr-CA, fr;q=0.9",
                    limits=ScriptLimits(time_limit=2.0),
                )
                print(json.dumps({"user": user_id, "locale": result["locale"], "message": result["message"]}))
            except EmailActionsError as err:
                # A script's uncaught error comes back in IDM's error shape.
                print(json.dumps({"user": user_id, "error": err.to_dict()}))
        # A script file runs the same way; its language comes from its extension.
        result = host.run_script(HERE / "scripts" / "send-template-hello.py", accept_language="fr")
        print(json.dumps({"script": "send-template-hello.py", "subject_locale": result["locales"]["subject"]}))


if __name__ == "__main__":
    main()

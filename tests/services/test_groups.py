"""The built-in recipient resolver and the caller the ``resolve_recipients`` hook is given."""

from __future__ import annotations

import pytest

from emailactions import ActionHost, hookimpl
from emailactions.errors import UnknownDestination
from support.server import ADMIN_HASH


def config(base: dict) -> dict:
    return {**base, "server": {"users": {"ann": {"password": ADMIN_HASH, "email": "ann@example.com"},
                                         "bob": {"password": ADMIN_HASH}}}}  # fmt: skip


def test_me_is_the_callers_own_address(emailactions_config, emailactions_outbox):
    host = ActionHost(config(emailactions_config), load_entry_points=False)
    result = host.action("external/email", "send", {"destination": "me", "subject": "x"}, caller="ann")
    assert result["count"] == 1 and result["results"][0]["address"] == "ann@example.com"
    for caller in ("bob", None):  # a user without an address, or no caller at all
        with pytest.raises(UnknownDestination):
            host.action("external/email", "send", {"destination": "me"}, caller=caller)


def test_a_plugin_gets_the_caller(emailactions_config, emailactions_outbox):
    seen = []

    class PerCaller:
        @hookimpl
        def resolve_recipients(self, destination, host, caller):
            seen.append((destination, caller))
            return [f"{caller}-team@example.com"] if destination == "customer" else None

    host = ActionHost(config(emailactions_config), load_entry_points=False, plugins=[PerCaller()])
    result = host.action("external/email", "send", {"destination": "customer", "subject": "x"}, caller="bob")
    assert result["results"][0]["address"] == "bob-team@example.com" and seen == [("customer", "bob")]

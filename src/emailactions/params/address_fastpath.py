"""A hand-written accept-only check for the plainest addresses.

email-validator costs ~75 µs per new address (IDNA tables, Unicode checks),
the largest per-message cost of a send to a new recipient. Most real
addresses are plain ASCII dot-atoms at lower-risk LDH domains; for those the
answer is known without it. This path never refuses: anything it is not sure
of (quotes, comments, non-ASCII, punycode, odd lengths, special-use or numeric
top-level domains) returns ``None`` and goes to email-validator.
tests/params/test_address_fastpath.py checks with hypothesis that it accepts
nothing email-validator refuses and returns what email-validator returns.
"""

from __future__ import annotations

import re
import sys

# Conservative subsets of RFC 5322 atext and of LDH labels: no label starts or
# ends with a hyphen, the top-level domain is letters only (email-validator
# refuses numeric ones), and "--" anywhere falls back (IDNA's "ab--" rule).
_PLAIN = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
#: email-validator's default SPECIAL_USE_DOMAIN_NAMES (used when it is not
#: yet imported; once imported, its list, which users may change, is read).
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
#: Well below RFC 5321's 254-octet path and 64-octet local part, so no
#: boundary case is decided here.
_MAX_CHARS = 200
_MAX_LOCAL = 60


def plain_spec(addr: str) -> str | None:
    """The addr-spec email-validator would return for ``addr``, or None when unsure."""
    if len(addr) > _MAX_CHARS or "--" in addr or not _PLAIN.fullmatch(addr):
        return None
    local, _, domain = addr.rpartition("@")
    if len(local) > _MAX_LOCAL:
        return None
    domain = domain.lower()
    validator = sys.modules.get("email_validator")
    special = getattr(validator, "SPECIAL_USE_DOMAIN_NAMES", _SPECIAL_USE) if validator else _SPECIAL_USE
    if validator and getattr(validator, "TEST_ENVIRONMENT", False):
        return None  # "test" allowed there: let the library decide
    for name in special:
        if domain == name or domain.endswith("." + name):
            return None
    return f"{local}@{domain}"

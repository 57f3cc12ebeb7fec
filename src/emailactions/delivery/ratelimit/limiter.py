"""Rate limits per recipient, sender, template and overall, on the ``limits`` library.

IDM has none, and neither does a host by default: a script that mails every
new user (with IDM's fixed ``bcc``) must not stop at the sixth. What a
network exposes is another matter: its documentation admits a password-reset
form can be used to flood someone's inbox, so the REST server limits
recipients for callers it does not trust with everything
(``[server] recipient_limit``), through :func:`applying`.

The counting (windows, storage, expiry) is ``limits``'s job: this module only
decides which counters a message touches and turns "over" into a 429 naming
the config key that set the limit. ``limits`` is imported only when a limit
is configured: with none, sending never loads it. Where counts live (this
process, or Redis shared by every host) is :mod:`.storage`'s business.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Mapping, NamedTuple

from emailactions.config import RateLimitConfig
from emailactions.delivery.ratelimit.storage import open_windows
from emailactions.delivery.ratelimit.windows import Windows
from emailactions.errors import RateLimited
from emailactions.mime.message import Message

if TYPE_CHECKING:
    from limits import RateLimitItem

log = logging.getLogger("emailactions.ratelimit")

#: The config key of each limit in ``[rate_limits]``, named in its 429.
CONFIG_KEYS = {scope: f"rate_limits.{scope}" for scope in ("recipient", "sender", "template", "global")}


def normalize_address(address: str) -> str:
    """The counter key for an address.

    The domain is case-insensitive and may carry the root's trailing dot
    (``Example.COM.`` is ``example.com``); a Unicode domain counts as its
    punycode. The local part is folded too: RFC 5321 lets servers treat it
    case-sensitively, but almost none do, and otherwise an attacker could
    multiply the quota by changing case.
    """
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip().casefold()
    domain = domain.rstrip(".").lower()
    if not domain.isascii():  # an ASCII domain is its own IDNA form
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # not valid IDNA: count it as written
    return f"{local.casefold()}@{domain}"


class Counter(NamedTuple):
    """One limit on one key: ``5 per 15 minutes`` on ``recipient:a@example.com``.

    A tuple rather than a dataclass: one is made per recipient per message, on
    the send path, and a tuple is made several times faster.
    """

    scope: str
    key: str
    item: RateLimitItem
    #: The config key that set the limit; also keeps apart the counters of
    #: limiters that share a storage (the host's and the REST server's).
    config_key: str

    @property
    def identifiers(self) -> tuple[str, str]:
        return (self.config_key, self.key)


class RateLimiter:
    """Checks and counts messages against the configured limits.

    ``acquire`` is test-then-hit under a lock, so within a process a refused
    message consumes nothing. Hosts sharing a Redis storage can race between
    the test and the hit; the loser is refused, having used up a little of
    its other counters: it errs on the side of sending less.

    ``config_keys`` renames the config keys of :data:`CONFIG_KEYS` for limits set
    elsewhere (the REST server's ``server.recipient_limit``); ``windows`` are
    where counts live (by default, those of ``config.storage``).
    """

    def __init__(self, config: RateLimitConfig, config_keys: Mapping[str, str] | None = None, windows: Windows | None = None) -> None:
        self.config = config
        self._config_keys = {**CONFIG_KEYS, **(config_keys or {})}
        self.windows = windows if windows is not None else open_windows(config)
        self._recipient = parse(config.recipient)
        self._sender = parse(config.sender)
        self._template = parse(config.template)
        self._templates = {name: parse(value) for name, value in config.templates.items()}
        self._global = parse(config.global_)
        self._lock = threading.Lock()

    def counters(self, message: Message, template: str | None = None) -> list[Counter]:
        """Every counter ``message`` touches: one per limit per distinct key."""
        named = self._config_keys
        out = [Counter("global", "all", item, named["global"]) for item in self._global]
        out += [Counter("sender", normalize_address(message.sender), item, named["sender"]) for item in self._sender]
        if template is not None:
            config_key = f"rate_limits.templates.{template}" if template in self._templates else named["template"]
            items = self._templates.get(template, self._template)
            out += [Counter("template", template, item, config_key) for item in items]
        seen: set[str] = set()
        for address in message.recipients:
            key = normalize_address(address)
            if key not in seen:
                seen.add(key)
                out += [Counter("recipient", key, item, named["recipient"]) for item in self._recipient]
        return out

    def acquire(self, message: Message, template: str | None = None) -> None:
        """Count ``message`` against every limit, or raise :class:`RateLimited`
        (429, with ``retry_after`` in seconds) and count nothing."""
        counters = self.counters(message, template)
        if not counters:
            return
        with self._lock:
            error = self._take(counters)
        if error is not None:
            log.warning("rate limit reached for %s %s (%s); retry after %ss", error.scope, error.key, error.limit, error.retry_after)
            raise error

    def _take(self, counters: list[Counter]) -> RateLimited | None:
        """Count every counter, or none (the error of those over)."""
        windows = self.windows
        if len(counters) == 1:  # one hit alone tests and counts in one step (one round trip)
            counter = counters[0]
            return None if windows.hit(counter.item, counter.identifiers) else self._error(counters)
        error = self._over(counters)
        if error is None:
            for counter in counters:
                if not windows.hit(counter.item, counter.identifiers):
                    return self._error([counter])  # another host got there first
        return error

    def _over(self, counters: list[Counter]) -> RateLimited | None:
        over = [c for c in counters if not self.windows.test(c.item, c.identifiers)]
        return self._error(over) if over else None

    def _error(self, over: list[Counter]) -> RateLimited:
        # Wait for the counter that frees up last: before that, a retry fails again.
        now = time.time()
        waits = [(self.windows.reset_at(c.item, c.identifiers) - now, c) for c in over]
        wait, counter = max(waits, key=lambda w: w[0])
        # Whole seconds, strictly after the reset: at the reset instant itself
        # ``limits`` still counts the oldest hit.
        retry_after = max(1, math.floor(wait) + 1)
        return RateLimited(
            f"Rate limit of {describe(counter.item)} per {counter.scope} reached; retry after {retry_after} s"
            f" (config key {counter.config_key})",
            retry_after=retry_after,
            scope=counter.scope,
            key=counter.key,
            limit=describe(counter.item),
            config_key=counter.config_key,
        )

    def reset(self) -> None:
        """Forget every count (tests, or an operator clearing a false alarm)."""
        with self._lock:
            self.windows.reset()


def parse(value: str | None) -> list[RateLimitItem]:
    """The items of an "N per period; M per period" string (none for ``None``)."""
    from limits import parse_many

    return list(parse_many(value)) if value else []


def describe(item: RateLimitItem) -> str:
    """``5 per 15 minutes``, as the config spells it."""
    unit = item.GRANULARITY.name
    count = item.multiples
    return f"{item.amount} per {count} {unit}s" if count != 1 else f"{item.amount} per {unit}"


def build(config: RateLimitConfig, config_keys: Mapping[str, str] | None = None, windows: Windows | None = None) -> RateLimiter | None:
    """The limiter for a config, or None when rate limiting is off or empty
    (decided before ``limits`` is imported)."""
    limits = (config.recipient, config.sender, config.template, *config.templates.values(), config.global_)
    if not config.enabled or not any(limits):
        return None
    return RateLimiter(config, config_keys, windows)

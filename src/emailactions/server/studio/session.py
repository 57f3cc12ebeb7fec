"""Studio sessions: server-side, random ids, one CSRF token each.

The cookie holds only a random id; who is logged in, the CSRF token and the
rendered previews stay in this process (a restart logs everyone out, which
is the safe way to forget). A login gets a fresh id, so an id planted before
login (session fixation) is worth nothing after it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

#: The cookie's name and path: sent to the studio only, never to the API.
COOKIE = "emailactions_studio"
COOKIE_PATH = "/studio"
#: A session unused this long is gone; a login lasts at most ``MAX_AGE``.
IDLE_SECONDS = 2 * 3600
MAX_AGE = 12 * 3600
#: Sessions kept at once, of each kind (the oldest go first): visitors cannot fill memory,
#: and login forms fetched in bulk evict only other login forms, never a logged-in user.
MAX_SESSIONS = 10_000
#: Rendered previews kept per session (the newest).
MAX_PREVIEWS = 16


@dataclass
class Session:
    id: str
    csrf: str
    #: The logged-in user's name; ``None`` before login (the login form's own CSRF token).
    user: str | None
    created: float
    seen: float
    #: preview key -> rendered HTML, served to the preview iframe.
    previews: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def csrf_ok(self, token: str | None) -> bool:
        """Whether a form carried this session's token (compared in constant time)."""
        return bool(token) and hmac.compare_digest(self.csrf.encode(), str(token).encode("utf-8", "replace"))

    def keep_preview(self, html: str) -> str:
        """Keep ``html`` for the preview URL; returns its key."""
        key = secrets.token_urlsafe(16)
        self.previews[key] = html
        while len(self.previews) > MAX_PREVIEWS:
            self.previews.popitem(last=False)
        return key


class Sessions:
    """Every live session of one server process."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._users: OrderedDict[str, Session] = OrderedDict()
        self._visitors: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def _pool(self, session: Session) -> OrderedDict[str, Session]:
        return self._visitors if session.user is None else self._users

    def new(self, user: str | None = None) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, now, now)
        with self._lock:
            pool = self._pool(session)
            pool[session.id] = session
            while len(pool) > MAX_SESSIONS:
                pool.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session behind a cookie value, or ``None``."""
        if not session_id or len(session_id) > 64:
            return None
        now = self._clock()
        with self._lock:
            session = self._users.get(session_id) or self._visitors.get(session_id)
            if session is None:
                return None
            pool = self._pool(session)
            if now - session.seen > IDLE_SECONDS or now - session.created > MAX_AGE:
                del pool[session_id]
                return None
            session.seen = now
            pool.move_to_end(session_id)
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._users.pop(session_id, None)
            self._visitors.pop(session_id, None)

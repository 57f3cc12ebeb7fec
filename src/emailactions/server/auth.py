"""Who is calling: credentials from request headers, checked in constant time.

Accepted forms, on every route (permissions decide what each may do):

* IDM's ``X-OpenIDM-Username`` / ``X-OpenIDM-Password`` (``anonymous`` /
  ``anonymous`` asks for anonymous access, as IDM's self-service UI does);
* ``Authorization: Basic ...`` for the same users;
* ``Authorization: <api key>`` as FusionAuth sends it, or ``Bearer <api key>``.

No credentials at all is the anonymous caller, who may do only what
``[server] anonymous`` lists; lacking a permission then is a 401, not a 403.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Mapping

from emailactions.errors import NotAuthenticated, PermissionDenied
from emailactions.config.passwords import SCRYPT_N, SCRYPT_P, SCRYPT_R, PasswordHash, key_digest
from emailactions.server.protocol import printable
from emailactions.config.server import ANONYMOUS, ServerConfig
from emailactions.server.throttle import ApiLimiter

#: IDM's own 401 message.
ACCESS_DENIED = "Access Denied"
#: The failed-login account of every API key attempt.
API_KEYS = "api-key"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one) and what it may do."""

    name: str
    #: "user", "api_key" or "anonymous".
    kind: str
    permissions: frozenset[str]
    #: Sender patterns from its ``senders``; ``None``: with ``*`` any sender,
    #: without it only the configured ``from`` (:mod:`emailactions.params.senders`).
    senders: tuple[str, ...] | None = None
    #: The user's own address (``[server.users.NAME] email``): always a sender it may use.
    email: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    def require(self, permission: str) -> None:
        """Refuse unless this caller holds ``permission``: 401 if anonymous, else 403."""
        if permission in self.permissions:
            return
        if self.anonymous:
            raise NotAuthenticated(ACCESS_DENIED, permission=permission)
        raise PermissionDenied(f"Access denied: {self.name!r} lacks permission {permission!r}", permission=permission)


class Authenticator:
    """Checks credentials against ``[server]`` users and API keys.

    A password is checked with its slow hash once; afterwards a keyed HMAC of
    it (the key lives only in this process) is compared instead, so a busy
    client does not pay ~0.1 s of scrypt per request. Unknown users cost the
    same hash as known ones, so timing does not reveal who exists.
    """

    def __init__(self, settings: ServerConfig, limiter: ApiLimiter) -> None:
        self.settings = settings
        self.limiter = limiter
        self._process_key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        #: Per configured user name: held while its password is hashed.
        self._hashing: dict[str, threading.Lock] = {}
        # What an unknown user's password is checked against: the cost of a
        # configured user's hash, a digest that matches nothing.
        model = next(iter(settings.users.values())).password if settings.users else None
        self._decoy = PasswordHash(
            model.method if model else "scrypt", model.params if model else (SCRYPT_N, SCRYPT_R, SCRYPT_P),
            secrets.token_hex(8), secrets.token_bytes(len(model.digest) if model else 64),
        )
        self.anonymous = Principal(ANONYMOUS, "anonymous", settings.anonymous)

    def authenticate(self, headers: Mapping[str, str], client: str) -> Principal:
        """The caller behind these headers; 401 for wrong credentials, 429 past
        ``auth_failures`` for one user name from one client address."""
        principal = self._check(headers, client, hash_ok=True)
        assert principal is not None
        return principal

    def quick(self, headers: Mapping[str, str], client: str) -> Principal | None:
        """:meth:`authenticate` where no slow hash is needed (anonymous, an API
        key, a password verified before): cheap enough for the event loop.
        ``None`` when only the password hash can tell: call :meth:`authenticate`
        in a worker thread."""
        return self._check(headers, client, hash_ok=False)

    def _check(self, headers: Mapping[str, str], client: str, *, hash_ok: bool) -> Principal | None:
        username = headers.get("x-openidm-username")
        password = headers.get("x-openidm-password")
        authorization = (headers.get("authorization") or "").strip()
        if username is None and password is None and not authorization:
            return self.anonymous
        if username == ANONYMOUS and password == ANONYMOUS:
            return self.anonymous
        if username is not None or password is not None:
            return self._throttled(client, username, password, hash_ok)
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() == "basic":
            return self._throttled(client, *_basic(rest.strip()), hash_ok)
        try:
            return self._api_key(rest.strip() if scheme.lower() == "bearer" else authorization)
        except NotAuthenticated:
            # A right key costs one SHA-256 and is never refused for others'
            # failures; past the limit, wrong ones are answered 429, not 401.
            self.limiter.check_failures(client, API_KEYS)
            self.limiter.failed(client, API_KEYS)
            raise

    def _throttled(self, client: str, username: str | None, password: str | None, hash_ok: bool) -> Principal | None:
        """A user login, throttled per user name and client address (before the slow hash)."""
        account = f"user:{(username or '')[:64]}"
        self.limiter.check_failures(client, account)
        try:
            return self._user(username, password, hash_ok)
        except NotAuthenticated:
            self.limiter.failed(client, account)
            raise

    @staticmethod
    def claimed(headers: Mapping[str, str]) -> str:
        """Who a request says it is, for the log: a user name or "api-key", never a secret."""
        username = headers.get("x-openidm-username")
        if username is None:
            scheme, _, rest = (headers.get("authorization") or "").strip().partition(" ")
            if scheme.lower() != "basic":
                return "api-key" if scheme else "-"
            username = _basic(rest.strip())[0] or "-"
        # Printable and short: a name with line breaks must not forge log lines.
        return printable(username, 64)

    def _user(self, username: str | None, password: str | None, hash_ok: bool) -> Principal | None:
        if not username or password is None:
            raise NotAuthenticated(ACCESS_DENIED)
        user = self.settings.users.get(username)
        tag = hmac.new(self._process_key, f"{username}\0{password}".encode("utf-8", "surrogatepass"), "sha256").digest()
        with self._lock:
            known = self._verified.get(username)
        if user is not None and known is not None and hmac.compare_digest(known, tag):
            return Principal(user.name, "user", user.permissions, user.senders, user.email)
        if not hash_ok:
            return None  # a first login, a wrong password or an unknown user: all pay the hash
        if user is None:
            self._decoy.verify(password)
            raise NotAuthenticated(ACCESS_DENIED)
        # One slow hash per user at a time: 20 connections opening at once with
        # the same credentials wait for the first hash, then hit the cache,
        # instead of running 20 scrypts (32 MB each) side by side.
        with self._lock:
            single = self._hashing.setdefault(username, threading.Lock())
        with single:
            with self._lock:
                known = self._verified.get(username)
            if known is None or not hmac.compare_digest(known, tag):
                if not user.password.verify(password):
                    raise NotAuthenticated(ACCESS_DENIED)
                with self._lock:
                    self._verified[username] = tag
        return Principal(user.name, "user", user.permissions, user.senders, user.email)

    def _api_key(self, key: str) -> Principal:
        if not key:
            raise NotAuthenticated(ACCESS_DENIED)
        digest = key_digest(key)
        found = None
        # Every configured key is compared, match or not: no early exit to time.
        for api_key in self.settings.api_keys.values():
            if hmac.compare_digest(api_key.digest, digest):
                found = api_key
        if found is None:
            raise NotAuthenticated(ACCESS_DENIED)
        return Principal(found.name, "api_key", found.permissions, found.senders)


def _basic(token: str) -> tuple[str | None, str | None]:
    """``user:password`` from an HTTP Basic token; (None, None) if malformed."""
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, None)

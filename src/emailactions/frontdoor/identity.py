"""Who logs in over SMTP AUTH: ``[server]`` users, API keys, or address tokens.

* a user: its name and password (the same hashes and throttling as REST);
* an API key: user name ``apikey`` (as SendGrid's relay spells it) or
  ``api-key``, the key as the password;
* an address token: user name ``jwt``, the token as the password, as
  cloudflare_temp_email's SMTP proxy has it; the holder may send only as
  the token's address.
"""

from __future__ import annotations

import logging

from emailactions.config.server import ServerConfig
from emailactions.errors import NotAuthenticated
from emailactions.server import address_tokens
from emailactions.server.auth import ACCESS_DENIED, API_KEYS, Authenticator, Principal
from emailactions.server.throttle import ApiLimiter

log = logging.getLogger("emailactions.frontdoor")

#: User names that mean "the password is an API key".
API_KEY_USERS = ("apikey", "api-key")
#: The user name that means "the password is an address token".
TOKEN_USER = "jwt"


class Identities:
    """Checks SMTP logins against ``[server]``, counting failures per client address."""

    def __init__(self, settings: ServerConfig, limiter: ApiLimiter) -> None:
        self.settings = settings
        self.limiter = limiter
        self.auth = Authenticator(settings, limiter)

    def login(self, username: str, password: str, client: str) -> Principal:
        """The identity behind these credentials; ``NotAuthenticated`` (535) or ``RateLimited`` (454)."""
        if username.lower() in API_KEY_USERS:
            return self.auth.authenticate({"authorization": f"Bearer {password}"}, client)
        if username.lower() == TOKEN_USER:
            self.limiter.check_failures(client, API_KEYS)
            try:
                return self._token(password)
            except NotAuthenticated:
                self.limiter.failed(client, API_KEYS)
                raise
        return self.auth.authenticate({"x-openidm-username": username, "x-openidm-password": password}, client)

    def _token(self, token: str) -> Principal:
        """An address token's holder: may ``send``, only from its address."""
        secret = self.settings.address_token_secret()
        if secret is None:
            log.error("an address token came in, but neither [server] jwt_secret nor EMAILACTIONS_JWT_SECRET is set")
            raise NotAuthenticated(ACCESS_DENIED)
        try:
            address = address_tokens.address_of(token, secret)
        except NotAuthenticated:
            raise NotAuthenticated(ACCESS_DENIED) from None  # SMTP says no more than "535"
        return Principal(address, "address_token", frozenset({"send"}), senders=(), email=address)

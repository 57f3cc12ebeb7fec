"""Address tokens: HS256 JWTs that bind their holder to one sender address.

Issued by ``emailactions address-token``, signed with ``[server] jwt_secret``
(or ``EMAILACTIONS_JWT_SECRET``), and checked by the tempmail dialect and the
SMTP front door (user ``jwt``). No web framework here: both doors import it.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from emailactions.errors import NotAuthenticated

ALGORITHM = "HS256"


def issue(address: str, secret: str, expires_in: int | None = None, now: float | None = None) -> dict[str, Any]:
    """A signed address token, and when it expires (``None``: never)."""
    import jwt

    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"address": address, "iat": issued}
    expires_at = None
    if expires_in is not None:
        claims["exp"] = issued + expires_in
        expires_at = datetime.fromtimestamp(claims["exp"], timezone.utc).isoformat().replace("+00:00", "Z")
    return {"address": address, "jwt": jwt.encode(claims, secret, algorithm=ALGORITHM), "expiresAt": expires_at}


def address_of(token: Any, secret: str) -> str:
    """The address ``token`` was issued for; ``NotAuthenticated`` saying why when it is not good."""
    import jwt

    if not isinstance(token, str) or not token:
        raise NotAuthenticated("No address token")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["address"]})
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"Invalid address token: {exc}") from None
    address = claims["address"]
    if not isinstance(address, str) or not address:
        raise NotAuthenticated("Invalid address token: no address")
    return address

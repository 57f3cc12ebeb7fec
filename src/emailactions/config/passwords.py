"""Password and API-key hashing for ``[server]`` credentials (stdlib only; config checks them at load).

Password hashes use werkzeug's format, so hashes made by Flask tooling work
too: ``scrypt:N:r:p$salt$hexdigest`` (what we make) and
``pbkdf2:sha256:iterations$salt$hexdigest``. API keys are long random
strings, so a plain SHA-256 of the key is enough (nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

#: scrypt cost parameters (werkzeug's defaults): about 0.1 s and 32 MiB per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
#: Upper bounds accepted from config, so a hostile hash cannot stall every login.
MAX_SCRYPT_N, MAX_SCRYPT_R, MAX_SCRYPT_P = 2**20, 32, 16
MAX_PBKDF2_ITERATIONS = 5_000_000
MIN_PBKDF2_ITERATIONS = 100_000
PBKDF2_HASHES = ("sha256", "sha512")
_SALT_CHARS = string.ascii_letters + string.digits
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class PasswordHash:
    """A parsed password hash: method, parameters, salt and digest."""

    method: str  # "scrypt" or "pbkdf2"
    params: tuple[int | str, ...]
    salt: str
    digest: bytes

    def compute(self, password: str) -> bytes:
        """The digest ``password`` would have under this hash's method and salt."""
        secret, salt = password.encode("utf-8"), self.salt.encode("utf-8")
        if self.method == "scrypt":
            n, r, p = (int(v) for v in self.params)
            return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=132 * n * r * p, dklen=len(self.digest))
        name, iterations = str(self.params[0]), int(self.params[1])
        return hashlib.pbkdf2_hmac(name, secret, salt, iterations, dklen=len(self.digest))

    def verify(self, password: str) -> bool:
        """Whether ``password`` matches, compared in constant time."""
        return hmac.compare_digest(self.compute(password), self.digest)


def parse_hash(text: str) -> PasswordHash:
    """Read a stored hash; ``ValueError`` says what is wrong (never echoing it)."""
    method, sep1, rest = text.partition("$")
    salt, sep2, hexdigest = rest.partition("$")
    if not (sep1 and sep2 and salt and hexdigest):
        raise ValueError("not a password hash (expected 'scrypt:N:r:p$salt$hex'; make one with `emailactions hash-password`)")
    if not _HEX.fullmatch(hexdigest) or len(hexdigest) % 2 or len(hexdigest) < 32:
        raise ValueError("the digest must be hexadecimal (at least 16 bytes)")
    parts = method.split(":")
    digest = bytes.fromhex(hexdigest)
    if parts[0] == "scrypt" and len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
        n, r, p = (int(v) for v in parts[1:])
        if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or not 1 <= r <= MAX_SCRYPT_R or not 1 <= p <= MAX_SCRYPT_P:
            raise ValueError(f"scrypt parameters out of range (N a power of two up to {MAX_SCRYPT_N}, r <= {MAX_SCRYPT_R}, p <= {MAX_SCRYPT_P})")
        return PasswordHash("scrypt", (n, r, p), salt, digest)
    if parts[0] == "pbkdf2" and len(parts) == 3 and parts[1] in PBKDF2_HASHES and parts[2].isdigit():
        iterations = int(parts[2])
        if not MIN_PBKDF2_ITERATIONS <= iterations <= MAX_PBKDF2_ITERATIONS:
            raise ValueError(f"pbkdf2 iterations must be between {MIN_PBKDF2_ITERATIONS} and {MAX_PBKDF2_ITERATIONS}")
        return PasswordHash("pbkdf2", (parts[1], iterations), salt, digest)
    raise ValueError("unknown hash method (use scrypt:N:r:p or pbkdf2:sha256:iterations)")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A new scrypt hash of ``password`` with a random salt, in werkzeug's format."""
    salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(16))
    digest = PasswordHash("scrypt", (n, r, p), salt, bytes(64)).compute(password)
    return f"scrypt:{n}:{r}:{p}${salt}${digest.hex()}"


def key_digest(key: str) -> bytes:
    """The SHA-256 an API key is stored and compared as."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def new_api_key() -> str:
    """A fresh random API key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)

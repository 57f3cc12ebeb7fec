"""``[dkim]``: which domain signs outgoing mail, with which key, over which headers.

The private key is read and checked when the config loads, so a missing,
unreadable, exposed or malformed key stops the host from starting rather
than the first message (or a queued one at 3 a.m.) from being sent.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from emailactions.config import validate
from emailactions.errors import ConfigError

ALGORITHMS = ("rsa-sha256", "ed25519-sha256")
#: Signed when present (RFC 6376 5.4.1's list, trimmed to what transactional mail carries).
DEFAULT_HEADERS = (
    "From", "Reply-To", "Sender", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post",
)  # fmt: skip
#: Signed once more than they appear, so a second one added later breaks the signature.
DEFAULT_OVERSIGN = ("From",)
#: Headers a signature must not cover: relays add, change or remove them.
UNSIGNABLE = {"bcc", "resent-bcc", "return-path", "received", "dkim-signature", "comments", "keywords"}
_LABELS = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$")
_HEADER = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name


@dataclass(frozen=True)
class DKIMConfig:
    """A signing identity: ``d=domain``, ``s=selector`` and the key for them."""

    domain: str
    selector: str
    private_key: Path
    algorithm: str = "rsa-sha256"
    headers: tuple[str, ...] = DEFAULT_HEADERS
    oversign: tuple[str, ...] = DEFAULT_OVERSIGN
    #: The key file's content, read once at load; never shown.
    key: bytes = field(default=b"", repr=False)


def parse_dkim(data: Any, base: Path | None) -> DKIMConfig:
    """``[dkim] domain, selector, private_key`` (required), ``algorithm``, ``headers``, ``oversign``."""
    values = validate.section(data, {
        "domain": _name, "selector": _name,
        "private_key": lambda value, key: validate.path(value, key, base),
        "algorithm": partial(validate.choice, choices=ALGORITHMS),
        "headers": _headers, "oversign": _headers,
    }, "dkim")  # fmt: skip
    for key in ("domain", "selector", "private_key"):
        if key not in values:
            raise ConfigError(f"Config key 'dkim.{key}' is required", key=f"dkim.{key}")
    if "from" not in {h.lower() for h in values.get("headers", DEFAULT_HEADERS)}:
        raise ConfigError("Config key 'dkim.headers' must include From (RFC 6376 5.4)", key="dkim.headers")
    return DKIMConfig(**values, key=_read_key(values["private_key"], values.get("algorithm", "rsa-sha256")))


def _name(value: Any, key: str) -> str:
    """A domain or selector: dot-separated DNS labels, ASCII (an IDN in its xn-- form)."""
    value = validate.typed(value, str, key).rstrip(".")
    if not _LABELS.match(value):
        raise ConfigError(f"Config key {key!r} must be a DNS name in ASCII (an IDN as xn--...), not {value!r}", key=key)
    return value.lower()


def _headers(value: Any, key: str) -> tuple[str, ...]:
    names = validate.typed(value, list, key)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _HEADER.match(name):
            raise ConfigError(f"Config key '{key}[{i}]' must be a header field name", key=f"{key}[{i}]")
        if name.lower() in UNSIGNABLE:
            raise ConfigError(f"Config key '{key}[{i}]': {name} must not be signed (relays change it)", key=f"{key}[{i}]")
    return tuple(names)


def _read_key(path: Path, algorithm: str) -> bytes:
    """The key file's bytes: present, readable, private to its owner, and a key of ``algorithm``.

    A key others can read signs mail as the domain for whoever reads it, so a
    file with any group or other permission is refused, as OpenSSH refuses one.
    """
    key = "dkim.private_key"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"Config key {key!r}: {path} is not a file", key=key)
        if os.name == "posix" and info.st_mode & 0o077:
            raise ConfigError(
                f"Config key {key!r}: {path} is accessible to group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); make it private: chmod 600 {path}",
                key=key,
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Config key {key!r}: no such file: {path}", key=key) from None
    except PermissionError:
        raise ConfigError(f"Config key {key!r}: {path} cannot be read by this process", key=key) from None
    except OSError as exc:
        raise ConfigError(f"Config key {key!r}: {path} cannot be read: {exc.strerror}", key=key) from None
    _check_key(data.strip(), algorithm, key)
    return data.strip()


def _check_key(data: bytes, algorithm: str, key: str) -> None:
    """Parse the key as dkimpy will, so a bad key fails at load, never the contents in the error."""
    try:
        import dkim.crypto
    except ImportError:
        raise ConfigError("[dkim] needs dkimpy: pip install 'emailactions[dkim]'", key="dkim") from None
    if algorithm == "rsa-sha256":
        try:
            parsed = dkim.crypto.parse_pem_private_key(data)
        except dkim.crypto.UnparsableKeyError:
            raise ConfigError(f"Config key {key!r} is not a PEM RSA private key", key=key) from None
        if parsed["modulus"].bit_length() < 1024:
            # Verifiers refuse shorter keys (RFC 8301); 2048 bits is today's advice.
            raise ConfigError(f"Config key {key!r}: the RSA key must have at least 1024 bits (2048 advised)", key=key)
        return
    try:
        import nacl.encoding
        import nacl.exceptions
        import nacl.signing
    except ImportError:
        raise ConfigError("ed25519-sha256 needs PyNaCl: pip install 'emailactions[dkim]'", key="dkim.algorithm") from None
    try:
        nacl.signing.SigningKey(data, encoder=nacl.encoding.Base64Encoder)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError, ValueError):
        raise ConfigError(f"Config key {key!r} is not an ed25519 private key (the base64 of its 32-byte seed)", key=key) from None

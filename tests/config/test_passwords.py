"""Password hashes (werkzeug's format) and API-key digests for ``[server]`` credentials."""

from __future__ import annotations

import hashlib

import pytest

from emailactions.config.passwords import hash_password, key_digest, new_api_key, parse_hash

FAST = {"n": 2**10, "r": 8, "p": 1}


def test_a_new_hash_verifies_its_password_only():
    stored = hash_password("openidm-admin", **FAST)
    assert stored.startswith("scrypt:1024:8:1$")
    parsed = parse_hash(stored)
    assert parsed.verify("openidm-admin") and not parsed.verify("openidm-admiN")
    assert hash_password("openidm-admin", **FAST) != stored  # a fresh salt each time


def test_werkzeug_pbkdf2_hashes_verify():
    salt, password = "abcdefgh", "s3cret"
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 600_000).hex()
    assert parse_hash(f"pbkdf2:sha256:600000${salt}${digest}").verify(password)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("plain-password", "not a password hash"),
        ("scrypt:1024:8:1$salt$zz" + "0" * 32, "hexadecimal"),
        ("scrypt:1000:8:1$salt$" + "0" * 64, "out of range"),  # N not a power of two
        ("pbkdf2:sha256:10$salt$" + "0" * 64, "iterations"),
        ("md5$salt$" + "0" * 64, "unknown hash method"),
    ],
)
def test_bad_hashes_say_what_is_wrong_without_echoing_them(text, problem):
    with pytest.raises(ValueError) as info:
        parse_hash(text)
    assert problem in str(info.value) and text not in str(info.value)


def test_api_keys_are_random_and_stored_as_sha256():
    a, b = new_api_key(), new_api_key()
    assert a != b and len(a) >= 43
    assert key_digest(a) == hashlib.sha256(a.encode()).digest()

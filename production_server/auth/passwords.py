"""scrypt password hashes in the AUTH-6 format `scrypt$16384$8$1$<salt b64>$<hash b64>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 16384, 8, 1
SALT_BYTES = 16
KEY_BYTES = 64
MIN_LENGTH, MAX_LENGTH = 8, 128


def password_length_ok(password: str) -> bool:
    return MIN_LENGTH <= len(password) <= MAX_LENGTH


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=256 * 1024 * 1024)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _derive(password, salt, N, R, P, KEY_BYTES)
    return "$".join(["scrypt", str(N), str(R), str(P), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time comparison; a malformed or missing hash never verifies."""
    if not stored or not password_length_ok(password):
        return False
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
        if int(n) != N or int(r) != R or int(p) != P:
            return False
        actual = _derive(password, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)

"""Password checks for htpasswd hashes: bcrypt ($2y$/$2a$/$2b$), apr1 MD5 ($apr1$), SHA-1 ({SHA}).

These are the formats `htpasswd` writes (-B, -m default, -s). crypt(3) DES and plaintext are
refused at load. bcrypt and apr1 are deliberately slow, so callers run `verify` in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def verify(password: str, hashed: str) -> bool:
    pw = password.encode()
    if hashed.startswith("{SHA}"):
        digest = base64.b64encode(hashlib.sha1(pw).digest()).decode()
        return hmac.compare_digest(digest, hashed[5:])
    if hashed.startswith("$apr1$"):
        salt = hashed[6:].split("$", 1)[0]
        return hmac.compare_digest(apr1(pw, salt.encode()).decode(), hashed)
    if hashed.startswith(("$2y$", "$2a$", "$2b$")):
        # The bcrypt library knows $2a$/$2b$; $2y$ (PHP/Apache spelling) is the same algorithm.
        normalized = "$2b$" + hashed[4:] if hashed.startswith("$2y$") else hashed
        try:
            return bool(bcrypt.checkpw(pw, normalized.encode()))
        except ValueError:
            return False
    return False


def apr1(password: bytes, salt: bytes) -> bytes:
    """Apache's MD5-crypt variant (`htpasswd -m`, `openssl passwd -apr1`)."""
    magic = b"$apr1$"
    salt = salt[:8]
    final = hashlib.md5(password + salt + password).digest()
    ctx = password + magic + salt
    for left in range(len(password), 0, -16):
        ctx += final[: min(16, left)]
    i = len(password)
    while i:
        ctx += b"\x00" if i & 1 else password[:1]
        i >>= 1
    final = hashlib.md5(ctx).digest()
    for i in range(1000):  # the algorithm's fixed cost
        round_ = password if i & 1 else final
        if i % 3:
            round_ += salt
        if i % 7:
            round_ += password
        round_ += final if i & 1 else password
        final = hashlib.md5(round_).digest()
    out = b""
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        out += _to64(final[a] << 16 | final[b] << 8 | final[c], 4)
    out += _to64(final[11], 2)
    return magic + salt + b"$" + out


def _to64(value: int, n: int) -> bytes:
    out = bytearray()
    for _ in range(n):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return bytes(out)

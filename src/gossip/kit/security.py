"""Password hashing, access tokens and opaque secrets.

Access tokens are short-lived HS256 JWTs naming the user and the login session (`sid`), so
logout can revoke them before they expire. Refresh tokens and other bearer secrets are random
and stored only as SHA-256 digests: they carry 256 bits of entropy, so a slow hash adds
nothing, while passwords (low entropy) get argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHashing:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Verifying against this keeps a login for an unknown email as slow as a real one,
        # so timing does not reveal which emails have accounts.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: int
    expires_at: int


class AccessTokens:
    algorithm = "HS256"

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._ttl = ttl_seconds

    def issue(self, user_id: int, session_id: int) -> str:
        now = int(time.time())
        payload = {"sub": str(user_id), "sid": str(session_id), "iat": now, "exp": now + self._ttl}
        return jwt.encode(payload, self._secret, algorithm=self.algorithm)

    def read(self, token: str) -> AccessClaims | None:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[self.algorithm],
                options={"require": ["sub", "sid", "exp"]},
            )
            return AccessClaims(int(payload["sub"]), int(payload["sid"]), int(payload["exp"]))
        except (jwt.PyJWTError, ValueError, TypeError):
            return None


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

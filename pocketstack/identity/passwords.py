"""Password and secret hashing: argon2id by default (bcrypt accepted), never logged."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


class Hasher:
    def __init__(self, algorithm: str = "argon2id", rounds: int = 2) -> None:
        if algorithm not in ("argon2id", "bcrypt"):
            raise ValueError(f"unsupported password_hash_algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.rounds = rounds
        # OWASP's argon2id setting: 19 MiB, time cost 2, one lane.
        self._argon = PasswordHasher(time_cost=max(1, rounds), memory_cost=19456,
                                     parallelism=1, type=Type.ID)

    def hash(self, secret: str) -> str:
        if self.algorithm == "bcrypt":
            import bcrypt

            return bcrypt.hashpw(_prehash(secret), bcrypt.gensalt(self.rounds)).decode()
        return self._argon.hash(secret)

    def verify(self, secret: str, hashed: str | None) -> bool:
        if not hashed:
            return False
        if hashed.startswith("$argon2"):
            try:
                return self._argon.verify(hashed, secret)
            except (VerificationError, InvalidHashError):
                return False
        if hashed.startswith("$2"):
            import bcrypt

            return bcrypt.checkpw(_prehash(secret), hashed.encode())
        return False


def _prehash(secret: str) -> bytes:
    # bcrypt reads at most 72 bytes; hash longer secrets first so that all of it counts.
    data = secret.encode()
    if len(data) > 72:
        return hashlib.sha256(data).hexdigest().encode()
    return data


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

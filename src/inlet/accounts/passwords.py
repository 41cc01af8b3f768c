"""Password hashing with argon2id. The cheap profile exists only so tests stay fast."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_PROFILES = {
    "standard": PasswordHasher(),  # argon2-cffi's RFC 9106 low-memory defaults
    "fast-insecure-for-tests": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
}
# A hash of a random password, verified when a username does not exist so that timing does not
# reveal which usernames exist.
_DUMMY: dict[str, str] = {}


def hasher(profile: str) -> PasswordHasher:
    return _PROFILES[profile]


def hash_password(password: str, profile: str) -> str:
    return hasher(profile).hash(password)


def verify_password(password_hash: str | None, password: str, profile: str) -> bool:
    ph = hasher(profile)
    if password_hash is None:
        if profile not in _DUMMY:
            _DUMMY[profile] = ph.hash("not-a-password-anyone-has")
        password_hash = _DUMMY[profile]
        with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
            ph.verify(password_hash, password)
        return False
    try:
        return ph.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False

"""Deterministic randomness and identifiers: everything a simulator generates derives from its seed.

``derive(seed, *parts)`` gives an independent 64-bit stream seed per purpose (an account's physiology,
a day's plan, a transmitter's id), so adding a purpose never shifts the numbers of another one.
"""

from __future__ import annotations

import hashlib
import random
import uuid


def _digest(seed: int, parts: tuple[object, ...]) -> bytes:
    text = "\x1f".join([str(seed), *(str(part) for part in parts)])
    return hashlib.sha256(text.encode()).digest()


def derive(seed: int, *parts: object) -> int:
    """A 64-bit integer determined by ``seed`` and ``parts``."""
    return int.from_bytes(_digest(seed, parts)[:8], "big")


def rng(seed: int, *parts: object) -> random.Random:
    return random.Random(derive(seed, *parts))


def record_id(seed: int, *parts: object) -> str:
    """A UUID-shaped record id (version 4 and variant bits set) that repeats for the same inputs."""
    return str(uuid.UUID(bytes=_digest(seed, parts)[:16], version=4))


def hex64(seed: int, *parts: object) -> str:
    """A 64-hex identifier, the shape of Dexcom's hashed transmitter ids."""
    return _digest(seed, parts).hex()

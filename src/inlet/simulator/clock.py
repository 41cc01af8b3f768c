"""The simulated clock: a base clock (the real one, or one a test sets) plus an offset the admin API moves.

Every time-dependent answer of a simulator (which records are visible, token and code expiry, the rate
limit window) reads ``SimClock.now()``; nothing reads the system clock directly, so tests move time
instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until told to move (for tests)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)


class SimClock:
    """``base() + offset``: the admin endpoint advances the offset, tests may also move the base."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base: Clock = base or utc_now
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        value = self._base()
        if value.tzinfo is None:
            raise ValueError("the simulator's clock must return timezone-aware datetimes")
        return value.astimezone(UTC) + offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._offset += delta
        return self.now()

    def set(self, instant: datetime) -> datetime:
        """Make ``now()`` return ``instant`` (from then on it moves with the base clock)."""
        base = self._base().astimezone(UTC)
        with self._lock:
            self._offset = instant.astimezone(UTC) - base
        return self.now()

    def set_offset(self, offset: timedelta) -> None:
        with self._lock:
            self._offset = offset

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

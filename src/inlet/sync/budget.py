"""The partner's request budget, shared by every worker process through the database, and its
circuit breaker.

A partner app has one hourly budget (Dexcom: 60,000 requests) however many workers call it, so the
count lives in ``partner_budgets`` (one row per partner; the hour it counts for and the requests
granted in it). A worker reserves requests in small blocks (one database round trip per block, not per
request) and spends them locally; a block is at most 1/600 of the hourly budget, so what a crashed
worker leaves unspent is negligible.

The breaker: a 429 from the partner blocks *every* worker's calls to it until its ``Retry-After``
(``blocked_until``); runs that meet a closed breaker end without calling and are rescheduled after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from inlet.db.schema import partner_budgets
from inlet.model.timeutil import US

HOUR_US = 3600 * US
MAX_BLOCK = 100


def block_size(requests_per_hour: int) -> int:
    return max(1, min(MAX_BLOCK, requests_per_hour // 600))


@dataclass(frozen=True)
class Refusal:
    """Why no request may go out now, and when one may again (microseconds)."""

    reason: str  # "blocked" (breaker open) or "budget" (the hour's budget is spent)
    until: int


def _row(conn: Connection, slug: str, now: int) -> tuple[int, int, int | None]:
    """(window_start, used, blocked_until) of the partner's row, locked for update (created if new)."""
    t = partner_budgets.c
    query = select(t.window_start, t.used, t.blocked_until).where(t.provider_name == slug)
    row = conn.execute(query.with_for_update()).first()
    if row is None:
        # Two workers may meet a new partner at once: the loser's insert does nothing, then it waits.
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        window = now - now % HOUR_US
        conn.execute(
            dialect_insert(partner_budgets)
            .values(provider_name=slug, window_start=window, used=0)
            .on_conflict_do_nothing(index_elements=["provider_name"])
        )
        row = conn.execute(query.with_for_update()).one()
    return int(row.window_start), int(row.used), row.blocked_until


def reserve(conn: Connection, slug: str, want: int, limit: int, now: int) -> int | Refusal:
    """Grant up to ``want`` requests of the partner's current hour (in ``conn``'s transaction)."""
    window, used, blocked = _row(conn, slug, now)
    if blocked is not None and blocked > now:
        return Refusal("blocked", int(blocked))
    current = now - now % HOUR_US
    if window != current:
        window, used = current, 0
    granted = max(0, min(want, limit - used))
    if granted == 0:
        return Refusal("budget", window + HOUR_US)
    conn.execute(
        update(partner_budgets)
        .where(partner_budgets.c.provider_name == slug)
        .values(window_start=window, used=used + granted, modified_time=now)
    )
    return granted


def trip(conn: Connection, slug: str, until: int, reason: str, now: int) -> None:
    """Open the breaker until ``until`` (never shortening one already open)."""
    _, _, blocked = _row(conn, slug, now)
    if blocked is not None and blocked >= until:
        return
    conn.execute(
        update(partner_budgets)
        .where(partner_budgets.c.provider_name == slug)
        .values(blocked_until=until, block_reason=reason[:200], modified_time=now)
    )


@dataclass
class BudgetGate:
    """A worker's view of every partner's budget: reserves blocks from the database, spends them
    locally (thread-safe: runs execute in worker threads). ``clock`` returns microseconds.

    ``db_clock`` (the database's time, :func:`inlet.sync.leases.db_now`): the hour windows and the
    breaker are judged on it, so workers whose own clocks disagree still share one window; between
    round trips the local clock plus the offset last seen stands in for it. Without it, ``clock``
    is taken as the database's time (tests)."""

    engine: Engine
    clock: Callable[[], int]
    db_clock: Callable[[Connection], int] | None = None
    _offset: int = 0
    _held: dict[str, tuple[int, int]] = field(default_factory=dict)  # slug -> (window_start, left)
    _blocked: dict[str, int] = field(default_factory=dict)  # slug -> blocked until, as last seen
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, slug: str, limit: int) -> Refusal | None:
        """One request's worth of budget, or why not."""
        now = self.now()
        with self._lock:
            blocked = self._blocked.get(slug)
            if blocked is not None and blocked > now:
                return Refusal("blocked", blocked)
            window = now - now % HOUR_US
            held_window, left = self._held.get(slug, (window, 0))
            if held_window == window and left > 0:
                self._held[slug] = (window, left - 1)
                return None
        with self.engine.begin() as conn:
            now = self._db_now(conn)
            granted = reserve(conn, slug, block_size(limit), limit, now)
        window = now - now % HOUR_US
        with self._lock:
            if isinstance(granted, Refusal):
                if granted.reason == "blocked":
                    self._blocked[slug] = granted.until
                return granted
            self._held[slug] = (window, granted - 1)
            return None

    def trip(self, slug: str, until: int, reason: str) -> None:
        """Open the partner's breaker for every worker, and drop the requests held here."""
        with self.engine.begin() as conn:
            trip(conn, slug, until, reason, self._db_now(conn))
        with self._lock:
            self._blocked[slug] = max(until, self._blocked.get(slug, 0))
            self._held.pop(slug, None)

    def now(self) -> int:
        """The database's time as this worker last saw it, moved on by the local clock."""
        return self.clock() + self._offset

    def _db_now(self, conn: Connection) -> int:
        if self.db_clock is None:
            return self.clock()
        now = self.db_clock(conn)
        self._offset = now - self.clock()
        return now

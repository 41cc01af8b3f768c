"""The partner's schedule policy as pure functions: no database, no wall clock, no global random.

Every function takes the current instant (an aware ``datetime``) and, where it draws, a
``random.Random``; tests inject both. The knobs come from the partner's :class:`Policy` (its manifest,
with the ``INLET_PARTNER_<SLUG>_*`` overrides already applied).

- :func:`effective_interval`: the manifest's ``[interval_min, interval_max]`` minutes, stretched evenly
  for every person when the partner's requests-per-hour budget cannot carry all of them at that pace;
- :func:`next_run_time`: uniformly random in the effective interval from ``now``, moved out of any
  blackout window;
- :func:`leave_blackouts`: an instant inside a blackout window moves to the window's end plus jitter
  (windows are wall-clock times of their own IANA zone, computed per local date, so DST-safe);
- :func:`backoff_delay`: jittered exponential backoff after failures.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from inlet.partners.contract import Blackout, Policy

DEFAULT_CALLS_PER_RUN = 2.0  # dataRange + one data endpoint: a typical incremental run
BUDGET_SHARE = 0.9  # the share of the partner's hourly budget scheduled runs may plan to use
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_CAP = timedelta(hours=8)
_MAX_HOPS = 16  # blackout windows that may be chained back to back (more is a configuration error)


class PolicyError(ValueError):
    """The policy leaves no instant to run in (blackout windows covering the whole day)."""


@dataclass(frozen=True)
class EffectiveInterval:
    """The interval every person of a partner is polled at now: the manifest's, times ``stretch``."""

    min_minutes: float
    max_minutes: float
    stretch: float  # 1.0: the manifest's interval; > 1: the budget is short

    @property
    def mean_minutes(self) -> float:
        return (self.min_minutes + self.max_minutes) / 2


def effective_interval(
    policy: Policy,
    active_tasks: int,
    calls_per_run: float = DEFAULT_CALLS_PER_RUN,
    share: float = BUDGET_SHARE,
) -> EffectiveInterval:
    """The manifest interval, stretched evenly when ``active_tasks`` people polled at its mean would
    need more than ``share`` of the partner's ``requests_per_hour``.

    Demand per hour at the mean interval ``m`` minutes is ``active_tasks * calls_per_run * 60 / m``;
    when it exceeds ``share * requests_per_hour`` both bounds are multiplied by the ratio, so every
    person waits proportionally longer and nobody is starved."""
    if active_tasks < 0 or calls_per_run <= 0 or not 0 < share <= 1:
        raise ValueError("active_tasks >= 0, calls_per_run > 0 and 0 < share <= 1 are required")
    mean = (policy.interval_min + policy.interval_max) / 2
    demand_per_hour = active_tasks * calls_per_run * 60.0 / mean
    capacity_per_hour = share * policy.requests_per_hour
    stretch = max(1.0, demand_per_hour / capacity_per_hour)
    return EffectiveInterval(policy.interval_min * stretch, policy.interval_max * stretch, stretch)


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return instant.astimezone(UTC)


def _local_instant(day: datetime, wall: time, zone: ZoneInfo) -> datetime:
    """The first real instant at or after the wall-clock ``wall`` on the local date of ``day``: an
    ambiguous time (DST fall-back) takes its first occurrence; a nonexistent one (spring-forward gap)
    takes the offset before the gap, which lands just after it."""
    local = datetime.combine(day.date(), wall, tzinfo=zone)
    return local.replace(fold=0).astimezone(UTC)


def blackout_end(instant: datetime, window: Blackout) -> datetime | None:
    """Where ``window`` ends, as a UTC instant, when ``instant`` is inside it; else ``None``."""
    instant = _utc(instant)
    if not window.contains(instant):
        return None
    zone = ZoneInfo(window.zone)
    local = instant.astimezone(zone)
    day = local
    if window.start > window.end and local.time().replace(tzinfo=None) >= window.start:
        day = local + timedelta(days=1)  # a window over midnight that started today ends tomorrow
    end = _local_instant(day, window.end, zone)
    if end <= instant:  # cannot happen for a well-formed window; never move backwards
        end = instant + timedelta(minutes=1)
    return end


def window_minutes(window: Blackout) -> float:
    """The window's nominal length in wall-clock minutes (what its jitter spreads runs over)."""
    start = window.start.hour * 60 + window.start.minute
    end = window.end.hour * 60 + window.end.minute
    return float((end - start) % (24 * 60))


def leave_blackouts(
    instant: datetime,
    blackouts: tuple[Blackout, ...],
    rng: random.Random,
    jitter_minutes: float | None = None,
) -> datetime:
    """``instant`` when no window holds it; else the end of the window holding it plus a jitter drawn
    uniformly in ``[0, jitter_minutes]`` (by default the window's own length: the runs that fell due
    during the window are spread over as long a time after it, so the partner sees at most twice the
    usual rate for one window length). Repeats while the result lands in another window."""
    current = _utc(instant)
    for _ in range(_MAX_HOPS):
        holding = next((w for w in blackouts if w.contains(current)), None)
        if holding is None:
            return current
        end = blackout_end(current, holding)
        assert end is not None
        spread = window_minutes(holding) if jitter_minutes is None else jitter_minutes
        current = end + timedelta(minutes=rng.uniform(0.0, spread))
    raise PolicyError("the blackout windows leave no time to run")


def in_blackout(instant: datetime, blackouts: tuple[Blackout, ...]) -> bool:
    return any(window.contains(_utc(instant)) for window in blackouts)


def next_run_time(
    now: datetime,
    policy: Policy,
    rng: random.Random,
    interval: EffectiveInterval | None = None,
) -> datetime:
    """The next run: ``now`` plus a delay drawn uniformly in the effective interval (the manifest's
    when ``interval`` is not given), moved out of the partner's blackout windows."""
    interval = interval or effective_interval(policy, 0)
    delay = rng.uniform(interval.min_minutes, interval.max_minutes)
    return leave_blackouts(_utc(now) + timedelta(minutes=delay), policy.blackouts, rng)


def after_budget(
    until: datetime, interval: EffectiveInterval, policy: Policy, rng: random.Random
) -> datetime:
    """When a run the hour's budget refused runs again: spread uniformly over the first
    ``min(60, interval.min_minutes)`` minutes after the budget renews at ``until`` (out of blackouts),
    so the refused runs of a whole hour do not all call at the top of the next one."""
    spread = min(60.0, interval.min_minutes)
    return leave_blackouts(_utc(until) + timedelta(minutes=rng.uniform(0.0, spread)), policy.blackouts, rng)


def backoff_delay(
    failure_count: int,
    rng: random.Random,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta = BACKOFF_CAP,
) -> timedelta:
    """Jittered exponential backoff after ``failure_count`` consecutive failures (>= 1): a delay drawn
    uniformly in ``[d/2, d]`` with ``d = min(cap, base * 2^(failure_count - 1))``."""
    if failure_count < 1:
        raise ValueError("failure_count must be at least 1")
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2.0 ** min(failure_count - 1, 30))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))

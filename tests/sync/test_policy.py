"""The schedule policy with an injected clock and random: interval distribution, blackout windows
across both DST changes, budget stretching, backoff."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from inlet.partners.contract import Blackout, Policy, apply_overrides
from inlet.partners.registry import load_registry
from inlet.sync.policy import (
    PolicyError,
    backoff_delay,
    blackout_end,
    effective_interval,
    in_blackout,
    leave_blackouts,
    next_run_time,
)

LA = "America/Los_Angeles"
WINDOW = Blackout(time(2, 45), time(3, 45), LA)
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 04:00 PST


def dexcom_policy() -> Policy:
    partner = load_registry({}).get("dexcom")
    assert partner is not None
    return partner.policy


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---- the interval -------------------------------------------------------------------------------


def test_the_dexcom_manifest_carries_the_seed_policy() -> None:
    policy = dexcom_policy()
    assert (policy.interval_min, policy.interval_max) == (45, 75)
    assert policy.requests_per_hour == 60_000
    assert policy.blackouts == (WINDOW,)


def test_next_run_is_uniform_in_the_interval() -> None:
    policy = replace(dexcom_policy(), blackouts=())
    rng = random.Random(7)
    delays = [(next_run_time(NOW, policy, rng) - NOW).total_seconds() / 60 for _ in range(20_000)]
    assert min(delays) >= 45
    assert max(delays) <= 75
    assert min(delays) < 45.1
    assert max(delays) > 74.9
    assert statistics.fmean(delays) == pytest.approx(60, abs=0.3)
    assert statistics.pstdev(delays) == pytest.approx(30 / 12**0.5, rel=0.03)  # uniform's sd
    deciles = [0] * 10
    for delay in delays:
        deciles[min(9, int((delay - 45) / 3))] += 1
    assert all(abs(count - 2000) < 200 for count in deciles), deciles


def test_next_run_follows_the_interval_overrides() -> None:
    partner = load_registry({}).get("dexcom")
    assert partner is not None
    env = {"INLET_PARTNER_DEXCOM_INTERVAL_MIN": "105", "INLET_PARTNER_DEXCOM_INTERVAL_MAX": "135"}
    policy = replace(apply_overrides(partner, env).policy, blackouts=())
    rng = random.Random(1)
    delays = [(next_run_time(NOW, policy, rng) - NOW).total_seconds() / 60 for _ in range(2000)]
    assert min(delays) >= 105
    assert max(delays) <= 135
    assert statistics.fmean(delays) == pytest.approx(120, abs=1)


def test_a_fixed_interval_is_allowed() -> None:
    policy = replace(dexcom_policy(), interval_min=60, interval_max=60, blackouts=())
    assert next_run_time(NOW, policy, random.Random(0)) == NOW + timedelta(minutes=60)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run_time(datetime(2026, 1, 1, 12), dexcom_policy(), random.Random(0))


# ---- blackout windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "start_utc", "end_utc"),
    [
        (date(2026, 1, 15), utc(2026, 1, 15, 10, 45), utc(2026, 1, 15, 11, 45)),  # PST
        (date(2026, 7, 15), utc(2026, 7, 15, 9, 45), utc(2026, 7, 15, 10, 45)),  # PDT
        # spring forward: 02:00 PST jumps to 03:00 PDT, so 02:45 never happens; the window is
        # 03:00-03:45 PDT (45 real minutes)
        (date(2026, 3, 8), utc(2026, 3, 8, 10, 0), utc(2026, 3, 8, 10, 45)),
        # fall back: 01:00-02:00 repeats, 02:45-03:45 is PST, once
        (date(2026, 11, 1), utc(2026, 11, 1, 10, 45), utc(2026, 11, 1, 11, 45)),
    ],
)
def test_the_window_is_the_partner_wall_clock_across_dst(
    day: date, start_utc: datetime, end_utc: datetime
) -> None:
    minute = timedelta(minutes=1)
    # every minute of the day (UTC) is inside exactly when it is in [start_utc, end_utc)
    instant = datetime.combine(day, time(0), tzinfo=UTC)
    inside = []
    while instant < datetime.combine(day, time(0), tzinfo=UTC) + timedelta(days=1):
        if WINDOW.contains(instant):
            inside.append(instant)
        instant += minute
    assert inside[0] == start_utc
    assert inside[-1] == end_utc - minute
    assert len(inside) == (end_utc - start_utc) / minute
    assert blackout_end(start_utc, WINDOW) == end_utc
    assert blackout_end(end_utc - minute, WINDOW) == end_utc
    assert blackout_end(end_utc, WINDOW) is None
    assert blackout_end(start_utc - minute, WINDOW) is None


@pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1), date(2026, 1, 15), date(2026, 7, 15)])
def test_a_due_run_moves_to_the_window_end_plus_jitter(day: date) -> None:
    rng = random.Random(3)
    start = datetime.combine(day, time(8), tzinfo=UTC)
    for step in range(0, 5 * 60, 2):  # 08:00-13:00 UTC covers the window on every one of these days
        instant = start + timedelta(minutes=step)
        moved = leave_blackouts(instant, (WINDOW,), rng)
        assert not WINDOW.contains(moved)
        end = blackout_end(instant, WINDOW)
        if end is None:
            assert moved == instant
        else:
            assert end <= moved <= end + timedelta(minutes=60)  # jitter: up to the window's length
            assert leave_blackouts(instant, (WINDOW,), rng, jitter_minutes=0) == end


def test_the_jitter_spreads_runs_over_the_window_length() -> None:
    rng = random.Random(11)
    inside = utc(2026, 1, 15, 11, 0)
    end = utc(2026, 1, 15, 11, 45)
    jitters = [(leave_blackouts(inside, (WINDOW,), rng) - end).total_seconds() / 60 for _ in range(5000)]
    assert 0 <= min(jitters) < 1
    assert 59 < max(jitters) <= 60
    assert statistics.fmean(jitters) == pytest.approx(30, abs=1)
    narrow = [leave_blackouts(inside, (WINDOW,), rng, jitter_minutes=5) for _ in range(200)]
    assert all(end <= moved <= end + timedelta(minutes=5) for moved in narrow)


def test_no_scheduled_run_starts_inside_a_window_all_year() -> None:
    policy = dexcom_policy()
    rng = random.Random(5)
    instant = utc(2026, 1, 1, 0, 0)
    while instant < utc(2027, 1, 1):
        for _ in range(3):
            when = next_run_time(instant, policy, rng)
            assert not in_blackout(when, policy.blackouts), (instant, when)
            assert when >= instant + timedelta(minutes=45)
        instant += timedelta(minutes=37)


def test_a_window_over_midnight_ends_the_next_day() -> None:
    window = Blackout(time(23, 30), time(0, 30), "Europe/Berlin")
    inside = datetime(2026, 1, 15, 22, 40, tzinfo=UTC)  # 23:40 in Berlin
    assert blackout_end(inside, window) == datetime(2026, 1, 15, 23, 30, tzinfo=UTC)
    after_midnight = datetime(2026, 1, 15, 23, 10, tzinfo=UTC)  # 00:10 in Berlin
    assert blackout_end(after_midnight, window) == datetime(2026, 1, 15, 23, 30, tzinfo=UTC)


def test_back_to_back_windows_are_all_left() -> None:
    first = Blackout(time(2, 0), time(3, 0), LA)
    second = Blackout(time(3, 0), time(4, 0), LA)
    moved = leave_blackouts(utc(2026, 1, 15, 10, 30), (first, second), random.Random(0), jitter_minutes=0)
    assert moved == utc(2026, 1, 15, 12, 0)


def test_windows_covering_the_day_are_an_error() -> None:
    windows = (Blackout(time(0, 0), time(12, 0), LA), Blackout(time(12, 0), time(0, 0), LA))
    with pytest.raises(PolicyError):
        leave_blackouts(NOW, windows, random.Random(0), jitter_minutes=0)


# ---- budget stretching --------------------------------------------------------------------------


def test_no_stretch_while_the_budget_suffices() -> None:
    interval = effective_interval(dexcom_policy(), 1000, calls_per_run=5)
    assert (interval.min_minutes, interval.max_minutes, interval.stretch) == (45, 75, 1.0)


def test_the_seed_arithmetic_12000_people_at_five_calls_fill_the_budget() -> None:
    policy = dexcom_policy()
    assert effective_interval(policy, 12_000, calls_per_run=5, share=1.0).stretch == 1.0
    assert effective_interval(policy, 12_001, calls_per_run=5, share=1.0).stretch > 1.0


def test_a_short_budget_stretches_every_interval_evenly() -> None:
    policy = dexcom_policy()
    interval = effective_interval(policy, 24_000, calls_per_run=5, share=1.0)
    assert interval.stretch == pytest.approx(2.0)
    assert (interval.min_minutes, interval.max_minutes) == pytest.approx((90, 150))
    # the stretched pace uses exactly the planned share of the budget
    for people in (30_000, 100_000, 1_000_000):
        stretched = effective_interval(policy, people, calls_per_run=2)
        per_hour = people * 2 * 60 / stretched.mean_minutes
        assert per_hour == pytest.approx(0.9 * 60_000)
        assert stretched.max_minutes / stretched.min_minutes == pytest.approx(75 / 45)  # same shape


def test_next_run_uses_the_stretched_interval() -> None:
    policy = replace(dexcom_policy(), blackouts=())
    interval = effective_interval(policy, 48_000, calls_per_run=5, share=1.0)
    rng = random.Random(2)
    delays = [(next_run_time(NOW, policy, rng, interval) - NOW).total_seconds() / 60 for _ in range(2000)]
    assert min(delays) >= 180
    assert max(delays) <= 300


def test_effective_interval_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="required"):
        effective_interval(dexcom_policy(), -1)
    with pytest.raises(ValueError, match="required"):
        effective_interval(dexcom_policy(), 1, share=0)


# ---- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    rng = random.Random(4)
    for failures, ceiling in ((1, 5), (2, 10), (3, 20), (4, 40), (8, 480), (50, 480)):
        delays = [backoff_delay(failures, rng).total_seconds() / 60 for _ in range(200)]
        assert ceiling / 2 <= min(delays)
        assert max(delays) <= ceiling
    with pytest.raises(ValueError, match="at least 1"):
        backoff_delay(0, rng)

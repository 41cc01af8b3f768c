"""Small pieces: the clock, seeds, time zones, redirect matching, the rate limiter, malformed bodies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from inlet.simulator import FrozenClock, SimClock, seeding
from inlet.simulator.faults import RateLimiter, malform
from inlet.simulator.oauth import _redirect_matches
from inlet.simulator.timezones import default_history_start, last_transition, local_to_epoch, utc_offset

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


def test_the_sim_clock_moves_on_top_of_its_base() -> None:
    base = FrozenClock(NOW)
    clock = SimClock(base)
    assert clock.now() == NOW
    clock.advance(timedelta(hours=1))
    base.advance(timedelta(minutes=1))
    assert clock.now() == NOW + timedelta(hours=1, minutes=1)
    clock.set(NOW)
    assert clock.now() == NOW
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 1, 1))


def test_seeds_give_stable_ids() -> None:
    assert seeding.record_id(1, "egv", 5) == seeding.record_id(1, "egv", 5)
    assert seeding.record_id(1, "egv", 5) != seeding.record_id(2, "egv", 5)
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", seeding.record_id(1, "x")
    )
    assert re.fullmatch(r"[0-9a-f]{64}", seeding.hex64(1, "transmitter", 0))
    assert seeding.rng(3, "a").random() == seeding.rng(3, "a").random()


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Berlin", datetime(2025, 10, 23, tzinfo=UTC)),  # the change of 26 October 2025, less 3 days
        ("America/Los_Angeles", datetime(2026, 2, 18, tzinfo=UTC)),  # 8 March lies within 30 days
        ("Asia/Tokyo", datetime(2026, 2, 18, tzinfo=UTC)),  # no DST
    ],
)
def test_the_default_history_holds_the_last_dst_change(zone: str, expected: datetime) -> None:
    assert default_history_start(NOW, zone) == expected


def test_dst_transitions_and_local_times() -> None:
    change = last_transition("America/Los_Angeles", NOW)
    assert change == datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
    assert utc_offset("America/Los_Angeles", change.timestamp() - 1) == -8 * 3600
    assert utc_offset("America/Los_Angeles", change.timestamp()) == -7 * 3600
    # 02:30 does not exist that day: read with the offset before the change (fold=0).
    assert local_to_epoch("America/Los_Angeles", 2026, 3, 8, 150) == int(
        datetime(2026, 3, 8, 10, 30, tzinfo=UTC).timestamp()
    )


def test_redirect_uris_match_exactly_or_on_loopback_any_port() -> None:
    registered = "http://127.0.0.1:8000/v1/oauth/dexcom/redirect"
    assert _redirect_matches(registered, registered)
    assert _redirect_matches(registered, "http://127.0.0.1:51234/v1/oauth/dexcom/redirect")
    assert not _redirect_matches(registered, "http://127.0.0.1:51234/v1/oauth/acme/redirect")
    assert not _redirect_matches(registered, "http://127.0.0.2:8000/v1/oauth/dexcom/redirect")
    public = "https://inlet.example/v1/oauth/dexcom/redirect"
    assert _redirect_matches(public, public)
    assert not _redirect_matches(public, "https://inlet.example:444/v1/oauth/dexcom/redirect")


def test_the_rate_limiter_counts_per_app_and_clock_hour() -> None:
    limiter = RateLimiter(2)
    t = NOW.timestamp() + 600
    assert limiter.hit("a", t) is None
    assert limiter.hit("a", t) is None
    assert limiter.hit("b", t) is None
    assert limiter.hit("a", t) == 3000
    assert limiter.hit("a", t + 3000) is None
    assert RateLimiter(None).hit("a", t) is None


def test_malformed_bodies_are_not_json() -> None:
    body = json.dumps({"recordType": "egv", "records": []}).encode()
    with pytest.raises(json.JSONDecodeError):
        json.loads(malform(body))
    with pytest.raises(json.JSONDecodeError):
        json.loads(malform(b"[]"))

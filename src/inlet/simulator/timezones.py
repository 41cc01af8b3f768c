"""Where a simulated person is, and what their devices' clocks show.

A person lives in a home zone and now and then travels to another zone for a few days. Phones follow
the zone at once (their display times carry the offset); a receiver's clock is set by hand, so it
follows DST changes and travel a few hours late and runs a little off (its display times carry no
offset). The simulator's history start is chosen to include a DST change of the home zone, so that
every default account shows one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from inlet.simulator import seeding

DAY = 86_400
HOUR = 3_600


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_OFFSETS: dict[tuple[str, int], int] = {}


def utc_offset(zone_name: str, t: float) -> int:
    """The zone's UTC offset in seconds at the instant ``t`` (epoch seconds).

    Memoized per half hour: present-day zone changes happen on whole or half UTC hours.
    """
    key = (zone_name, int(t // 1800))
    cached = _OFFSETS.get(key)
    if cached is None:
        offset = datetime.fromtimestamp(key[1] * 1800, zone(zone_name)).utcoffset()
        cached = int(offset.total_seconds()) if offset is not None else 0
        if len(_OFFSETS) > 500_000:
            _OFFSETS.clear()
        _OFFSETS[key] = cached
    return cached


def local_to_epoch(zone_name: str, year: int, month: int, day: int, minute_of_day: int) -> int:
    """A local wall time to epoch seconds (PEP 495 ``fold=0`` for ambiguous and missing times)."""
    local = datetime(year, month, day, tzinfo=zone(zone_name)) + timedelta(minutes=minute_of_day)
    # Adding a timedelta to an aware datetime is wall-clock arithmetic; re-attach the zone so the
    # offset is the one in force at that wall time.
    naive = local.replace(tzinfo=None)
    return int(naive.replace(tzinfo=zone(zone_name)).timestamp())


def last_transition(zone_name: str, before: datetime, within_days: int = 366) -> datetime | None:
    """The latest UTC-offset change of the zone in the ``within_days`` before ``before``."""
    end = int(before.timestamp())
    start = end - within_days * DAY
    t = end
    offset = utc_offset(zone_name, t)
    while t > start:
        previous = t - DAY
        if utc_offset(zone_name, previous) != offset:
            low, high = previous, t  # the change lies in (low, high]
            while high - low > 60:
                middle = (low + high) // 2
                if utc_offset(zone_name, middle) == offset:
                    high = middle
                else:
                    low = middle
            return datetime.fromtimestamp(high, UTC).replace(second=0)
        t = previous
    return None


def default_history_start(now: datetime, zone_name: str, days: int = 30) -> datetime:
    """Midnight UTC ``days`` before ``now``, or earlier so the history holds the zone's last DST change."""
    start = now - timedelta(days=days)
    change = last_transition(zone_name, now)
    if change is not None:
        start = min(start, change - timedelta(days=3))
    return start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Trip:
    start: int
    end: int
    zone: str


class ZonePlan:
    """The zone a person is in at each instant: home, except during trips (one every ~60 days)."""

    TRIP_EVERY_DAYS = 60

    def __init__(self, seed: int, home: str, travel: str | None, history_start: int) -> None:
        self.home = home
        self.trips: list[Trip] = []
        if travel is not None:
            for index in range(80):  # ~13 years of trips
                r = seeding.rng(seed, "trip", index)
                day0 = history_start + (9 + index * self.TRIP_EVERY_DAYS) * DAY
                start = day0 + int(r.uniform(0, 1.5) * DAY)
                length = int(r.uniform(3, 5) * DAY)
                self.trips.append(Trip(start, start + length, travel))
        self._starts = [trip.start for trip in self.trips]

    def trip_at(self, t: float) -> Trip | None:
        index = bisect.bisect_right(self._starts, t) - 1
        if index >= 0 and t < self.trips[index].end:
            return self.trips[index]
        return None

    def zone_at(self, t: float) -> str:
        trip = self.trip_at(t)
        return trip.zone if trip is not None else self.home

    def offset_at(self, t: float) -> int:
        return utc_offset(self.zone_at(t), t)

    def local_minute_of_day(self, t: float) -> float:
        local = t + self.offset_at(t)
        return (local % DAY) / 60.0


@dataclass(frozen=True)
class DisplayClock:
    """What a display device shows for an instant: the phone's zone, or a receiver's hand-set clock."""

    plan: ZonePlan
    receiver: bool
    lag_seconds: int = 0
    drift_seconds: int = 0

    def offset_at(self, t: float) -> int:
        """Seconds to add to UTC to get the displayed time (zone offset, plus drift on receivers)."""
        if not self.receiver:
            return self.plan.offset_at(t)
        # The receiver's owner moves its clock by hand some hours after a DST change or a flight.
        reference = t - self.lag_seconds
        return utc_offset(self.plan.zone_at(reference), reference) + self.drift_seconds

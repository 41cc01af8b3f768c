"""An insulin pump's delivery history, for the ACME simulator: basal segments and boluses.

Each local day is planned from ``rng(seed, "pump-day", n)`` alone, so a day never changes once
generated and the same seed gives the same history. The basal timeline is contiguous: the schedule
(``Standard``, six segments a day) is cut at every schedule boundary, at local midnight, and where a
temporary basal or a suspension starts or ends. ``expectedDuration`` is what was planned (until the
next schedule boundary, or the programmed temp length); ``duration`` is what happened, shorter when a
temp was cancelled or a scheduled segment was interrupted.

Boluses: three meals a day (normal boluses; dinner sometimes a combination, and once a week, on pizza
night, an extended bolus), afternoon corrections, and the occasional interrupted bolus (``normal`` below
``expectedNormal``) or cancelled extended part (``extended`` below ``expectedExtended``).

A record becomes visible (``available``) once it has ended plus the upload delay.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from inlet.simulator import seeding
from inlet.simulator.timezones import DAY, local_to_epoch, utc_offset

MINUTE = 60
SCHEDULE_STARTS = (0, 4 * 60, 8 * 60, 12 * 60, 18 * 60, 22 * 60)  # local minutes
SCHEDULE_NAME = "Standard"


@dataclass(frozen=True, slots=True)
class BasalSegment:
    t: int
    delivery_type: str  # scheduled, temp, suspend
    duration: int  # seconds
    expected_duration: int
    rate: float | None  # U/h (None while suspended)
    scheduled_rate: float
    percent: float | None  # temp basals
    available: int


@dataclass(frozen=True, slots=True)
class Bolus:
    t: int
    delivery_type: str  # normal, extended, combination
    normal: float | None
    expected_normal: float | None
    extended: float | None
    expected_extended: float | None
    duration: int | None  # seconds, extended part
    expected_duration: int | None
    available: int


@dataclass(frozen=True)
class _Override:
    start: int
    end: int  # actual end
    planned_end: int
    kind: str  # temp or suspend
    percent: float | None


def _round_units(units: float, step: float = 0.05) -> float:
    return round(round(units / step) * step, 3)


class PumpHistory:
    def __init__(self, seed: int, zone_name: str, history_start: datetime, upload_delay: int) -> None:
        self.seed = seed
        self.zone = zone_name
        self.upload_delay = upload_delay
        self.start = int(history_start.timestamp())
        r = seeding.rng(seed, "pump")
        base = r.uniform(0.65, 1.0)
        shape = (0.85, 1.1, 0.95, 0.9, 1.0, 0.9)
        self.schedule = tuple(_round_units(base * factor * r.uniform(0.95, 1.05), 0.025) for factor in shape)
        self.icr = r.uniform(8, 13)
        self.clock_drift = r.choice([-1, 1]) * r.randint(30, 240)  # the pump's clock is a little off
        self.basals: list[BasalSegment] = []
        self.boluses: list[Bolus] = []
        self._basal_times: list[int] = []
        self._bolus_times: list[int] = []
        local = datetime.fromtimestamp(self.start + utc_offset(zone_name, self.start), UTC)
        self._first_date = local.date()
        self._days = 0
        self.built_until = self._day_start(0)

    def _date(self, index: int) -> tuple[int, int, int]:
        date = self._first_date + timedelta(days=index)
        return date.year, date.month, date.day

    def _day_start(self, index: int) -> int:
        return local_to_epoch(self.zone, *self._date(index), 0)

    def _local(self, index: int, minute: float) -> int:
        return local_to_epoch(self.zone, *self._date(index), int(minute))

    def ensure(self, t: float) -> None:
        while self.built_until <= t:
            self._build_day(self._days)
            self._days += 1
            self.built_until = self._day_start(self._days)

    def scheduled_rate(self, local_minute: int) -> float:
        index = bisect.bisect_right(SCHEDULE_STARTS, local_minute) - 1
        return self.schedule[index]

    # -- one day ---------------------------------------------------------------------------------
    def _overrides(self, index: int) -> list[_Override]:
        r = seeding.rng(self.seed, "pump-day", index, "overrides")
        wanted: list[_Override] = []

        def add(start_minute: float, minutes: float, kind: str, percent: float | None, cancel: bool) -> None:
            start = self._local(index, start_minute)
            planned_end = start + int(minutes) * MINUTE
            end = start + int(minutes * r.uniform(0.3, 0.8)) * MINUTE if cancel else planned_end
            wanted.append(_Override(start, end, planned_end, kind, percent))

        if r.random() < 0.35:  # exercise: a lower temp basal
            add(
                r.uniform(1020, 1110),
                r.choice([60, 90, 120]),
                "temp",
                r.choice([0.5, 0.6, 0.7]),
                r.random() < 0.1,
            )
        if r.random() < 0.25:  # a stubborn high: a higher temp basal
            add(
                r.uniform(600, 1260),
                r.choice([60, 120, 180]),
                "temp",
                r.choice([1.3, 1.4, 1.5]),
                r.random() < 0.1,
            )
        if r.random() < 1 / 3:  # site change
            add(r.uniform(480, 1260), r.uniform(8, 30), "suspend", None, False)
        if r.random() < 0.1:  # suspended for a low at night
            add(r.uniform(60, 300), r.uniform(20, 60), "suspend", None, False)
        day_end = self._day_start(index + 1) - 10 * MINUTE
        chosen: list[_Override] = []
        for candidate in sorted(wanted, key=lambda o: o.start):
            if candidate.planned_end > day_end:
                continue
            if chosen and candidate.start < chosen[-1].planned_end:
                continue
            chosen.append(candidate)
        return chosen

    def _build_day(self, index: int) -> None:
        day_start, day_end = self._day_start(index), self._day_start(index + 1)
        overrides = self._overrides(index)
        boundaries = {day_start, day_end}
        boundaries.update(self._local(index, minute) for minute in SCHEDULE_STARTS)
        for override in overrides:
            boundaries.update((override.start, override.end))
        cuts = sorted(b for b in boundaries if day_start <= b <= day_end)
        schedule_cuts = sorted({self._local(index, m) for m in SCHEDULE_STARTS} | {day_end})
        for a, b in itertools.pairwise(cuts):
            if b <= a:
                continue
            local_minute = int(((a + utc_offset(self.zone, a)) % DAY) // MINUTE)
            rate = self.scheduled_rate(local_minute)
            next_schedule = next(c for c in schedule_cuts if c > a)
            active = next((o for o in overrides if o.start <= a < o.end), None)
            if active is None:
                expected = next_schedule - a
                segment = BasalSegment(
                    a, "scheduled", b - a, expected, rate, rate, None, b + self.upload_delay
                )
            elif active.kind == "temp":
                assert active.percent is not None
                expected = min(next_schedule, active.planned_end) - a
                temp_rate = _round_units(rate * active.percent, 0.025)
                segment = BasalSegment(
                    a, "temp", b - a, expected, temp_rate, rate, active.percent, b + self.upload_delay
                )
            else:
                segment = BasalSegment(a, "suspend", b - a, b - a, None, rate, None, b + self.upload_delay)
            self.basals.append(segment)
            self._basal_times.append(a)
        for bolus in sorted(self._boluses(index), key=lambda bolus: bolus.t):
            self.boluses.append(bolus)
            self._bolus_times.append(bolus.t)

    def _boluses(self, index: int) -> list[Bolus]:
        r = seeding.rng(self.seed, "pump-day", index, "boluses")
        block, day_in_block = divmod(index, 7)
        pizza_night = seeding.rng(self.seed, "pizza-night", block).randrange(7) == day_in_block
        found = []
        for start, end, low, high in ((400, 500, 30, 60), (700, 800, 40, 80), (1080, 1170, 45, 90)):
            t = self._local(index, r.uniform(start, end))
            units = _round_units(r.uniform(low, high) / self.icr)
            dinner = start == 1080
            if dinner and (pizza_night or r.random() < 0.03):  # a slow meal: all of it extended
                minutes = r.choice([180, 240])
                found.append(
                    Bolus(t, "extended", None, None, units, None, minutes * MINUTE, minutes * MINUTE,
                          t + minutes * MINUTE + self.upload_delay)
                )  # fmt: skip
            elif dinner and r.random() < 0.25:
                minutes = r.choice([120, 150, 180])
                now_part = _round_units(units * 0.6)
                later = _round_units(units - now_part)
                cancelled = r.random() < 0.1
                given = _round_units(later * r.uniform(0.3, 0.7)) if cancelled else later
                duration = int(minutes * (given / later if later else 1)) * MINUTE
                found.append(
                    Bolus(t, "combination", now_part, None, given, later if cancelled else None,
                          duration, minutes * MINUTE, t + duration + self.upload_delay)
                )  # fmt: skip
            elif r.random() < 0.03:
                given = _round_units(units * r.uniform(0.3, 0.8))
                found.append(Bolus(t, "normal", given, units, None, None, None, None, t + self.upload_delay))
            else:
                found.append(Bolus(t, "normal", units, None, None, None, None, None, t + self.upload_delay))
        if r.random() < 0.3:
            t = self._local(index, r.uniform(840, 1020))
            units = _round_units(r.uniform(0.5, 3))
            found.append(Bolus(t, "normal", units, None, None, None, None, None, t + self.upload_delay))
        return found

    # -- queries ----------------------------------------------------------------------------------
    def basals_between(self, start: float, end: float) -> list[BasalSegment]:
        """Segments starting in [start, end)."""
        self.ensure(end)
        low = bisect.bisect_left(self._basal_times, start)
        high = bisect.bisect_left(self._basal_times, end)
        return self.basals[low:high]

    def boluses_between(self, start: float, end: float) -> list[Bolus]:
        self.ensure(end)
        low = bisect.bisect_left(self._bolus_times, start)
        high = bisect.bisect_left(self._bolus_times, end)
        return self.boluses[low:high]

    def local_time(self, t: float) -> str:
        """The pump's wall clock at ``t`` (zone offset plus its drift), without a zone."""
        shown = t + utc_offset(self.zone, t) + self.clock_drift
        return datetime.fromtimestamp(shown, UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def device_time(self, t: float) -> str:
        """The pump's clock at ``t`` as ISO 8601 with its zone's offset."""
        offset = utc_offset(self.zone, t)
        shown = datetime.fromtimestamp(t + offset + self.clock_drift, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        return f"{shown}{sign}{hours:02d}:{minutes:02d}"

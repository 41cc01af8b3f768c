"""What a Dexcom account holds, built from the physiology: sensor sessions, transmitters, readings,
calibrations, alerts, logged events (with later edits) and the alert settings on the device.

Every record carries the instant it becomes visible through the API (``available``): its time plus
the upload delay, later for readings backfilled after a signal loss and for event edits. The API
shows a record only once ``available <= now``, so the data grows as simulated time passes while the
history itself never changes.

The timeline is built in whole days from the history start; a query first makes sure the days it
needs exist.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, TypeVar

from inlet.simulator import seeding
from inlet.simulator.physiology import STEP, STEPS_PER_DAY, LoggedEvent, Physiology, fitted
from inlet.simulator.timezones import DAY, HOUR, ZonePlan

MINUTE = 60
SESSION_LENGTH = {"g6": 10 * DAY, "g7": 10 * DAY + 12 * HOUR}
WARMUP = {"g6": 2 * HOUR, "g7": 2 * HOUR}
G6_TRANSMITTER_LIFE = 90 * DAY
LOW_LIMIT = 40  # readings below are reported as "low"
HIGH_LIMIT = 400  # readings above are reported as "high"


@dataclass(frozen=True)
class Session:
    """One sensor, from insertion to removal; readings start after the warm-up."""

    index: int
    start: int
    end: int
    warmup_end: int
    transmitter_id: str
    transmitter_start: int
    phase: int  # seconds past the 5-minute grid at which this sensor reads
    bias: float  # the sensor's calibration error, as a fraction
    errors: tuple[tuple[int, int], ...]  # no readings at all (sensor error)
    losses: tuple[tuple[int, int], ...]  # readings kept on the transmitter, backfilled when back in range


class SensorSchedule:
    """Sensor sessions and transmitters, independent of glucose (so the physiology can ask about them)."""

    def __init__(self, seed: int, generation: str, history_start: int) -> None:
        self.seed = seed
        self.generation = generation
        self.length = SESSION_LENGTH[generation]
        self.warmup = WARMUP[generation]
        self.sessions: list[Session] = []
        self._starts: list[int] = []
        r = seeding.rng(seed, "first-session")
        self._next_start = history_start - int(r.uniform(0.1, 0.8) * self.length)
        self._transmitter_index = 0
        self._transmitter_start = self._next_start - int(r.uniform(0, 60) * DAY)

    def _add_session(self) -> None:
        index = len(self.sessions)
        r = seeding.rng(self.seed, "session", index)
        start = self._next_start
        end = start + self.length
        if self.generation == "g7":
            self._transmitter_index = index
            self._transmitter_start = start
        elif start >= self._transmitter_start + G6_TRANSMITTER_LIFE:
            self._transmitter_index += 1
            self._transmitter_start = start
        transmitter_id = seeding.hex64(self.seed, "transmitter", self.generation, self._transmitter_index)
        warmup_end = start + self.warmup
        errors = []
        for _ in range(r.choice([0, 1, 1, 2])):
            at = int(r.uniform(warmup_end + DAY, end - DAY))
            errors.append((at, at + int(r.uniform(15, 45)) * MINUTE))
        losses = []
        for _ in range(r.choice([1, 2, 3])):
            at = int(r.uniform(warmup_end + HOUR, end - HOUR))
            losses.append((at, at + int(r.uniform(10, 90)) * MINUTE))
        session = Session(
            index=index,
            start=start,
            end=end,
            warmup_end=warmup_end,
            transmitter_id=transmitter_id,
            transmitter_start=self._transmitter_start,
            phase=int(r.uniform(0, STEP)),
            bias=r.gauss(0.0, 0.035),
            errors=tuple(sorted(errors)),
            losses=tuple(sorted(losses)),
        )
        self.sessions.append(session)
        self._starts.append(start)
        # Most people change the sensor when it ends; some leave it until morning.
        gap = r.uniform(5, 40) * MINUTE if r.random() < 0.8 else r.uniform(3, 9) * HOUR
        self._next_start = end + int(gap)

    def _extend(self, t: float) -> None:
        while not self.sessions or self.sessions[-1].end <= t:
            self._add_session()

    def session_at(self, t: float) -> Session | None:
        """The session in which the sensor is in place at ``t`` (warm-up included)."""
        self._extend(t)
        index = bisect.bisect_right(self._starts, t) - 1
        if index >= 0 and t < self.sessions[index].end:
            return self.sessions[index]
        return None

    def last_session_before(self, t: float) -> Session:
        self._extend(t)
        index = max(0, bisect.bisect_right(self._starts, t) - 1)
        return self.sessions[index]

    def reading(self, t: float) -> bool:
        """Whether the sensor reads at ``t`` (in a session, past warm-up, not in a sensor error)."""
        session = self.session_at(t)
        if session is None or t < session.warmup_end:
            return False
        return not any(a <= t < b for a, b in session.errors)

    def reading_throughout(self, a: int, b: int) -> bool:
        return all(self.reading(t) for t in range(a, b + 1, 15 * MINUTE))


@dataclass(frozen=True, slots=True)
class Reading:
    t: int
    value: int  # the sensor's value, possibly below 40 or above 400
    trend_rate: float | None  # mg/dL/min over the last 15 minutes
    session: int
    available: int

    @property
    def status(self) -> str:
        if self.value < LOW_LIMIT:
            return "low"
        if self.value > HIGH_LIMIT:
            return "high"
        return "ok"


@dataclass(frozen=True, slots=True)
class Calibration:
    t: int
    value: int
    session: int
    available: int


@dataclass(frozen=True, slots=True)
class Alert:
    t: int
    name: str
    state: str
    session: int
    available: int


@dataclass(frozen=True, slots=True)
class EventVersion:
    available: int
    status: str  # created, updated, deleted
    value: str


@dataclass(frozen=True, slots=True)
class Event:
    key: str  # stable per event (the record id derives from it)
    t: int
    event_type: str
    sub_type: str | None
    unit: str | None
    session: int
    versions: tuple[EventVersion, ...]
    without_seconds: bool

    def version_at(self, now: float) -> EventVersion | None:
        """The latest version visible at ``now``."""
        current = None
        for version in self.versions:
            if version.available <= now:
                current = version
        return current


@dataclass(frozen=True)
class AlertSettings:
    """The alert schedules in force from ``since`` on."""

    since: int
    high: int
    low: int
    urgent_low: int
    rise: int
    fall: int
    no_readings: int  # minutes
    night_high: int | None  # a second schedule, 22:00-07:00, with its own high level


@dataclass
class _Tracker:
    last_alert: dict[str, int] = field(default_factory=dict)
    below: dict[str, bool] = field(default_factory=dict)


class CgmTimeline:
    """One account's records, built lazily day by day from the history start.

    Use ``CgmTimeline.shared(...)``: a timeline is a pure function of its arguments, so simulators in
    one process (the tests start many) share it; callers hold ``lock`` while they read or extend it.
    """

    _cache: ClassVar[OrderedDict[tuple[object, ...], CgmTimeline]] = OrderedDict()
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()
    CACHE_SIZE: ClassVar[int] = 12

    @classmethod
    def clear_cache(cls) -> None:
        with cls._cache_lock:
            cls._cache.clear()

    @classmethod
    def shared(
        cls,
        seed: int,
        generation: str,
        history_start: datetime,
        plan: ZonePlan,
        upload_delay: int,
        has_night_schedule: bool,
    ) -> CgmTimeline:
        trips = tuple(plan.trips[:1])
        key = (
            seed,
            generation,
            history_start.timestamp(),
            plan.home,
            trips,
            upload_delay,
            has_night_schedule,
        )
        with cls._cache_lock:
            timeline = cls._cache.get(key)
            if timeline is None:
                timeline = cls(seed, generation, history_start, plan, upload_delay, has_night_schedule)
                cls._cache[key] = timeline
                while len(cls._cache) > cls.CACHE_SIZE:
                    cls._cache.popitem(last=False)
            cls._cache.move_to_end(key)
            return timeline

    def __init__(
        self,
        seed: int,
        generation: str,
        history_start: datetime,
        plan: ZonePlan,
        upload_delay: int,
        has_night_schedule: bool,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.generation = generation
        self.plan = plan
        self.upload_delay = upload_delay
        self.start = int(history_start.timestamp()) // STEP * STEP
        self.sensors = SensorSchedule(seed, generation, self.start)
        self.physiology: Physiology = fitted(seed, history_start, plan, self.sensors.reading_throughout)
        self.readings: list[Reading] = []
        self.calibrations: list[Calibration] = []
        self.alerts: list[Alert] = []
        self.events: list[Event] = []
        self._reading_times: list[int] = []
        self._calibration_times: list[int] = []
        self._alert_times: list[int] = []
        self._event_times: list[int] = []
        self.built_until = self.start
        self._rng = seeding.rng(seed, "cgm")
        self._error = 0.0
        self._error_session = -1
        self._recent: list[tuple[int, int]] = []  # (t, value) of the last readings, for the trend
        self._tracker = _Tracker()
        self._event_cursor = 0
        self.settings = self._settings_history(has_night_schedule)

    # -- settings ----------------------------------------------------------------------------------
    def _settings_history(self, night: bool) -> list[AlertSettings]:
        r = seeding.rng(self.seed, "settings")
        first = AlertSettings(
            since=self.start - int(r.uniform(30, 200)) * DAY,
            high=250,
            low=70,
            urgent_low=55,
            rise=3,
            fall=3,
            no_readings=20,
            night_high=300 if night else None,
        )
        # Some days into the history the person tightens their high alert.
        changed = AlertSettings(
            since=self.start + int(r.uniform(5, 12) * DAY),
            high=220,
            low=75,
            urgent_low=55,
            rise=3,
            fall=3,
            no_readings=20,
            night_high=300 if night else None,
        )
        return [first, changed]

    def settings_at(self, t: float) -> AlertSettings:
        current = self.settings[0]
        for settings in self.settings:
            if settings.since <= t:
                current = settings
        return current

    # -- building ----------------------------------------------------------------------------------
    def ensure(self, t: float) -> None:
        """Build whole days until ``t`` is covered."""
        while self.built_until <= t:
            self._build_day()

    def _build_day(self) -> None:
        day_start = self.built_until
        day_end = day_start + DAY
        # The physiology runs a day ahead so that every event of this day has been logged.
        self.physiology.run_until(day_end + DAY)
        first_step = (day_start - self.physiology.start) // STEP
        for step in range(first_step, first_step + STEPS_PER_DAY):
            self._read(step)
        self._take_events(day_start, day_end)
        self.built_until = day_end

    def _read(self, step: int) -> None:
        grid = self.physiology.start + step * STEP
        session = self.sensors.session_at(grid)
        if session is None:
            self._recent.clear()
            return
        t = grid + session.phase
        if t < session.warmup_end or any(a <= t < b for a, b in session.errors):
            self._recent.clear()
            if any(a + 20 * MINUTE <= t < a + 20 * MINUTE + STEP for a, _ in session.errors):
                self._alert(t, "noReadings", session)
            return
        r = self._rng
        if session.index != self._error_session:
            self._error_session = session.index
            self._error = 0.0
        first_day = t - session.warmup_end < DAY
        self._error = 0.8 * self._error + r.gauss(0.0, 4.5 if first_day else 2.6)
        glucose = self.physiology.glucose[step]
        value = round(glucose * (1 + session.bias) + self._error)
        value = max(20, min(500, value))
        rate = None
        if len(self._recent) >= 3 and t - self._recent[-3][0] <= 16 * MINUTE:
            rate = round((value - self._recent[-3][1]) / ((t - self._recent[-3][0]) / 60), 1)
        self._recent.append((t, value))
        del self._recent[:-4]
        available = t + self.upload_delay
        for a, b in session.losses:
            if a <= t < b:
                available = b + self.upload_delay  # backfilled when the phone is back in range
        reading = Reading(t, value, rate, session.index, available)
        self.readings.append(reading)
        self._reading_times.append(t)
        self._check_alerts(reading, session)
        self._maybe_calibrate(t, glucose, session)

    def _maybe_calibrate(self, t: int, glucose: float, session: Session) -> None:
        r = self._rng
        minute = self.plan.local_minute_of_day(t)
        if not 7 * 60 <= minute < 22 * 60:
            return
        chance = 0.12 / (15 * 12) if self.generation == "g6" else 0.04 / (15 * 12)
        if self.generation == "g6" and session.warmup_end <= t < session.warmup_end + STEP * 24:
            chance = 0.5 / 24
        if r.random() < chance:
            value = round(glucose * r.uniform(0.95, 1.05))
            if 40 <= value <= 400:
                self.calibrations.append(Calibration(t, value, session.index, t + self.upload_delay))
                self._calibration_times.append(t)

    def _alert(self, t: int, name: str, session: Session, snooze: int = 0) -> None:
        last = self._tracker.last_alert.get(name)
        if last is not None and t - last < max(snooze, 5) * MINUTE:
            return
        self._tracker.last_alert[name] = t
        state = "activeAlarming" if self._rng.random() < 0.75 else "activeSnoozed"
        self.alerts.append(Alert(t, name, state, session.index, t + self.upload_delay))
        self._alert_times.append(t)

    def _check_alerts(self, reading: Reading, session: Session) -> None:
        settings = self.settings_at(reading.t)
        value = reading.value
        minute = self.plan.local_minute_of_day(reading.t)
        high = settings.high
        if settings.night_high is not None and (minute >= 22 * 60 or minute < 7 * 60):
            high = settings.night_high
        below = self._tracker.below
        for name, snooze, crossed in (
            ("high", 120, value > high),
            ("low", 30, value < settings.low),
            ("urgentLow", 30, value < settings.urgent_low),
        ):
            if crossed and (not below.get(name) or self._repeat_due(name, reading.t, snooze)):
                self._alert(reading.t, name, session, snooze)
            below[name] = crossed
        if reading.trend_rate is not None:
            if reading.trend_rate >= settings.rise:
                self._alert(reading.t, "rise", session, 30)
            elif reading.trend_rate <= -settings.fall:
                self._alert(reading.t, "fall", session, 30)

    def _repeat_due(self, name: str, t: int, snooze: int) -> bool:
        last = self._tracker.last_alert.get(name)
        return last is not None and t - last >= snooze * MINUTE

    def _take_events(self, day_start: int, day_end: int) -> None:
        logged = self.physiology.events
        todays = sorted(
            (event for event in logged[self._event_cursor :] if day_start <= event.t < day_end),
            key=lambda event: event.t,
        )
        # Physiology logs in time order (at most minutes ahead), so skipping past this day is safe.
        while self._event_cursor < len(logged) and logged[self._event_cursor].t < day_end:
            self._event_cursor += 1
        for logged_event in todays:
            index = len(self.events)
            r = seeding.rng(self.seed, "event", logged_event.t, logged_event.event_type, index)
            session = self.sensors.last_session_before(logged_event.t)
            created = logged_event.t + self.upload_delay
            versions: tuple[EventVersion, ...] = (EventVersion(created, "created", logged_event.value),)
            numeric = logged_event.event_type in ("carbs", "insulin")
            if numeric and r.random() < 0.06:
                # A typo, corrected a little later.
                typo = _typo(logged_event.value, r.choice([-1, 1]) * r.choice([5, 10, 20]))
                edited = created + int(r.uniform(5, 40)) * MINUTE
                versions = (
                    EventVersion(created, "created", typo),
                    EventVersion(edited, "updated", logged_event.value),
                )
            self._add_event(logged_event.t, logged_event, session, versions, r.random() < 0.35)
            if logged_event.event_type == "carbs" and r.random() < 0.04:
                # Entered twice by mistake; the copy is deleted.
                deleted = created + int(r.uniform(2, 30)) * MINUTE
                copy = (
                    EventVersion(created, "created", logged_event.value),
                    EventVersion(deleted, "deleted", logged_event.value),
                )
                self._add_event(logged_event.t, logged_event, session, copy, False, suffix="copy")

    def _add_event(
        self,
        t: int,
        logged: LoggedEvent,
        session: Session,
        versions: tuple[EventVersion, ...],
        without_seconds: bool,
        suffix: str = "",
    ) -> None:
        event = Event(
            key=f"{t}:{logged.event_type}:{logged.sub_type}:{len(self.events)}{suffix}",
            t=t,
            event_type=logged.event_type,
            sub_type=logged.sub_type,
            unit=logged.unit,
            session=session.index,
            versions=versions,
            without_seconds=without_seconds,
        )
        self.events.append(event)
        self._event_times.append(t)

    # -- queries -----------------------------------------------------------------------------------
    def session(self, index: int) -> Session:
        return self.sensors.sessions[index]

    def readings_between(self, start: float, end: float) -> list[Reading]:
        self.ensure(end)
        return _between(self.readings, self._reading_times, start, end)

    def calibrations_between(self, start: float, end: float) -> list[Calibration]:
        self.ensure(end)
        return _between(self.calibrations, self._calibration_times, start, end)

    def alerts_between(self, start: float, end: float) -> list[Alert]:
        self.ensure(end)
        return _between(self.alerts, self._alert_times, start, end)

    def events_between(self, start: float, end: float) -> list[Event]:
        self.ensure(end)
        return _between(self.events, self._event_times, start, end)


T = TypeVar("T")


def _between(items: list[T], times: list[int], start: float, end: float) -> list[T]:
    """Items with start <= time <= end (both inclusive)."""
    low = bisect.bisect_left(times, math.ceil(start))
    high = bisect.bisect_right(times, math.floor(end))
    return items[low:high]


def _typo(value: str, delta: int) -> str:
    number = float(value)
    wrong = max(1.0, number + delta if number >= 20 else number + delta / 10)
    return f"{wrong:g}"

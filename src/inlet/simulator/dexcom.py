"""A Dexcom-like partner: OAuth2 under ``/v2/oauth2`` and the v3 data API under ``/v3/users/self``.

Shapes follow Dexcom's API v3 (shared/reference/partner-sync.md): the envelope
``{recordType, recordVersion: "3.0", userId, records}``; ``startDate``/``endDate`` strictly
``YYYY-MM-DDThh:mm:ss`` in UTC, at most 30 days apart (400 otherwise); records matched on
``systemTime`` with both ends inclusive and listed newest first; ``userId`` differs per app.

Per account (``DexcomAccount``): a G6 or G7, shown on a receiver (times without offsets, a hand-set
clock a little off that follows DST changes and trips hours late) or a phone (times with offsets,
following the zone at once). Simulator choices where Dexcom's behaviour is not documented:
- a High (> 400 mg/dL) or Low (< 40) reading has status ``high``/``low``; G6 accounts send the pinned
  value 401 / 39, G7 accounts ``value: null``; the trend is then ``none``;
- user-entered events (about a third) have times without seconds (``2026-03-10T12:05``);
- an edited event keeps its ``recordId`` with ``eventStatus: updated``; a deleted one stays listed
  with ``eventStatus: deleted``;
- ``dataRange?lastSyncTime=`` covers the records uploaded after that instant; a type with nothing to
  report is left out;
- ``devices`` lists one record per transmitter with data in the window; its alert schedules use
  Dexcom's field names (``alertScheduleName``, ``isEnabled``, ``isDefaultSchedule``, ...).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inlet.simulator import seeding
from inlet.simulator.cgm import AlertSettings, CgmTimeline, Event, Reading, Session
from inlet.simulator.core import JSON, Simulator, SimulatorConfig, build_app, error
from inlet.simulator.faults import unstorable as with_unstorable
from inlet.simulator.oauth import Login, OAuthSettings
from inlet.simulator.timezones import DAY, DisplayClock, ZonePlan, default_history_start

Generation = Literal["g6", "g7"]
DisplayDevice = Literal["receiver", "iOS", "android"]
RECORD_VERSION = "3.0"
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
DAYS_OF_WEEK = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]


@dataclass(frozen=True)
class DexcomAccount:
    username: str
    seed: int
    generation: Generation = "g6"
    display_device: DisplayDevice = "iOS"
    home_timezone: str = "America/Los_Angeles"
    travel_timezone: str | None = "America/New_York"
    history_start: datetime | None = None  # None: 30 days back, or further to include the last DST change
    password: str | None = None  # None: any password, as on Dexcom's sandbox
    night_schedule: bool = False  # a second alert schedule (22:00-07:00)


@dataclass(frozen=True, kw_only=True)
class DexcomConfig(SimulatorConfig):
    accounts: tuple[DexcomAccount, ...] = ()


def default_dexcom_accounts(seed: int = 1) -> tuple[DexcomAccount, ...]:
    """Three people: a G6 on a receiver, a G6 on an iPhone, a G7 on Android (Dexcom's sandbox names)."""

    def account_seed(username: str) -> int:
        return seeding.derive(seed, "dexcom", username) % 2**31

    return (
        DexcomAccount(
            "SandboxUser1",
            account_seed("SandboxUser1"),
            "g6",
            "receiver",
            "America/Los_Angeles",
            "America/New_York",
        ),
        DexcomAccount(
            "SandboxUser2",
            account_seed("SandboxUser2"),
            "g6",
            "iOS",
            "America/Chicago",
            "Europe/London",
            night_schedule=True,
        ),
        DexcomAccount(
            "SandboxUser7",
            account_seed("SandboxUser7"),
            "g7",
            "android",
            "Europe/Berlin",
            "America/New_York",
        ),
    )


def default_dexcom_config(seed: int = 1, **overrides: Any) -> DexcomConfig:
    fields: dict[str, Any] = {"accounts": default_dexcom_accounts(seed), "fault_seed": seed}
    fields.update(overrides)
    return DexcomConfig(**fields)


def dexcom_oauth_settings(config: SimulatorConfig) -> OAuthSettings:
    return OAuthSettings(
        partner="Dexcom",
        authorize_path="/v2/oauth2/login",
        token_path="/v2/oauth2/token",
        revoke_path="/v2/oauth2/revoke",
        scopes=("offline_access",),
        default_scope="offline_access",
        auth_methods=("client_secret_post",),
        require_pkce=False,
        access_token_lifetime=config.access_token_lifetime,
        refresh_token_lifetime=config.refresh_token_lifetime,
        code_lifetime=config.code_lifetime,
        revoke_grant_on_refresh_reuse=config.revoke_grant_on_refresh_reuse,
    )


def _unknown(record_id: str, salt: int = 0) -> int | None:
    """For about one record in five, which field gets an unknown enum value (0-3)."""
    value = int(record_id[:4], 16)
    if value % 5:
        return None
    return (value // 5 + salt) % 4


@dataclass
class DexcomUser:
    """One simulated Dexcom account, with its records built lazily from its seed."""

    account: DexcomAccount
    history_start: datetime
    upload_delay: int

    @property
    def lock(self) -> threading.RLock:
        """The (shared) timeline's lock: hold it while reading records."""
        return self.timeline.lock

    @cached_property
    def plan(self) -> ZonePlan:
        a = self.account
        return ZonePlan(a.seed, a.home_timezone, a.travel_timezone, int(self.history_start.timestamp()))

    @cached_property
    def display(self) -> DisplayClock:
        r = seeding.rng(self.account.seed, "receiver-clock")
        return DisplayClock(
            self.plan,
            receiver=not self.mobile,
            lag_seconds=int(r.uniform(4, 14) * 3600),
            drift_seconds=r.choice([-1, 1]) * r.randint(20, 110),
        )

    @cached_property
    def timeline(self) -> CgmTimeline:
        a = self.account
        return CgmTimeline(
            a.seed, a.generation, self.history_start, self.plan, self.upload_delay, a.night_schedule
        )

    @property
    def mobile(self) -> bool:
        return self.account.display_device != "receiver"

    @property
    def display_app(self) -> str:
        if not self.mobile:
            return "receiver"
        return "G7" if self.account.generation == "g7" else "G6"

    def user_id(self, client_id: str) -> str:
        return seeding.record_id(self.account.seed, "user", self.account.username, client_id)

    def system_time(self, t: float, without_seconds: bool = False) -> str:
        text = datetime.fromtimestamp(t, UTC).strftime(
            "%Y-%m-%dT%H:%M" if without_seconds else "%Y-%m-%dT%H:%M:%S"
        )
        return text + "Z" if self.mobile else text

    def display_time(self, t: float, without_seconds: bool = False) -> str:
        offset = self.display.offset_at(t)
        local = datetime.fromtimestamp(t + offset, UTC)
        text = local.strftime("%Y-%m-%dT%H:%M" if without_seconds else "%Y-%m-%dT%H:%M:%S")
        if not self.mobile:
            return text
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        return f"{text}{sign}{hours:02d}:{minutes:02d}"

    def describe(self) -> dict[str, Any]:
        a = self.account
        return {
            "username": a.username,
            "seed": a.seed,
            "transmitterGeneration": a.generation,
            "displayDevice": a.display_device,
            "homeTimezone": a.home_timezone,
            "travelTimezone": a.travel_timezone,
            "historyStart": self.history_start.isoformat().replace("+00:00", "Z"),
            "trips": [
                {"zone": trip.zone, "start": _iso(trip.start), "end": _iso(trip.end)}
                for trip in self.plan.trips[:3]
            ],
            "passwordRequired": a.password is not None,
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


# -- records ---------------------------------------------------------------------------------------
def trend_of(reading: Reading) -> tuple[str, float | None]:
    if reading.status != "ok":
        return "none", None
    rate = reading.trend_rate
    if rate is None:
        return "notComputable", None
    for limit, name in ((3, "doubleUp"), (2, "singleUp"), (1, "fortyFiveUp")):
        if rate >= limit:
            return name, rate
    for limit, name in ((-1, "flat"), (-2, "fortyFiveDown"), (-3, "singleDown")):
        if rate > limit:
            return name, rate
    return "doubleDown", rate


class DexcomRecords:
    """Renders one account's records as Dexcom's JSON (``unknown``: the unknown-enum fault is on;
    ``unstorable(record_id, t)``: whether a record carries the unstorable-characters fault, in its
    ``transmitterId``, a string Inlet keeps in the device id and the payload)."""

    def __init__(
        self, user: DexcomUser, unknown: bool, unstorable: Callable[[str, float], bool] | None = None
    ) -> None:
        self.user = user
        self.unknown = unknown
        self.unstorable = unstorable
        self.generation = user.account.generation
        self.display_device = user.account.display_device

    def _session(self, index: int) -> Session:
        return self.user.timeline.session(index)

    def _garble(self, record: dict[str, Any], rid: str, t: float) -> dict[str, Any]:
        if self.unstorable is not None and self.unstorable(rid, t):
            record["transmitterId"] = with_unstorable(record["transmitterId"])
        return record

    def egv(self, reading: Reading) -> dict[str, Any]:
        u = self.user
        session = self._session(reading.session)
        rid = seeding.record_id(u.account.seed, "egv", reading.t)
        trend, rate = trend_of(reading)
        value: int | None = reading.value
        if reading.status != "ok":
            pinned = 39 if reading.status == "low" else 401
            value = pinned if self.generation == "g6" else None
        record: dict[str, Any] = {
            "recordId": rid,
            "systemTime": u.system_time(reading.t),
            "displayTime": u.display_time(reading.t),
            "transmitterId": session.transmitter_id,
            "transmitterTicks": reading.t - session.transmitter_start,
            "value": value,
            "status": reading.status,
            "trend": trend,
            "trendRate": rate,
            "unit": "mg/dL",
            "rateUnit": "mg/dL/min",
            "displayDevice": self.display_device,
            "transmitterGeneration": self.generation,
        }
        if self.unknown:
            pick = _unknown(rid)
            if pick is not None:
                key, value_ = (
                    ("trend", "tripleUp"),
                    ("status", "outOfCalibration"),
                    ("displayDevice", "watch"),
                    ("transmitterGeneration", "g8"),
                )[pick]
                record[key] = value_
        return self._garble(record, rid, reading.t)

    def calibration(self, t: int, value: int, session_index: int) -> dict[str, Any]:
        u = self.user
        session = self._session(session_index)
        rid = seeding.record_id(u.account.seed, "calibration", t)
        record: dict[str, Any] = {
            "recordId": rid,
            "systemTime": u.system_time(t),
            "displayTime": u.display_time(t),
            "unit": "mg/dL",
            "value": value,
            "displayDevice": self.display_device,
            "transmitterId": session.transmitter_id,
            "transmitterTicks": t - session.transmitter_start,
            "transmitterGeneration": self.generation,
        }
        if self.unknown and _unknown(rid) is not None:
            record["transmitterGeneration"] = "g8"
        return self._garble(record, rid, t)

    def event(self, event: Event, now: float) -> dict[str, Any] | None:
        version = event.version_at(now)
        if version is None:
            return None
        u = self.user
        session = self._session(event.session)
        rid = seeding.record_id(u.account.seed, "event", event.key)
        record: dict[str, Any] = {
            "recordId": rid,
            "systemTime": u.system_time(event.t, event.without_seconds),
            "displayTime": u.display_time(event.t, event.without_seconds),
            "eventStatus": version.status,
            "eventType": event.event_type,
            "eventSubType": event.sub_type,
            "unit": event.unit,
            "value": version.value,
            "transmitterId": session.transmitter_id,
            "transmitterGeneration": self.generation,
            "displayDevice": self.display_device,
        }
        if self.unknown:
            pick = _unknown(rid)
            if pick is not None:
                key, value = (
                    ("eventType", "meal"),
                    ("eventSubType", "superHeavy"),
                    ("eventStatus", "archived"),
                    ("displayDevice", "watch"),
                )[pick]
                record[key] = value
        return self._garble(record, rid, event.t)

    def alert(self, t: int, name: str, state: str, session_index: int) -> dict[str, Any]:
        u = self.user
        session = self._session(session_index)
        rid = seeding.record_id(u.account.seed, "alert", t, name)
        record: dict[str, Any] = {
            "recordId": rid,
            "systemTime": u.system_time(t),
            "displayTime": u.display_time(t),
            "alertName": name,
            "alertState": state,
            "displayDevice": self.display_device,
            "transmitterGeneration": self.generation,
            "transmitterId": session.transmitter_id,
            "displayApp": u.display_app,
        }
        if self.unknown:
            pick = _unknown(rid)
            if pick is not None:
                key, value = (
                    ("alertName", "signalLoss"),
                    ("alertState", "acknowledged"),
                    ("displayApp", "watchOS"),
                    ("alertName", "pumpLow"),
                )[pick]
                record[key] = value
        return self._garble(record, rid, t)

    def device(self, transmitter_id: str, last_upload: float, settings: AlertSettings) -> dict[str, Any]:
        u = self.user
        record: dict[str, Any] = {
            "lastUploadDate": u.system_time(last_upload),
            "transmitterId": transmitter_id,
            "transmitterGeneration": self.generation,
            "displayDevice": self.display_device,
            "displayApp": u.display_app,
            "alertSchedules": self._schedules(settings, last_upload),
        }
        if self.unknown and _unknown(seeding.record_id(u.account.seed, "device", transmitter_id)) is not None:
            record["transmitterGeneration"] = "g8"
        return record

    def _schedules(self, settings: AlertSettings, at: float) -> list[dict[str, Any]]:
        u = self.user
        set_at = {"systemTime": u.system_time(settings.since), "displayTime": u.display_time(settings.since)}

        def setting(name: str, value: float, unit: str, snooze: int, enabled: bool = True) -> dict[str, Any]:
            return {
                **set_at,
                "alertName": name,
                "value": value,
                "unit": unit,
                "snooze": snooze,
                "enabled": enabled,
                "delay": 0,
                "secondaryTriggerCondition": 0,
                "soundTheme": "modern",
                "soundOutputMode": "sound",
            }

        urgent_low = "fixedLow" if self.generation == "g7" else "urgentLow"
        alerts = [
            setting("high", settings.high, "mg/dL", 120),
            setting("low", settings.low, "mg/dL", 30),
            setting(urgent_low, settings.urgent_low, "mg/dL", 30),
            setting("urgentLowSoon", settings.urgent_low, "mg/dL", 30, enabled=u.mobile),
            setting("rise", settings.rise, "mg/dL/min", 0, enabled=False),
            setting("fall", settings.fall, "mg/dL/min", 0),
            setting("noReadings", settings.no_readings, "minutes", 0),
            setting("outOfRange", 20, "minutes", 0),
        ]
        minute = u.plan.local_minute_of_day(at)
        night_active = settings.night_high is not None and (minute >= 22 * 60 or minute < 7 * 60)
        schedules = [
            {
                "alertScheduleSettings": {
                    "alertScheduleName": "",
                    "isEnabled": True,
                    "isDefaultSchedule": True,
                    "startTime": "00:00",
                    "endTime": "00:00",
                    "daysOfWeek": DAYS_OF_WEEK,
                    "isActive": not night_active,
                    "override": {"isOverrideEnabled": False, "mode": "quiet", "endTime": "00:00"},
                },
                "alertSettings": alerts,
            }
        ]
        if settings.night_high is not None:
            schedules.append(
                {
                    "alertScheduleSettings": {
                        "alertScheduleName": "Night",
                        "isEnabled": True,
                        "isDefaultSchedule": False,
                        "startTime": "22:00",
                        "endTime": "07:00",
                        "daysOfWeek": DAYS_OF_WEEK,
                        "isActive": night_active,
                        "override": {"isOverrideEnabled": False, "mode": "vibrate", "endTime": "00:00"},
                    },
                    "alertSettings": [setting("high", settings.night_high, "mg/dL", 180), *alerts[1:3]],
                }
            )
        return schedules


# -- the app ---------------------------------------------------------------------------------------
class DexcomSimulator(Simulator):
    partner = "dexcom"

    def __init__(self, config: DexcomConfig) -> None:
        logins = [
            Login(a.username, a.password, f"{a.generation.upper()} on {a.display_device}, {a.home_timezone}")
            for a in config.accounts
        ]
        super().__init__(config, dexcom_oauth_settings(config), logins)
        self.config: DexcomConfig = config
        now = self.clock.now()
        self.users = {
            a.username: DexcomUser(
                a,
                (a.history_start or default_history_start(now, a.home_timezone)).astimezone(UTC),
                config.upload_delay,
            )
            for a in config.accounts
        }

    def is_data_path(self, path: str) -> bool:
        return path.startswith("/v3/users/self/")

    def accounts(self) -> list[dict[str, Any]]:
        return [user.describe() for user in self.users.values()]

    def renderer(self, user: DexcomUser) -> DexcomRecords:
        return DexcomRecords(user, self.faults.unknown_enums, self.faults.unstorable)

    # -- record selection (also used by tests and the demo without HTTP) --------------------------
    def egvs(self, username: str, start: float, end: float, now: float | None = None) -> list[dict[str, Any]]:
        user, now = self.users[username], self.now() if now is None else now
        with user.lock:
            render = self.renderer(user)
            found = user.timeline.readings_between(start, min(end, now))
            return [render.egv(r) for r in reversed(found) if r.available <= now]

    def calibrations(
        self, username: str, start: float, end: float, now: float | None = None
    ) -> list[dict[str, Any]]:
        user, now = self.users[username], self.now() if now is None else now
        with user.lock:
            render = self.renderer(user)
            found = user.timeline.calibrations_between(start, min(end, now))
            return [
                render.calibration(c.t, c.value, c.session) for c in reversed(found) if c.available <= now
            ]

    def events(
        self, username: str, start: float, end: float, now: float | None = None
    ) -> list[dict[str, Any]]:
        user, now = self.users[username], self.now() if now is None else now
        with user.lock:
            render = self.renderer(user)
            found = user.timeline.events_between(start, min(end, now))
            records = (render.event(e, now) for e in reversed(found))
            return [record for record in records if record is not None]

    def alerts(
        self, username: str, start: float, end: float, now: float | None = None
    ) -> list[dict[str, Any]]:
        user, now = self.users[username], self.now() if now is None else now
        with user.lock:
            render = self.renderer(user)
            found = user.timeline.alerts_between(start, min(end, now))
            return [
                render.alert(a.t, a.name, a.state, a.session) for a in reversed(found) if a.available <= now
            ]

    def devices(
        self, username: str, start: float, end: float, now: float | None = None
    ) -> list[dict[str, Any]]:
        user, now = self.users[username], self.now() if now is None else now
        with user.lock:
            render = self.renderer(user)
            timeline = user.timeline
            last_upload: dict[str, float] = {}
            for reading in timeline.readings_between(start, min(end, now)):
                if reading.available <= now:
                    transmitter = timeline.session(reading.session).transmitter_id
                    last_upload[transmitter] = max(last_upload.get(transmitter, 0.0), reading.available)
            return [
                render.device(transmitter, uploaded, timeline.settings_at(uploaded))
                for transmitter, uploaded in sorted(last_upload.items(), key=lambda item: -item[1])
            ]

    def data_range(self, username: str, last_sync: float | None, now: float | None = None) -> dict[str, Any]:
        """First and last ``systemTime`` per type of the visible records (uploaded after ``last_sync``)."""
        user, now = self.users[username], self.now() if now is None else now
        result: dict[str, Any] = {}
        with user.lock:
            timeline = user.timeline
            # Uploads after last_sync may carry older times (backfill, edits): look a day further back.
            earliest = timeline.start if last_sync is None else max(timeline.start, last_sync - DAY)
            uploads: dict[str, Iterable[tuple[int, float]]] = {
                "calibrations": ((c.t, c.available) for c in timeline.calibrations_between(earliest, now)),
                "egvs": ((r.t, r.available) for r in timeline.readings_between(earliest, now)),
                "events": _event_uploads(timeline.events_between(earliest, now), now),
            }
            for name, pairs in uploads.items():
                times = [t for t, up in pairs if up <= now and (last_sync is None or up > last_sync)]
                if times:
                    first, last = min(times), max(times)
                    result[name] = {
                        "start": {
                            "systemTime": user.system_time(first),
                            "displayTime": user.display_time(first),
                        },
                        "end": {"systemTime": user.system_time(last), "displayTime": user.display_time(last)},
                    }
        return result


def _event_uploads(events: Iterable[Event], now: float) -> Iterable[tuple[int, float]]:
    """(time, upload instant of the latest version visible at ``now``) per visible event."""
    for event in events:
        visible = [version.available for version in event.versions if version.available <= now]
        if visible:
            yield event.t, visible[-1]


def _parse_window(request: Request, max_days: int) -> tuple[float, float] | Response:
    start_text = request.query_params.get("startDate")
    end_text = request.query_params.get("endDate")
    if not start_text or not end_text:
        return error(400, "invalid_request", "startDate and endDate are required")
    for name, text in (("startDate", start_text), ("endDate", end_text)):
        if not DATE_PATTERN.match(text):
            return error(
                400, "invalid_request", f"{name} must be YYYY-MM-DDThh:mm:ss in UTC without an offset"
            )
    try:
        start = datetime.fromisoformat(start_text).replace(tzinfo=UTC).timestamp()
        end = datetime.fromisoformat(end_text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return error(400, "invalid_request", "startDate or endDate is not a valid date")
    if end <= start:
        return error(400, "invalid_request", "endDate must be after startDate")
    if end - start > max_days * DAY:
        return error(
            400, "invalid_request", f"the window from startDate to endDate must be at most {max_days} days"
        )
    return start, end


def _parse_instant(text: str) -> float | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def create_dexcom_app(config: DexcomConfig | None = None) -> Starlette:
    """The Dexcom simulator as an ASGI app (``app.state.simulator`` is its ``DexcomSimulator``)."""
    config = config if config is not None else default_dexcom_config()
    simulator = DexcomSimulator(config)

    def records_endpoint(kind: str, record_type: str) -> Route:
        select = getattr(simulator, kind)

        async def endpoint(request: Request) -> Response:
            auth = simulator.authorize(request)
            if isinstance(auth, Response):
                return auth
            window = _parse_window(request, config.max_window_days)
            if isinstance(window, Response):
                return window
            user = simulator.users[auth.grant.username]
            return JSON(
                {
                    "recordType": record_type,
                    "recordVersion": RECORD_VERSION,
                    "userId": user.user_id(auth.grant.client_id),
                    "records": select(auth.grant.username, *window),
                }
            )

        return Route(f"/v3/users/self/{kind}", endpoint, methods=["GET"])

    async def data_range(request: Request) -> Response:
        auth = simulator.authorize(request)
        if isinstance(auth, Response):
            return auth
        last_sync: float | None = None
        text = request.query_params.get("lastSyncTime")
        if text:
            last_sync = _parse_instant(text)
            if last_sync is None:
                return error(400, "invalid_request", "lastSyncTime must be an ISO 8601 date-time")
        user = simulator.users[auth.grant.username]
        return JSON(
            {
                "recordType": "dataRange",
                "recordVersion": RECORD_VERSION,
                "userId": user.user_id(auth.grant.client_id),
                **simulator.data_range(auth.grant.username, last_sync),
            }
        )

    routes = [
        Route("/v3/users/self/dataRange", data_range, methods=["GET"]),
        records_endpoint("egvs", "egv"),
        records_endpoint("calibrations", "calibration"),
        records_endpoint("events", "event"),
        records_endpoint("alerts", "alert"),
        records_endpoint("devices", "device"),
    ]
    return build_app(simulator, routes)

"""ACME, an invented insulin pump partner with its own JSON API (docs/partners-acme-api.md).

It differs from Dexcom on purpose, so that the partner framework is proven on two shapes: PKCE (S256)
is required, clients may authenticate with HTTP Basic or in the form, data is per device, times are
RFC 3339 with an offset, windows are at most 7 days and half-open, and results are paged with an
opaque cursor, oldest first.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inlet.simulator import seeding
from inlet.simulator.core import JSON, Simulator, SimulatorConfig, build_app, error
from inlet.simulator.faults import unstorable as with_unstorable
from inlet.simulator.oauth import Login, OAuthSettings
from inlet.simulator.pump import BasalSegment, Bolus, PumpHistory
from inlet.simulator.timezones import DAY, default_history_start

DEVICE_MODEL = "ACMEPumpModel123"
MANUFACTURER = "ACME"
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
SCOPES = ("pump:read", "offline_access")


@dataclass(frozen=True)
class AcmeAccount:
    username: str
    seed: int
    timezone: str = "America/Los_Angeles"
    history_start: datetime | None = None  # None: 30 days back, or further to include the last DST change
    password: str | None = None


@dataclass(frozen=True, kw_only=True)
class AcmeConfig(SimulatorConfig):
    accounts: tuple[AcmeAccount, ...] = ()
    access_token_lifetime: int = 3600
    requests_per_hour: int | None = 1000
    upload_delay: int = 900
    max_window_days: int = 7


def default_acme_accounts(seed: int = 1) -> tuple[AcmeAccount, ...]:
    def account_seed(username: str) -> int:
        return seeding.derive(seed, "acme", username) % 2**31

    return (
        AcmeAccount("acme-user-1", account_seed("acme-user-1"), "America/Los_Angeles"),
        AcmeAccount("acme-user-2", account_seed("acme-user-2"), "Europe/Paris"),
    )


def default_acme_config(seed: int = 1, **overrides: Any) -> AcmeConfig:
    fields: dict[str, Any] = {"accounts": default_acme_accounts(seed), "fault_seed": seed}
    fields.update(overrides)
    return AcmeConfig(**fields)


def acme_oauth_settings(config: SimulatorConfig) -> OAuthSettings:
    return OAuthSettings(
        partner="ACME Pump Cloud",
        authorize_path="/oauth/authorize",
        token_path="/oauth/token",
        revoke_path="/oauth/revoke",
        scopes=SCOPES,
        default_scope=" ".join(SCOPES),
        auth_methods=("client_secret_basic", "client_secret_post"),
        require_pkce=True,
        access_token_lifetime=config.access_token_lifetime,
        refresh_token_lifetime=config.refresh_token_lifetime,
        code_lifetime=config.code_lifetime,
        revoke_grant_on_refresh_reuse=config.revoke_grant_on_refresh_reuse,
    )


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AcmeUser:
    account: AcmeAccount
    history_start: datetime
    upload_delay: int
    lock: threading.RLock = field(default_factory=threading.RLock)

    @cached_property
    def pump(self) -> PumpHistory:
        a = self.account
        return PumpHistory(a.seed, a.timezone, self.history_start, self.upload_delay)

    @property
    def serial(self) -> str:
        return str(seeding.derive(self.account.seed, "serial") % 10**10).zfill(10)

    @property
    def device_id(self) -> str:
        return f"{DEVICE_MODEL}-{self.serial}"

    def user_id(self, client_id: str) -> str:
        return seeding.record_id(self.account.seed, "acme-user", self.account.username, client_id)

    def device(self, now: float) -> dict[str, Any]:
        with self.lock:
            pump = self.pump
            pump.ensure(now)
            # The pump's last upload carried every record visible by now, boluses as well as basal
            # segments: a bolus that ends after the last basal segment still moves it.
            uploads = [b.available for b in pump.basals if b.available <= now]
            uploads += [b.available for b in pump.boluses if b.available <= now]
            last_upload = max(uploads) if uploads else None
            return {
                "deviceId": self.device_id,
                "deviceModel": DEVICE_MODEL,
                "deviceManufacturer": MANUFACTURER,
                "deviceName": f"ACMEPumpCo {DEVICE_MODEL}",
                "deviceSerialNumber": self.serial,
                "deviceTime": pump.device_time(last_upload) if last_upload is not None else None,
                "lastUploadTime": _iso(last_upload) if last_upload is not None else None,
                "timezone": self.account.timezone,
                "basalScheduleName": "Standard",
            }


def _unknown(record_id: str) -> bool:
    return int(record_id[:4], 16) % 5 == 0


class AcmeSimulator(Simulator):
    partner = "acme"

    def __init__(self, config: AcmeConfig) -> None:
        logins = [Login(a.username, a.password, f"ACME pump, {a.timezone}") for a in config.accounts]
        super().__init__(config, acme_oauth_settings(config), logins)
        self.config: AcmeConfig = config
        now = self.clock.now()
        self.users = {
            a.username: AcmeUser(
                a,
                (a.history_start or default_history_start(now, a.timezone)).astimezone(UTC),
                config.upload_delay,
            )
            for a in config.accounts
        }

    def is_data_path(self, path: str) -> bool:
        return path.startswith("/api/v1/")

    def accounts(self) -> list[dict[str, Any]]:
        return [
            {
                "username": u.account.username,
                "seed": u.account.seed,
                "timezone": u.account.timezone,
                "historyStart": u.history_start.isoformat().replace("+00:00", "Z"),
                "deviceId": u.device_id,
                "passwordRequired": u.account.password is not None,
            }
            for u in self.users.values()
        ]

    def basal_record(self, user: AcmeUser, segment: BasalSegment) -> dict[str, Any]:
        pump = user.pump
        rid = seeding.record_id(user.account.seed, "basal", segment.t)
        record: dict[str, Any] = {
            "id": rid,
            "type": "basal",
            "deliveryType": segment.delivery_type,
            "time": _iso(segment.t),
            "localTime": pump.local_time(segment.t),
            "timezone": user.account.timezone,
            "duration": segment.duration * 1000,
            "expectedDuration": segment.expected_duration * 1000,
        }
        if segment.rate is not None:
            record["rate"] = segment.rate
        if segment.delivery_type == "scheduled":
            record["scheduleName"] = "Standard"
        if segment.percent is not None:
            record["percent"] = segment.percent
        if segment.delivery_type != "scheduled":
            record["suppressed"] = {
                "deliveryType": "scheduled",
                "rate": segment.scheduled_rate,
                "scheduleName": "Standard",
            }
        if self.faults.unknown_enums and _unknown(rid):
            record["deliveryType"] = "automatedBoost"
        if self.faults.unstorable(rid, segment.t):  # in the schedule's name (free text)
            for holder in (record, record.get("suppressed") or {}):
                if "scheduleName" in holder:
                    holder["scheduleName"] = with_unstorable(holder["scheduleName"])
        return record

    def bolus_record(self, user: AcmeUser, bolus: Bolus) -> dict[str, Any]:
        pump = user.pump
        rid = seeding.record_id(user.account.seed, "bolus", bolus.t)
        record: dict[str, Any] = {
            "id": rid,
            "type": "bolus",
            "deliveryType": bolus.delivery_type,
            "time": _iso(bolus.t),
            "localTime": pump.local_time(bolus.t),
            "timezone": user.account.timezone,
        }
        for key, value in (
            ("normal", bolus.normal),
            ("expectedNormal", bolus.expected_normal),
            ("extended", bolus.extended),
            ("expectedExtended", bolus.expected_extended),
        ):
            if value is not None:
                record[key] = value
        if bolus.duration is not None:
            record["duration"] = bolus.duration * 1000
        if bolus.expected_duration is not None:
            record["expectedDuration"] = bolus.expected_duration * 1000
        if self.faults.unknown_enums and _unknown(rid):
            record["deliveryType"] = "superBolus"
        return record

    def basals(
        self, username: str, start: float, end: float, now: float | None = None
    ) -> list[dict[str, Any]]:
        user, now = self.users[username], self.now() if now is None else now
        with user.lock:
            found = user.pump.basals_between(start, min(end, now))
            return [self.basal_record(user, s) for s in found if s.available <= now]

    def boluses(
        self, username: str, start: float, end: float, now: float | None = None
    ) -> list[dict[str, Any]]:
        user, now = self.users[username], self.now() if now is None else now
        with user.lock:
            found = user.pump.boluses_between(start, min(end, now))
            return [self.bolus_record(user, b) for b in found if b.available <= now]


def _instant(text: str | None, name: str) -> float | Response:
    if not text:
        return error(400, "invalid_request", f"'{name}' is required (RFC 3339 with an offset)")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return error(400, "invalid_request", f"'{name}' is not an RFC 3339 date-time")
    if value.tzinfo is None:
        return error(400, "invalid_request", f"'{name}' needs an offset (Z or +hh:mm)")
    return value.timestamp()


def _cursor_encode(offset: int, kind: str, start: float, end: float) -> str:
    raw = orjson.dumps({"o": offset, "k": kind, "s": start, "e": end})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(text: str, kind: str, start: float, end: float) -> int | None:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or (data.get("k"), data.get("s"), data.get("e")) != (kind, start, end):
        return None
    offset = data.get("o")
    return offset if isinstance(offset, int) and offset >= 0 else None


def create_acme_app(config: AcmeConfig | None = None) -> Starlette:
    """The ACME simulator as an ASGI app (``app.state.simulator`` is its ``AcmeSimulator``)."""
    config = config if config is not None else default_acme_config()
    simulator = AcmeSimulator(config)

    async def me(request: Request) -> Response:
        auth = simulator.authorize(request)
        if isinstance(auth, Response):
            return auth
        user = simulator.users[auth.grant.username]
        return JSON(
            {
                "userId": user.user_id(auth.grant.client_id),
                "username": user.account.username,
                "timezone": user.account.timezone,
                "devices": [user.device_id],
            }
        )

    async def devices(request: Request) -> Response:
        auth = simulator.authorize(request)
        if isinstance(auth, Response):
            return auth
        user = simulator.users[auth.grant.username]
        return JSON({"data": [user.device(simulator.now())]})

    def paged(kind: str) -> Route:
        select = getattr(simulator, kind)

        async def endpoint(request: Request) -> Response:
            auth = simulator.authorize(request)
            if isinstance(auth, Response):
                return auth
            user = simulator.users[auth.grant.username]
            if request.path_params["device_id"] != user.device_id:
                return error(404, "not_found", "no such device for this user")
            query = request.query_params
            start = _instant(query.get("start"), "start")
            if isinstance(start, Response):
                return start
            end = _instant(query.get("end"), "end")
            if isinstance(end, Response):
                return end
            if end <= start:
                return error(400, "invalid_request", "'end' must be after 'start'")
            if end - start > config.max_window_days * DAY:
                return error(400, "window_too_large", f"at most {config.max_window_days} days per request")
            try:
                limit = int(query.get("limit", DEFAULT_LIMIT))
            except ValueError:
                limit = -1
            if not 1 <= limit <= MAX_LIMIT:
                return error(400, "invalid_request", f"'limit' must be 1..{MAX_LIMIT}")
            offset = 0
            if query.get("cursor"):
                decoded = _cursor_decode(query["cursor"], kind, start, end)
                if decoded is None:
                    return error(400, "invalid_cursor", "the cursor does not belong to this query")
                offset = decoded
            records = select(auth.grant.username, start, end)
            page = records[offset : offset + limit]
            more = offset + limit < len(records)
            next_cursor = _cursor_encode(offset + limit, kind, start, end) if more else None
            return JSON({"data": page, "meta": {"count": len(page), "nextCursor": next_cursor}})

        return Route(f"/api/v1/devices/{{device_id}}/{kind}", endpoint, methods=["GET"])

    routes = [
        Route("/api/v1/me", me, methods=["GET"]),
        Route("/api/v1/devices", devices, methods=["GET"]),
        paged("basals"),
        paged("boluses"),
    ]
    return build_app(simulator, routes)

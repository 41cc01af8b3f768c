"""The partner contract: what one folder under ``partners/`` declares, and what the framework reads.

A partner is a folder ``partners/<slug>/`` with

- ``manifest.toml``: the one-time setup facts (endpoints, credentials, restrictions, what it offers),
  parsed here into a :class:`Partner`; every endpoint and credential can be overridden by
  ``INLET_PARTNER_<SLUG>_<FIELD>`` (:data:`OVERRIDE_FIELDS`, applied by :func:`apply_overrides`);
- ``client.py``: a ``Client`` class, a subclass of :class:`PartnerClient`, speaking the partner's HTTP
  API (HTTP only: no database, no mapping).

The manifest is read strictly: an unknown key, a missing one or a value of the wrong kind is a
:class:`ManifestError` naming the file and the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx2

from inlet.model.timeutil import TranslatedTime, format_utc

SLUG = re.compile(r"^[a-z][a-z0-9]{1,31}$")
AUTH_KINDS = ("oauth2_authorization_code",)
AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
DELIVERIES = ("poll", "push")
ENV_PREFIX = "INLET_PARTNER_"
OVERRIDE_FIELDS = (
    "AUTHORIZE_URL",
    "TOKEN_URL",
    "REVOKE_URL",
    "API_URL",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "ENABLED",
    "REQUESTS_PER_HOUR",
    "INTERVAL_MIN",
    "INTERVAL_MAX",
    "HISTORY_START",
    "HISTORY_DAYS",
    "BLACKOUTS",
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ManifestError(ValueError):
    """A manifest or an ``INLET_PARTNER_*`` override is not valid; the message says where and why."""


@dataclass(frozen=True)
class Blackout:
    """A daily window of the partner's wall clock in which nothing is fetched (maintenance)."""

    start: time
    end: time
    zone: str

    def contains(self, instant: datetime) -> bool:
        """Whether ``instant`` (aware) falls in the window, ``start <= local < end``; a window whose
        end is before its start runs over midnight."""
        local = instant.astimezone(ZoneInfo(self.zone)).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Policy:
    """How the sync engine treats the partner: a random interval between runs, blackout windows,
    the app's request budget, the widest window one request may ask for, and where history starts."""

    interval_min: int  # minutes
    interval_max: int  # minutes
    requests_per_hour: int
    max_days_per_request: int
    history_start: date
    blackouts: tuple[Blackout, ...] = ()
    history_days: int | None = None  # a first sync reaches at most this many days back (partners
    # without a dataRange-like call would otherwise walk every window since history_start)


@dataclass(frozen=True)
class OAuth:
    """OAuth 2.0 authorization code grant (RFC 6749), with PKCE S256 (RFC 7636) where ``pkce``."""

    authorize_url: str
    token_url: str
    revoke_url: str | None
    scopes: tuple[str, ...]
    pkce: bool
    token_endpoint_auth_method: str
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Partner:
    """One partner, from its manifest with the environment's overrides applied."""

    slug: str
    display_name: str
    description: str
    auth_kind: str
    oauth: OAuth
    api_url: str
    policy: Policy
    data_types: tuple[str, ...]
    delivery: Literal["poll", "push"]
    enabled: bool = True
    package: str | None = None  # the Python package of the folder (``inlet.partners.dexcom``)

    @property
    def configured(self) -> bool:
        """Enabled, and the credentials the token endpoint needs are set."""
        oauth = self.oauth
        has_secret = bool(oauth.client_secret) or oauth.token_endpoint_auth_method == "none"
        return self.enabled and bool(oauth.client_id) and has_secret

    def redirect_uri(self, public_base: str) -> str:
        """The redirect URI registered with the partner: ``{INLET_PUBLIC_URL}/v1/oauth/<slug>/redirect``."""
        return f"{public_base.rstrip('/')}/v1/oauth/{self.slug}/redirect"

    @property
    def env_prefix(self) -> str:
        return f"{ENV_PREFIX}{self.slug.upper()}_"

    def client_class(self) -> type[PartnerClient]:
        """The folder's ``client.Client``; :class:`PartnerClient` for partners defined in code."""
        if self.package is None:
            return PartnerClient
        module = importlib.import_module(f"{self.package}.client")
        client = getattr(module, "Client", None)
        if not (isinstance(client, type) and issubclass(client, PartnerClient)):
            raise ManifestError(f"{self.package}.client must define Client, a subclass of PartnerClient")
        return client

    def client(self, http: httpx2.Client) -> PartnerClient:
        return self.client_class()(self, http)


class PartnerClient:
    """A partner's HTTP API. Subclasses (each folder's ``client.Client``) add the partner's calls;
    they return the partner's own records, tolerate unknown enum values and missing fields, and never
    touch the database. ``http`` carries the authentication (a bearer token, or Authlib's
    ``OAuth2Client``, which refreshes it)."""

    def __init__(self, partner: Partner, http: httpx2.Client) -> None:
        self.partner = partner
        self.http = http

    def url(self, path: str) -> str:
        return f"{self.partner.api_url.rstrip('/')}/{path.lstrip('/')}"

    def external_id(self) -> str | None:
        """The partner's id of the connected account, when its API tells one (else ``None``)."""
        return None


# ---- reading a manifest -----------------------------------------------------------------------------


class _Reader:
    """Typed access to one table of a manifest; every key must be read, so leftovers are unknown."""

    def __init__(self, table: Mapping[str, Any], where: str) -> None:
        self.table = dict(table)
        self.where = where
        self.seen: set[str] = set()

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.table:
            if required:
                raise ManifestError(f"{self.where}: {key} is missing")
            return None
        return self.table[key]

    def text(self, key: str, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(f"{self.where}: {key} must be a non-empty string")
        return value

    def need_text(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ManifestError(f"{self.where}: {key} must be true or false")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ManifestError(f"{self.where}: {key} must be a positive integer")
        return value

    def texts(self, key: str, required: bool = True) -> tuple[str, ...]:
        value = self._get(key, required)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ManifestError(f"{self.where}: {key} must be a list of strings")
        return tuple(value)

    def table_of(self, key: str, required: bool = True) -> _Reader | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ManifestError(f"{self.where}: [{key}] must be a table")
        return _Reader(value, f"{self.where} [{key}]")

    def tables(self, key: str) -> list[_Reader]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ManifestError(f"{self.where}: [[{key}]] must be an array of tables")
        return [_Reader(v, f"{self.where} [[{key}]] #{i + 1}") for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise ManifestError(f"{self.where}: unknown key(s) {', '.join(unknown)}")


def _url(value: str, where: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ManifestError(f"{where}: {value!r} is not an http(s) URL")
    return value


def _clock_time(value: str, where: str) -> time:
    if not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ManifestError(f"{where}: {value!r} is not a time of day (HH:MM)")
    try:
        return time.fromisoformat(value)
    except ValueError as error:
        raise ManifestError(f"{where}: {value!r} is not a time of day (HH:MM)") from error


def _zone(value: str, where: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ManifestError(f"{where}: {value!r} is not an IANA time zone") from error
    return value


def _date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ManifestError(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from error


def _check_policy(policy: Policy, where: str) -> Policy:
    if policy.interval_min > policy.interval_max:
        raise ManifestError(
            f"{where}: the interval minimum ({policy.interval_min}) "
            f"exceeds its maximum ({policy.interval_max})"
        )
    return policy


def parse_manifest(data: Mapping[str, Any], where: str, package: str | None = None) -> Partner:
    """A :class:`Partner` from a manifest's TOML data (``where`` names it in errors)."""
    top = _Reader(data, where)
    slug = top.need_text("slug")
    if not SLUG.fullmatch(slug):
        raise ManifestError(f"{where}: slug {slug!r} must be 2-32 lowercase letters and digits")
    display_name = top.need_text("display_name")
    description = top.text("description", required=False) or ""
    delivery = top.need_text("delivery")
    if delivery not in DELIVERIES:
        raise ManifestError(f"{where}: delivery must be one of {', '.join(DELIVERIES)}")
    data_types = top.texts("data_types")
    enabled = top.boolean("enabled", True)
    api_url = _url(top.need_text("api_url"), f"{where}: api_url")

    auth = top.table_of("auth")
    assert auth is not None
    kind = auth.need_text("kind")
    if kind not in AUTH_KINDS:
        raise ManifestError(f"{auth.where}: kind must be one of {', '.join(AUTH_KINDS)}")
    method = auth.need_text("token_endpoint_auth_method")
    if method not in AUTH_METHODS:
        raise ManifestError(
            f"{auth.where}: token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}"
        )
    revoke = auth.text("revoke_url", required=False)
    oauth = OAuth(
        authorize_url=_url(auth.need_text("authorize_url"), f"{auth.where}: authorize_url"),
        token_url=_url(auth.need_text("token_url"), f"{auth.where}: token_url"),
        revoke_url=_url(revoke, f"{auth.where}: revoke_url") if revoke else None,
        scopes=auth.texts("scopes"),
        pkce=auth.boolean("pkce", False),
        token_endpoint_auth_method=method,
        client_id=auth.text("client_id", required=False),
        client_secret=auth.text("client_secret", required=False),
    )
    auth.done()

    table = top.table_of("policy")
    assert table is not None
    blackouts = []
    for window in table.tables("blackouts"):
        blackouts.append(
            Blackout(
                start=_clock_time(window.need_text("start"), window.where),
                end=_clock_time(window.need_text("end"), window.where),
                zone=_zone(window.need_text("zone"), window.where),
            )
        )
        window.done()
    policy = Policy(
        interval_min=table.integer("interval_min_minutes"),
        interval_max=table.integer("interval_max_minutes"),
        requests_per_hour=table.integer("requests_per_hour"),
        max_days_per_request=table.integer("max_days_per_request"),
        history_start=_date(table.need_text("history_start"), table.where),
        blackouts=tuple(blackouts),
        history_days=table.integer("history_days") if "history_days" in table.table else None,
    )
    table.done()
    top.done()
    return Partner(
        slug=slug,
        display_name=display_name,
        description=description,
        auth_kind=kind,
        oauth=oauth,
        api_url=api_url,
        policy=_check_policy(policy, f"{where} [policy]"),
        data_types=data_types,
        delivery=delivery,  # type: ignore[arg-type]
        enabled=enabled,
        package=package,
    )


def load_manifest(path: Path, package: str | None = None) -> Partner:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path}: not valid TOML: {error}") from error
    return parse_manifest(data, str(path), package)


# ---- environment overrides --------------------------------------------------------------------------


def _override_bool(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ManifestError(f"{where}: {value!r} is not a boolean (true/false, 1/0, yes/no, on/off)")


def _override_int(value: str, where: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", value.strip()) or int(value) <= 0:
        raise ManifestError(f"{where}: {value!r} is not a positive integer")
    return int(value)


def _blackouts(value: str, where: str) -> tuple[Blackout, ...]:
    """Maintenance windows as ``HH:MM-HH:MM Area/City``, comma-separated; an empty value: none (a
    partner's sandbox, or a test that must not depend on the hour it runs at)."""
    windows = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\S+)-(\S+)\s+(\S+)", part)
        if match is None:
            raise ManifestError(f"{where}: {part!r} is not a window (HH:MM-HH:MM Area/City)")
        start, end, zone = match.groups()
        windows.append(Blackout(_clock_time(start, where), _clock_time(end, where), _zone(zone, where)))
    return tuple(windows)


def apply_overrides(partner: Partner, environ: Mapping[str, str]) -> Partner:
    """``partner`` with every ``INLET_PARTNER_<SLUG>_<FIELD>`` of ``environ`` applied. An empty value
    unsets an optional field (``REVOKE_URL``, ``CLIENT_ID``, ``CLIENT_SECRET``)."""
    prefix = partner.env_prefix
    oauth: dict[str, Any] = {}
    top: dict[str, Any] = {}
    policy: dict[str, Any] = {}
    for name in OVERRIDE_FIELDS:
        key = prefix + name
        if key not in environ:
            continue
        value = environ[key]
        if name in ("AUTHORIZE_URL", "TOKEN_URL", "API_URL"):
            target = top if name == "API_URL" else oauth
            target[name.lower()] = _url(value.strip(), key)
        elif name == "REVOKE_URL":
            oauth["revoke_url"] = _url(value.strip(), key) if value.strip() else None
        elif name in ("CLIENT_ID", "CLIENT_SECRET"):
            oauth[name.lower()] = value or None
        elif name == "ENABLED":
            top["enabled"] = _override_bool(value, key)
        elif name == "REQUESTS_PER_HOUR":
            policy["requests_per_hour"] = _override_int(value, key)
        elif name == "INTERVAL_MIN":
            policy["interval_min"] = _override_int(value, key)
        elif name == "INTERVAL_MAX":
            policy["interval_max"] = _override_int(value, key)
        elif name == "HISTORY_START":
            policy["history_start"] = _date(value.strip(), key)
        elif name == "HISTORY_DAYS":
            policy["history_days"] = _override_int(value, key)
        elif name == "BLACKOUTS":
            policy["blackouts"] = _blackouts(value, key)
    new_policy = _check_policy(replace(partner.policy, **policy), f"{prefix}INTERVAL_MIN/MAX")
    return replace(partner, oauth=replace(partner.oauth, **oauth), policy=new_policy, **top)


def unknown_overrides(environ: Mapping[str, str], slugs: set[str]) -> list[str]:
    """``INLET_PARTNER_*`` variables that name no known partner or no overridable field (typos)."""
    unknown = []
    for key in environ:
        if not key.startswith(ENV_PREFIX):
            continue
        rest = key[len(ENV_PREFIX) :]
        if not any(rest == f"{slug.upper()}_{name}" for slug in slugs for name in OVERRIDE_FIELDS):
            unknown.append(key)
    return sorted(unknown)


# ---- what a mapping returns (partners/<slug>/mapping.py) ---------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something about one record that could not be mapped. ``skipped``: the whole record was left
    out (the caller keeps its raw payload and counts it); otherwise only ``field`` was dropped."""

    kind: str
    record_id: str | None
    reason: str
    field: str | None = None
    skipped: bool = True


@dataclass
class MappingResult:
    """Datums to store, origin ids to delete (tombstones) and the problems met."""

    datums: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Records left out whole (counted by the sync run; their raw payloads are kept)."""
        return sum(1 for p in self.problems if p.skipped)


def service_datum(
    datum_type: str, translated: TranslatedTime, device_id: str, origin_id: str, origin_name: str
) -> dict[str, Any]:
    """A partner datum's common fields: type, UTC time with the offsets the partner's local time
    implies (``translate_display_time``), deviceId and ``origin {id, name, type: "service"}``."""
    datum: dict[str, Any] = {
        "type": datum_type,
        "time": format_utc(translated.time),
        "deviceId": device_id,
        "origin": {"id": origin_id, "name": origin_name, "type": "service"},
    }
    if translated.device_time is not None:
        datum["deviceTime"] = translated.device_time
    for key, value in (
        ("timezoneOffset", translated.timezone_offset),
        ("clockDriftOffset", translated.clock_drift_offset),
        ("conversionOffset", translated.conversion_offset),
    ):
        if value is not None:
            datum[key] = value
    return datum

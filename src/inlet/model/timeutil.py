"""Time: strict RFC 3339 for uploads, lenient parsing for partners, and "bootstrapping to UTC".

Conventions (the reference's invariant, checked by the worked cases in the tests)::

    local display time = time (UTC) + timezoneOffset (min) + conversionOffset (ms) + clockDriftOffset (ms)

Stored times keep microsecond precision (Python's limit); digits beyond the sixth are dropped.
"""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000
"""Microseconds in a second: every stored time is an integer count of these since the epoch."""
_MS_PER_MIN = 60_000

RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
DEVICE_TIME_LAYOUT = "2006-01-02T15:04:05"

TIMEZONE_OFFSET_MIN, TIMEZONE_OFFSET_MAX = -10080, 10080  # on datums: a week either way
DATA_SET_TIMEZONE_OFFSET_MIN, DATA_SET_TIMEZONE_OFFSET_MAX = -720, 840
CLOCK_DRIFT_OFFSET_MIN, CLOCK_DRIFT_OFFSET_MAX = -86_400_000, 86_400_000

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_DEVICE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")
_PARTNER_TIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](?:(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{0,9}))?)?)?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2}(?::\d{2})?)?)?"
)


def _fraction_to_us(fraction: str | None) -> int:
    if not fraction:
        return 0
    return int((fraction + "000000")[:6])


@functools.lru_cache(maxsize=64)
def _fixed_zone(minutes: int) -> timezone:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))


def parse_rfc3339(value: str) -> datetime | None:
    """Parse an RFC 3339 time with a zone (``Z`` or ``+hh:mm``); seconds and fraction optional.

    Returns an aware datetime, or ``None`` when the text is not such a time (no zone included) or
    lies outside the years 1..9999 in UTC. The strict pattern decides what is valid; the C parser
    then builds the value (about ten times faster than assembling it by hand).
    """
    if _RFC3339.fullmatch(value) is None:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _parse_rfc3339_slow(value)
    if parsed is None:
        return None
    if parsed.year <= 1 or parsed.year >= 9999:
        try:
            parsed.astimezone(UTC)
        except OverflowError:
            return None
    return parsed


def _parse_rfc3339_slow(value: str) -> datetime | None:
    """The cases ``fromisoformat`` refuses but RFC 3339 allows (lower-case ``t``/``z``)."""
    match = _RFC3339.fullmatch(value)
    assert match is not None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        tz: timezone = UTC
    else:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return None
        minutes = oh * 60 + om
        tz = _fixed_zone(-minutes if sign == "-" else minutes)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second) if second else 0,
            _fraction_to_us(fraction),
            tzinfo=tz,
        )
    except ValueError:
        return None


def parse_device_time(value: str) -> datetime | None:
    """A deviceTime: ``YYYY-MM-DDThh:mm:ss`` exactly, no zone; ``None`` if not valid."""
    if _DEVICE_TIME.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class PartnerTime:
    """A partner's time string as read: the wall clock, its zone (if it had one) and the instant."""

    wall: datetime  # naive
    offset_seconds: int
    zone_parsed: bool

    @property
    def instant(self) -> datetime:
        return (self.wall - timedelta(seconds=self.offset_seconds)).replace(tzinfo=UTC)


def parse_partner_time(value: str) -> PartnerTime | None:
    """Lenient parsing of partner times (Dexcom): missing parts are zero, leading zeros optional,
    a space may replace ``T``, no zone means UTC. Offsets may be ``±hh``, ``±hhmm``, ``±hh:mm`` or
    ``±hh:mm:ss`` (30 seconds or more round the minute up)."""
    match = _PARTNER_TIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        wall = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            _fraction_to_us(fraction),
        )
    except ValueError:
        return None
    if zone is None:
        return PartnerTime(wall, 0, False)
    if zone == "Z":
        return PartnerTime(wall, 0, True)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours = int(digits[0:2])
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    seconds = int(digits[4:6]) if len(digits) >= 6 else 0
    if minutes > 59 or seconds > 59:
        return None
    total_minutes = hours * 60 + minutes + (1 if seconds >= 30 else 0)
    return PartnerTime(wall, sign * total_minutes * 60, True)


def to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch: the storage form of every time column."""
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _wall(v: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss`` of a datetime's own wall clock (C-speed ``isoformat``)."""
    return v.isoformat(timespec="seconds")[:19]


def format_utc(value: datetime) -> str:
    """Inlet's stored and served form: UTC, milliseconds always, microseconds only when present."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    micros = value.microsecond
    if micros % 1000 == 0:
        return f"{_wall(value)}.{micros // 1000:03d}Z"
    return f"{_wall(value)}.{micros:06d}Z"


def format_rfc3339_nano(value: datetime) -> str:
    """Go's ``time.RFC3339Nano``: trailing zeros of the fraction trimmed, ``Z`` for UTC."""
    base = _wall(value)
    micros = value.microsecond
    fraction = f"{micros:06d}".rstrip("0") if micros else ""
    if fraction:
        base = f"{base}.{fraction}"
    offset = value.utcoffset()
    if offset is None or offset == timedelta(0):
        return base + "Z"
    total = int(offset.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    total = abs(total)
    return f"{base}{sign}{total // 60:02d}:{total % 60:02d}"


def nano_from_utc_text(text: str) -> str:
    """RFC3339Nano of a time already in :func:`format_utc` form, by trimming the fraction's zeros."""
    fraction = text[20:-1].rstrip("0")
    return f"{text[:19]}.{fraction}Z" if fraction else f"{text[:19]}Z"


def format_device_time(value: datetime) -> str:
    return _wall(value)


def now_utc() -> datetime:
    return datetime.now(UTC)


# ---- time zones ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone_name(name: str) -> bool:
    return name in timezone_names()


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local_to_utc(device_time: datetime | str, zone_name: str) -> tuple[datetime, int]:
    """deviceTime (wall clock) + an IANA zone -> (time in UTC, timezoneOffset in minutes).

    The rule for the two DST edges (PEP 495's ``fold=0``, documented in docs/architecture.md):
    - an ambiguous wall time (the repeated hour when clocks fall back) is the *first* occurrence,
      i.e. still on the offset in effect before the change;
    - a wall time that does not exist (the hour skipped when clocks spring forward) is read with the
      offset in effect before the change, so it lands just after the transition.
    The offset returned is the one used for the conversion, so ``time + timezoneOffset`` always gives
    back the deviceTime exactly, as the invariant demands.
    """
    wall = parse_device_time(device_time) if isinstance(device_time, str) else device_time
    if wall is None:
        raise ValueError(f"deviceTime {device_time!r} is not YYYY-MM-DDThh:mm:ss")
    local = wall.replace(tzinfo=_zone(zone_name), fold=0)
    offset = local.utcoffset()
    assert offset is not None
    utc = (wall - offset).replace(tzinfo=UTC)
    return utc, int(offset.total_seconds() // 60)


# ---- display time translation (partners that send both UTC and display time) -------------------

_HALF_HOUR_MS = 30 * _MS_PER_MIN
_DAY_MIN = 1440
_MAX_OFFSET_MIN = 14 * 60
_MIN_OFFSET_MIN = -12 * 60


@dataclass(frozen=True, slots=True)
class TranslatedTime:
    """The common time fields of a datum; offsets that are zero are left unset (``None``)."""

    time: datetime
    device_time: str | None
    timezone_offset: int | None
    clock_drift_offset: int | None
    conversion_offset: int | None


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def translate_display_time(system_time: str, display_time: str | None) -> TranslatedTime:
    """UTC (``systemTime``) + device display time -> timezoneOffset, clockDriftOffset, conversionOffset.

    delta = display wall clock - UTC; the estimated zone offset is delta rounded to 30 minutes (half
    away from zero) and the rest is clock drift; an estimate beyond +14 h / -12 h is wrapped by whole
    days into conversionOffset. When the display time carries a zone (``Z`` included), that zone is the
    timezoneOffset and the estimate's difference from it moves into conversionOffset. deviceTime is
    the display wall clock cut to whole seconds. Raises ValueError for unparsable input.
    """
    system = parse_partner_time(system_time)
    if system is None:
        raise ValueError("systemTime is not parsable")
    time = system.instant
    if display_time is None:
        return TranslatedTime(time, None, None, None, None)
    display = parse_partner_time(display_time)
    if display is None:
        raise ValueError("displayTime is not parsable")

    delta_ms = _round_half_away((display.wall.replace(tzinfo=UTC) - time).total_seconds() * 1000)
    estimate_ms = _round_half_away(delta_ms / _HALF_HOUR_MS) * _HALF_HOUR_MS
    drift_ms = delta_ms - estimate_ms
    estimate_min = estimate_ms // _MS_PER_MIN

    if display.zone_parsed:
        offset_min = display.offset_seconds // 60
        conversion_ms = (estimate_min - offset_min) * _MS_PER_MIN
    else:
        days = 0
        if estimate_min > _MAX_OFFSET_MIN:
            days = -((estimate_min - _MAX_OFFSET_MIN) // -_DAY_MIN)  # ceil
        elif estimate_min < _MIN_OFFSET_MIN:
            days = -((_MIN_OFFSET_MIN - estimate_min) // -_DAY_MIN) * -1
        offset_min = estimate_min - days * _DAY_MIN
        conversion_ms = days * _DAY_MIN * _MS_PER_MIN

    return TranslatedTime(
        time=time,
        device_time=format_device_time(display.wall),
        timezone_offset=offset_min,
        clock_drift_offset=drift_ms or None,
        conversion_offset=conversion_ms or None,
    )

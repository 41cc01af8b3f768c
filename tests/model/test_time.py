"""Time parsing and the two translations of data-model.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlet.model.timeutil import (
    format_rfc3339_nano,
    format_utc,
    from_micros,
    local_to_utc,
    parse_device_time,
    parse_rfc3339,
    to_micros,
    translate_display_time,
)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2021-02-03T14:15:16Z", "2021-02-03T14:15:16.000Z"),
        ("2021-02-03T14:15:16.5Z", "2021-02-03T14:15:16.500Z"),
        ("2021-02-03T14:15:16.123456789Z", "2021-02-03T14:15:16.123456Z"),
        ("2021-02-03T14:15Z", "2021-02-03T14:15:00.000Z"),
        ("2021-02-03T14:15-08:00", "2021-02-03T22:15:00.000Z"),
        ("2021-02-03T14:15:16+05:30", "2021-02-03T08:45:16.000Z"),
        ("2021-02-03t14:15:16z", "2021-02-03T14:15:16.000Z"),
        ("2021-02-03T00:30:00+01:00", "2021-02-02T23:30:00.000Z"),
    ],
)
def test_rfc3339_accepted(text: str, utc: str) -> None:
    parsed = parse_rfc3339(text)
    assert parsed is not None
    assert format_utc(parsed) == utc


@pytest.mark.parametrize(
    "text",
    [
        "2021-02-03T14:15:16",  # no zone: refused on upload
        "2021-02-03 14:15:16Z",
        "2021-02-30T14:15:16Z",
        "2021-02-03T24:00:00Z",
        "2021-02-03T14:15:16+2400",
        "2021-02-03",
        "",
        "yesterday",
        "2021-02-03T14:15:16.Z",
    ],
)
def test_rfc3339_refused(text: str) -> None:
    assert parse_rfc3339(text) is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2015-11-08T17:06:53", True),
        ("2015-11-08T17:06", False),
        ("2015-11-08T17:06:53Z", False),
        ("2015-11-08T17:06:53.000", False),
        ("2015-13-08T17:06:53", False),
    ],
)
def test_device_time_layout(text: str, ok: bool) -> None:
    assert (parse_device_time(text) is not None) is ok


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_micros_round_trip(value: datetime) -> None:
    assert from_micros(to_micros(value)) == value
    reparsed = parse_rfc3339(format_utc(value))
    assert reparsed == value
    assert parse_rfc3339(format_rfc3339_nano(value)) == value


# ---- deviceTime + IANA zone -> time, timezoneOffset ----------------------------------------------
# Rule: fold=0. Ambiguous wall times (fall back) are the first occurrence; non-existent ones (spring
# forward) are read with the offset before the change. time + timezoneOffset == deviceTime always.


@pytest.mark.parametrize(
    ("zone", "device_time", "utc", "offset"),
    [
        # America/New_York, spring forward 2026-03-08 02:00 -> 03:00
        ("America/New_York", "2026-03-08T01:59:59", "2026-03-08T06:59:59.000Z", -300),
        ("America/New_York", "2026-03-08T02:30:00", "2026-03-08T07:30:00.000Z", -300),  # gap
        ("America/New_York", "2026-03-08T03:00:00", "2026-03-08T07:00:00.000Z", -240),
        # America/New_York, fall back 2026-11-01 02:00 -> 01:00
        ("America/New_York", "2026-11-01T00:59:59", "2026-11-01T04:59:59.000Z", -240),
        ("America/New_York", "2026-11-01T01:30:00", "2026-11-01T05:30:00.000Z", -240),  # ambiguous
        ("America/New_York", "2026-11-01T02:00:00", "2026-11-01T07:00:00.000Z", -300),
        # Europe/Berlin, spring forward 2026-03-29 02:00 -> 03:00
        ("Europe/Berlin", "2026-03-29T02:30:00", "2026-03-29T01:30:00.000Z", 60),  # gap
        ("Europe/Berlin", "2026-03-29T03:30:00", "2026-03-29T01:30:00.000Z", 120),
        # Europe/Berlin, fall back 2026-10-25 03:00 -> 02:00
        ("Europe/Berlin", "2026-10-25T02:30:00", "2026-10-25T00:30:00.000Z", 120),  # ambiguous
        ("Europe/Berlin", "2026-10-25T03:30:00", "2026-10-25T02:30:00.000Z", 60),
        # Australia/Sydney (southern hemisphere): back 2026-04-05 03:00 -> 02:00, forward 2026-10-04
        ("Australia/Sydney", "2026-04-05T02:30:00", "2026-04-04T15:30:00.000Z", 660),  # ambiguous
        ("Australia/Sydney", "2026-10-04T02:30:00", "2026-10-03T16:30:00.000Z", 600),  # gap
        ("UTC", "2026-06-01T12:00:00", "2026-06-01T12:00:00.000Z", 0),
        ("Asia/Kolkata", "2026-06-01T12:00:00", "2026-06-01T06:30:00.000Z", 330),
    ],
)
def test_local_to_utc(zone: str, device_time: str, utc: str, offset: int) -> None:
    time, timezone_offset = local_to_utc(device_time, zone)
    assert format_utc(time) == utc
    assert timezone_offset == offset
    wall = parse_device_time(device_time)
    assert time.replace(tzinfo=None) + timedelta(minutes=timezone_offset) == wall


def test_local_to_utc_refuses_bad_device_time() -> None:
    with pytest.raises(ValueError, match="deviceTime"):
        local_to_utc("2026-06-01 12:00", "UTC")


# ---- UTC + display time -> timezoneOffset, clockDriftOffset, conversionOffset ------------------------


@pytest.mark.parametrize(
    ("system", "display", "tz", "drift", "conversion"),
    [
        ("2026-03-10T12:00:00Z", "2026-03-10T05:00:00", -420, 0, 0),
        ("2026-03-10T12:00:00Z", "2026-03-10T05:02:30", -420, 150000, 0),
        ("2026-03-10T12:00:00Z", "2026-03-10T04:58:00", -420, -120000, 0),
        ("2026-03-10T12:00:00Z", "2027-03-10T05:00:00", -420, 0, 31536000000),
        ("2026-03-10T12:00:00Z", "2026-03-10T05:00:00-07:00", -420, 0, 0),
        ("2026-11-01T09:30:00Z", "2026-11-01T01:30:00-08:00", -480, 0, 0),
        ("2026-03-10T12:00:00Z", "2026-03-10T17:30:00", 330, 0, 0),
    ],
)
def test_display_time_worked_cases(system: str, display: str, tz: int, drift: int, conversion: int) -> None:
    translated = translate_display_time(system, display)
    assert translated.timezone_offset == tz
    assert (translated.clock_drift_offset or 0) == drift
    assert (translated.conversion_offset or 0) == conversion
    # the invariant: local display time = time + timezoneOffset + conversionOffset + clockDriftOffset
    wall = translated.time.replace(tzinfo=None) + timedelta(minutes=tz, milliseconds=conversion + drift)
    assert wall.strftime("%Y-%m-%dT%H:%M:%S") == display[:19]


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    st.integers(min_value=-10 * 86_400_000, max_value=10 * 86_400_000),
)
def test_display_time_invariant(system: datetime, delta_ms: int) -> None:
    display = system + timedelta(milliseconds=delta_ms)
    translated = translate_display_time(
        system.isoformat(timespec="milliseconds"), display.isoformat(timespec="milliseconds")
    )
    assert translated.timezone_offset is not None
    assert -720 <= translated.timezone_offset <= 840
    back = translated.time.replace(tzinfo=None) + timedelta(
        minutes=translated.timezone_offset,
        milliseconds=(translated.conversion_offset or 0) + (translated.clock_drift_offset or 0),
    )
    assert back == display.replace(microsecond=display.microsecond // 1000 * 1000)
    assert abs(translated.clock_drift_offset or 0) <= 15 * 60 * 1000


def test_display_time_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="systemTime"):
        translate_display_time("nope", None)
    with pytest.raises(ValueError, match="displayTime"):
        translate_display_time("2026-01-01T00:00:00Z", "nope")

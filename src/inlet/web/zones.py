"""Times as people read them: in the person's own time zone, always labelled, never bare UTC.

A person's zone is their profile setting (``timezone`` in their settings, an IANA name), else the zone
of their newest glucose datum (its ``timezone``, else its ``timezoneOffset``), else UTC. Pages show
the signed-in person's times in their zone; the clinic workspace shows each patient's times in that
patient's zone. The label names the zone, so a reader always knows which clock a time is on.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from inlet.accounts import settings as st
from inlet.db.schema import device_data
from inlet.model.timeutil import from_micros, parse_rfc3339


@dataclass(frozen=True, slots=True)
class Zone:
    tz: dt.tzinfo
    label: str  # an IANA name, UTC+hh:mm or UTC


UTC_ZONE = Zone(dt.UTC, "UTC")


def named(name: Any) -> Zone | None:
    """The IANA zone called ``name``, or None when there is none of that name."""
    if not isinstance(name, str) or not name or "\x00" in name:
        return None
    try:
        return Zone(zoneinfo.ZoneInfo(name), name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def data_zone(conn: Connection, user_id: str) -> Zone | None:
    """The zone of the person's newest glucose datum (its name, else its offset), if it says one."""
    d = device_data.c
    doc = conn.execute(
        select(d.doc)
        .where(d.user_id == user_id, d.type.in_(("cbg", "smbg")), d.active.is_(True))
        .order_by(d.time.desc())
        .limit(1)
    ).scalar()
    doc = doc or {}
    zone = named(doc.get("timezone"))
    if zone is not None:
        return zone
    offset = doc.get("timezoneOffset")
    if isinstance(offset, int) and not isinstance(offset, bool) and offset and abs(offset) < 24 * 60:
        sign = "+" if offset >= 0 else "-"
        label = f"UTC{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
        return Zone(dt.timezone(dt.timedelta(minutes=offset)), label)
    return None


def person_zone(conn: Connection, user_id: str) -> Zone:
    """The zone ``user_id``'s times are shown in: their setting, else their data's, else UTC."""
    return named(st.time_zone_of(st.get(conn, user_id))) or data_zone(conn, user_id) or UTC_ZONE


def moment_of(value: Any) -> dt.datetime | None:
    """A time from RFC 3339 text, microseconds or a datetime (naive: UTC)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return from_micros(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return parse_rfc3339(str(value))


def in_zone(value: Any, zone: Zone) -> str:
    """``21 Nov 2026, 01:55 (Europe/Berlin)``; text that is not a time is returned as it is."""
    moment = moment_of(value)
    if moment is None:
        return "" if value is None else str(value)
    return f"{moment.astimezone(zone.tz):%d %b %Y, %H:%M} ({zone.label})"


def zone_names() -> list[str]:
    """Every IANA zone name a person can choose, sorted."""
    return sorted(zoneinfo.available_timezones())

"""A person's settings (``/metadata/:userId/settings``): the glucose unit they read, their target
range, what counts as a site change on the Basics view, and the time zone their pages show times in
(``timezone``, an IANA name; without it, the zone of their newest data).

Stored as the document clients send (``{units: {bg}, bgTarget: {low, high}, siteChangeSource}``),
with the target in the document's own unit, as Tidepool Web writes it. Switching the unit without a
new target converts the stored one. :func:`preferences` turns the document into
:class:`~inlet.reports.units.Preferences` (target in whole mg/dL) for pages, charts and reports.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from inlet.accounts import validate as v
from inlet.accounts.clinics import clinics_for_patient, get_clinician
from inlet.db.schema import user_settings
from inlet.reports.units import (
    DEFAULT_HIGH_MG,
    DEFAULT_LOW_MG,
    MGDL,
    MMOLL,
    UNITS,
    Preferences,
    from_person,
    mmol_of,
)

SITE_CHANGE_SOURCES = ("cannulaPrime", "tubingPrime", "reservoirChange")
LIMITS = {MGDL: (40.0, 400.0), MMOLL: (2.2, 22.2)}


def get(conn: Connection, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(user_settings.c.doc).where(user_settings.c.user_id == user_id)).first()
    return dict(row.doc) if row else None


def put(conn: Connection, now: int, user_id: str, doc: dict[str, Any]) -> None:
    conn.execute(delete(user_settings).where(user_settings.c.user_id == user_id))
    conn.execute(insert(user_settings).values(user_id=user_id, doc=doc, modified_time=now))


def _target_in(unit: str, low_mg: int, high_mg: int) -> dict[str, float]:
    if unit == MMOLL:
        return {"low": mmol_of(low_mg), "high": mmol_of(high_mg)}
    return {"low": float(low_mg), "high": float(high_mg)}


def checked(body: Any, stored: dict[str, Any] | None) -> dict[str, Any]:
    """Validate a settings document (platform errors with pointers); fill the target when the unit
    changes without one (the stored target, converted) and keep unknown fields as clients sent them."""
    doc = dict(v.free_json(v.obj(body)))
    before = preferences_of(stored)
    units = doc.get("units")
    unit = before.unit
    if units is not None:
        units = v.obj(units, "/units")
        unit = v.one_of(units.get("bg"), UNITS, "/units/bg")
        doc["units"] = {**units, "bg": unit}
    else:
        doc["units"] = {"bg": unit}
    target = doc.get("bgTarget")
    if target is None:
        doc["bgTarget"] = _target_in(unit, before.low_mg, before.high_mg)
    else:
        target = v.obj(target, "/bgTarget")
        lo_limit, hi_limit = LIMITS[unit]
        values = {}
        for name in ("low", "high"):
            value = target.get(name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not lo_limit <= value <= hi_limit
            ):
                raise v.invalid(
                    "value-out-of-range",
                    "value is out of range",
                    f"{name} must be a number from {lo_limit:g} to {hi_limit:g} {unit}",
                    f"/bgTarget/{name}",
                )
            values[name] = float(value)
        if values["low"] >= values["high"]:
            raise v.invalid(
                "value-not-valid", "value is not valid", "low must be below high", "/bgTarget/low"
            )
        doc["bgTarget"] = {**target, **values}
    source = doc.get("siteChangeSource")
    if source is not None:
        v.one_of(source, SITE_CHANGE_SOURCES, "/siteChangeSource")
    zone = doc.get("timezone")
    if zone is not None and not _is_zone(zone):
        raise v.invalid(
            "value-not-valid", "value is not valid", "timezone must be an IANA time zone name", "/timezone"
        )
    return doc


def _is_zone(name: Any) -> bool:
    if not isinstance(name, str) or not 0 < len(name) <= 64 or "\x00" in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def time_zone_of(doc: dict[str, Any] | None) -> str | None:
    """The person's chosen time zone (an IANA name), or None: pages then use their data's zone."""
    zone = (doc or {}).get("timezone")
    return zone if _is_zone(zone) else None


def preferences_of(doc: dict[str, Any] | None) -> Preferences:
    """The document as preferences; anything missing or odd falls back to the defaults."""
    if not doc:
        return Preferences()
    units = doc.get("units")
    unit = units.get("bg") if isinstance(units, dict) else None
    unit = unit if unit in UNITS else MGDL
    low, high = DEFAULT_LOW_MG, DEFAULT_HIGH_MG
    target = doc.get("bgTarget")
    if isinstance(target, dict):
        t_low, t_high = target.get("low"), target.get("high")
        if isinstance(t_low, int | float) and isinstance(t_high, int | float) and t_low < t_high:
            low, high = from_person(float(t_low), unit), from_person(float(t_high), unit)
    source = doc.get("siteChangeSource")
    return Preferences(unit, low, high, source if source in SITE_CHANGE_SOURCES else None)


def preferences(conn: Connection, user_id: str) -> Preferences:
    return preferences_of(get(conn, user_id))


def preferences_for_viewer(conn: Connection, owner_id: str, viewer_id: str) -> Preferences:
    """What ``viewer_id`` sees of ``owner_id``'s data: the owner's preferences, except the unit when
    the viewer is a clinician of a clinic that has the owner as a patient: then the clinic's
    ``preferredBgUnits`` (the first such clinic)."""
    own = preferences(conn, owner_id)
    if viewer_id == owner_id:
        return own
    for _, clinic in clinics_for_patient(conn, owner_id, offset=0, limit=100):
        if get_clinician(conn, clinic.id, viewer_id) is not None:
            unit = clinic.public().get("preferredBgUnits")
            if unit in UNITS and unit != own.unit:
                return Preferences(unit, own.low_mg, own.high_mg, own.site_change_source)
            return own
    return own

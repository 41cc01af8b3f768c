"""Insulin, carbohydrate and device-event figures of the Basics view, with Tidepool Web's definitions
(viz's ``dataUtil``; ``metrics.md``), as pure functions over stored datums.

- **Local days.** A datum belongs to the local day of ``time + timezoneOffset`` (its own offset), as
  the data view places it. A basal segment is split at the local midnights of its own offset, so on a
  day the clocks spring forward (23 hours) a constant 1 U/h delivers 23 U, and 25 U on the day they
  fall back: insulin is counted in real hours, never in wall-clock hours.
- **Basal** = hours x rate of each segment, clipped to the day, rounded to 3 decimals per segment. A
  ``suspend`` segment delivers nothing (its rate is 0 or absent) whatever it says.
- **Bolus** = ``normal + extended`` as delivered (an interrupted bolus counts what was delivered, not
  ``expectedNormal``). **Other** = an ``insulin`` datum's ``dose.total``.
- **Total daily dose** = (basal + bolus + other) / days with insulin data; the basal/bolus split is
  basal / (basal + bolus).
- **Carbs** = a wizard's ``carbInput`` plus a food's ``nutrition.carbohydrate.net``, per day.
- **Automated mode** = the share of basal time delivered as ``automated``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from inlet.model.timeutil import parse_rfc3339

HOUR_MS = 3_600_000


def _offset(doc: Mapping[str, Any]) -> timedelta:
    value = doc.get("timezoneOffset")
    minutes = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return timedelta(minutes=minutes)


def instant(doc: Mapping[str, Any]) -> datetime | None:
    """The datum's UTC instant (aware), or None without a readable ``time``."""
    text = doc.get("time")
    if not isinstance(text, str):
        return None
    moment = parse_rfc3339(text)
    if moment is None:
        return None
    return moment.astimezone(UTC)


def local(doc: Mapping[str, Any]) -> datetime | None:
    """The wall clock of the datum (naive): ``time + timezoneOffset``."""
    moment = instant(doc)
    return None if moment is None else (moment + _offset(doc)).replace(tzinfo=None)


def local_day(doc: Mapping[str, Any]) -> date | None:
    wall = local(doc)
    return None if wall is None else wall.date()


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def bolus_delivered(doc: Mapping[str, Any]) -> float:
    """What a bolus delivered: ``normal + extended`` (an interrupted one: what it got to)."""
    return _number(doc.get("normal")) + _number(doc.get("extended"))


def carbs_of(doc: Mapping[str, Any]) -> float:
    """Grams of carbohydrate a wizard or food datum records (0 when none)."""
    if doc.get("type") == "wizard":
        return _number(doc.get("carbInput"))
    if doc.get("type") == "food":
        nutrition = doc.get("nutrition")
        carbs = nutrition.get("carbohydrate") if isinstance(nutrition, dict) else None
        return _number(carbs.get("net")) if isinstance(carbs, dict) else 0.0
    return 0.0


def basal_rate(doc: Mapping[str, Any]) -> float:
    """The rate a basal segment delivered (a suspend delivers nothing)."""
    return 0.0 if doc.get("deliveryType") == "suspend" else _number(doc.get("rate"))


def basal_pieces(doc: Mapping[str, Any]) -> list[tuple[date, float]]:
    """``(local day, hours)`` pieces of one basal segment, split at local midnights of its offset."""
    start = instant(doc)
    duration = _number(doc.get("duration"))
    if start is None or duration <= 0:
        return []
    offset = _offset(doc)
    end = start + timedelta(milliseconds=duration)
    pieces = []
    cursor = start
    while cursor < end:
        wall = (cursor + offset).replace(tzinfo=None)
        next_midnight = datetime.combine(wall.date() + timedelta(days=1), datetime.min.time())
        boundary = min(end, next_midnight.replace(tzinfo=UTC) - offset)
        pieces.append((wall.date(), (boundary - cursor) / timedelta(hours=1)))
        cursor = boundary
    return pieces


@dataclass
class DayInsulin:
    """One local day's insulin (units) and carbohydrate (grams)."""

    basal: float = 0.0
    bolus: float = 0.0
    other: float = 0.0
    carbs: float = 0.0
    automated_hours: float = 0.0
    basal_hours: float = 0.0
    has_insulin: bool = False
    has_carbs: bool = False

    @property
    def total(self) -> float:
        return self.basal + self.bolus + self.other


def by_day(docs: Iterable[Mapping[str, Any]], first: date, last: date) -> dict[date, DayInsulin]:
    """Each local day of ``[first, last]`` with its insulin and carbs."""
    days = {first + timedelta(days=i): DayInsulin() for i in range((last - first).days + 1)}
    for doc in docs:
        kind = doc.get("type")
        if kind == "basal":
            rate = basal_rate(doc)
            for day, hours in basal_pieces(doc):
                if day in days:
                    entry = days[day]
                    entry.basal += round(hours * rate, 3)
                    entry.basal_hours += hours
                    if doc.get("deliveryType") == "automated":
                        entry.automated_hours += hours
                    entry.has_insulin = True
            continue
        found = local_day(doc)
        if found is None or found not in days:
            continue
        entry = days[found]
        if kind == "bolus":
            entry.bolus += bolus_delivered(doc)
            entry.has_insulin = True
        elif kind == "insulin":
            dose = doc.get("dose")
            entry.other += _number(dose.get("total")) if isinstance(dose, dict) else 0.0
            entry.has_insulin = True
        if kind in ("wizard", "food"):
            grams = carbs_of(doc)
            if grams > 0:
                entry.carbs += grams
                entry.has_carbs = True
    return days


@dataclass
class InsulinSummary:
    """The period's insulin and carbs, as Basics shows them."""

    basal: float
    bolus: float
    other: float
    days_with_insulin: int
    average_daily_dose: float | None
    basal_share: float | None  # basal / (basal + bolus)
    automated_share: float | None  # of basal time
    average_daily_carbs: float | None
    days: dict[date, DayInsulin] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.basal + self.bolus + self.other


def summarize(days: Mapping[date, DayInsulin]) -> InsulinSummary:
    with_insulin = [d for d in days.values() if d.has_insulin]
    basal = sum(d.basal for d in days.values())
    bolus = sum(d.bolus for d in days.values())
    other = sum(d.other for d in days.values())
    total = basal + bolus + other
    basal_hours = sum(d.basal_hours for d in days.values())
    carb_days = [d for d in days.values() if d.has_carbs]
    return InsulinSummary(
        basal=basal,
        bolus=bolus,
        other=other,
        days_with_insulin=len(with_insulin),
        average_daily_dose=total / len(with_insulin) if with_insulin else None,
        basal_share=basal / (basal + bolus) if basal + bolus > 0 else None,
        automated_share=sum(d.automated_hours for d in days.values()) / basal_hours if basal_hours else None,
        average_daily_carbs=sum(d.carbs for d in carb_days) / len(carb_days) if carb_days else None,
        days=dict(days),
    )

"""The four calendars of the Basics view (Tidepool Web's): fingersticks, boluses, site changes and
basals, one cell per local day, each with the counts of its kinds. Pure functions over stored datums.

- **Fingersticks**: ``smbg`` readings and ``calibration`` device events.
- **Boluses**: every bolus; kinds as viz classifies them: ``calculator`` (a wizard names it),
  ``correction`` (its wizard had no carbs and a correction), ``override`` (delivered differs from the
  wizard's recommendation), ``extended`` (``square`` or ``dual/square``), ``interrupted`` (delivered
  less than expected), ``automated`` (subType ``automated``).
- **Site changes**: the person picks what counts (``cannulaPrime``, ``tubingPrime``,
  ``reservoirChange``); each day says whether one happened and how many days since the previous one.
- **Basals**: ``temp`` and ``suspend`` segments started that day, and automated stops (a scheduled
  segment right after an automated one).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from inlet.reports.insulin import instant, local_day

BOLUS_KINDS = ("calculator", "correction", "override", "extended", "interrupted", "automated")
SITE_CHANGE_SOURCES = ("cannulaPrime", "tubingPrime", "reservoirChange")


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def bolus_kinds(bolus: Mapping[str, Any], wizard: Mapping[str, Any] | None) -> set[str]:
    """The kinds of one bolus, given the wizard record that names it (if any)."""
    kinds: set[str] = set()
    sub = bolus.get("subType")
    if sub == "automated":
        kinds.add("automated")
    if sub in ("square", "dual/square"):
        kinds.add("extended")
    normal, extended = _num(bolus.get("normal")) or 0.0, _num(bolus.get("extended")) or 0.0
    expected_normal, expected_extended = (
        _num(bolus.get("expectedNormal")),
        _num(bolus.get("expectedExtended")),
    )
    if (expected_normal is not None and normal < expected_normal) or (
        expected_extended is not None and extended < expected_extended
    ):
        kinds.add("interrupted")
    if wizard is not None:
        kinds.add("calculator")
        found = wizard.get("recommended")
        recommended: Mapping[str, Any] = found if isinstance(found, dict) else {}
        carbs = _num(wizard.get("carbInput")) or 0.0
        correction = _num(recommended.get("correction")) or 0.0
        if carbs == 0 and correction > 0:
            kinds.add("correction")
        net = _num(recommended.get("net"))
        programmed = (expected_normal if expected_normal is not None else normal) + (
            expected_extended if expected_extended is not None else extended
        )
        if net is not None and round(programmed, 2) != round(net, 2):
            kinds.add("override")
    return kinds


def is_site_change(doc: Mapping[str, Any], source: str) -> bool:
    if doc.get("type") != "deviceEvent":
        return False
    sub = doc.get("subType")
    if source == "reservoirChange":
        return sub == "reservoirChange"
    if sub != "prime":
        return False
    return doc.get("primeTarget") == ("cannula" if source == "cannulaPrime" else "tubing")


@dataclass
class DayCell:
    """One day of the four calendars."""

    day: date
    fingersticks: int = 0
    calibrations: int = 0
    boluses: int = 0
    bolus_kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BOLUS_KINDS, 0))
    site_change: bool = False
    days_since_site_change: int | None = None
    temp_basals: int = 0
    suspends: int = 0
    automated_stops: int = 0


@dataclass
class Calendars:
    days: list[DayCell]
    site_change_source: str | None

    def total(self, attr: str) -> int:
        return sum(int(getattr(cell, attr)) for cell in self.days)

    def bolus_total(self, kind: str) -> int:
        return sum(cell.bolus_kinds[kind] for cell in self.days)


def calendars(
    docs: Iterable[Mapping[str, Any]], first: date, last: date, site_change_source: str | None
) -> Calendars:
    """The calendars of the local days ``[first, last]``; site changes only with a chosen source."""
    cells = {
        first + timedelta(days=i): DayCell(first + timedelta(days=i)) for i in range((last - first).days + 1)
    }
    items = list(docs)
    wizards = {
        w.get("bolus"): w for w in items if w.get("type") == "wizard" and isinstance(w.get("bolus"), str)
    }
    basals = sorted(
        (d for d in items if d.get("type") == "basal" and instant(d) is not None),
        key=lambda d: instant(d),  # type: ignore[arg-type,return-value]
    )
    site_days: list[date] = []
    for doc in items:
        day = local_day(doc)
        kind = doc.get("type")
        site = kind == "deviceEvent" and site_change_source and is_site_change(doc, site_change_source)
        if site and day is not None:
            site_days.append(day)
        if day not in cells:
            continue
        cell = cells[day]
        if kind == "smbg":
            cell.fingersticks += 1
        elif kind == "deviceEvent" and doc.get("subType") == "calibration":
            cell.calibrations += 1
        elif kind == "bolus":
            cell.boluses += 1
            for name in bolus_kinds(doc, wizards.get(doc.get("id"))):
                cell.bolus_kinds[name] += 1
        elif kind == "basal":
            if doc.get("deliveryType") == "temp":
                cell.temp_basals += 1
            elif doc.get("deliveryType") == "suspend":
                cell.suspends += 1
    for previous, current in itertools.pairwise(basals):
        day = local_day(current)
        if (
            previous.get("deliveryType") == "automated"
            and current.get("deliveryType") == "scheduled"
            and day in cells
        ):
            cells[day].automated_stops += 1
    changes = sorted(set(site_days))
    for day, cell in cells.items():
        cell.site_change = day in changes
        earlier = [c for c in changes if c < day]
        if cell.site_change and earlier:
            cell.days_since_site_change = (day - earlier[-1]).days
    return Calendars(days=[cells[d] for d in sorted(cells)], site_change_source=site_change_source)

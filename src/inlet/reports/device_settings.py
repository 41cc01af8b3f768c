"""The Device settings view (Tidepool Web's): a pump's basal schedules with their daily totals, BG
targets, carb ratios, insulin sensitivities and insulin settings, and the history of settings per
device: one entry per local day (that day's last upload), with how long each was in effect.

Pure functions over stored ``pumpSettings`` datums. Stored glucose is mmol/L; targets and
sensitivities come back as whole mg/dL (``inlet.reports.glucose.mg_dl``) for pages to show in the
person's unit. Schedule times are milliseconds after local midnight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from inlet.reports.glucose import mg_dl
from inlet.reports.insulin import local

DAY_MS = 86_400_000


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def clock(start_ms: int) -> str:
    """``HH:MM`` of a schedule start (milliseconds after midnight)."""
    minutes = start_ms // 60_000
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _starts(entries: Any) -> list[dict[str, Any]]:
    """A schedule's entries with an integer ``start``, in start order."""
    if not isinstance(entries, list):
        return []
    found = [e for e in entries if isinstance(e, dict) and isinstance(e.get("start"), int)]
    return sorted(found, key=lambda e: e["start"])


@dataclass(frozen=True)
class BasalSchedule:
    name: str
    active: bool
    segments: list[tuple[int, float]]  # (start ms, U/h)

    @property
    def daily_total(self) -> float:
        """U per day: each rate for the hours until the next start (the last until midnight),
        rounded to 3 decimals."""
        total = 0.0
        for index, (start, rate) in enumerate(self.segments):
            end = self.segments[index + 1][0] if index + 1 < len(self.segments) else DAY_MS
            total += rate * (end - start) / 3_600_000
        return round(total, 3)


@dataclass(frozen=True)
class Target:
    start: int
    low_mg: int | None
    high_mg: int | None
    target_mg: int | None


@dataclass
class Snapshot:
    """One pumpSettings datum, as the view shows it."""

    time: datetime | None  # local wall clock
    device_id: str
    schedules: list[BasalSchedule]
    targets: dict[str, list[Target]]  # by schedule name ("" for a single schedule)
    carb_ratios: dict[str, list[tuple[int, float]]]  # g/U
    sensitivities: dict[str, list[tuple[int, int]]]  # mg/dL per U
    insulin: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    bg_unit: str | None = None

    @property
    def day(self) -> date | None:
        return self.time.date() if self.time else None


def _named(doc: Mapping[str, Any], single: str, many: str) -> dict[str, list[dict[str, Any]]]:
    """``{name: entries}`` from either the per-schedule field (``many``) or the single one."""
    found = doc.get(many)
    if isinstance(found, dict):
        return {str(name): _starts(entries) for name, entries in sorted(found.items())}
    entries = _starts(doc.get(single))
    return {"": entries} if entries else {}


def _mg(value: Any) -> int | None:
    number = _num(value)
    return mg_dl(number) if number is not None else None


def _insulin_settings(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    basal = doc.get("basal") if isinstance(doc.get("basal"), dict) else {}
    bolus = doc.get("bolus") if isinstance(doc.get("bolus"), dict) else {}
    rate_max = basal.get("rateMaximum") if isinstance(basal, dict) else None
    if isinstance(rate_max, dict) and _num(rate_max.get("value")) is not None:
        out.append(("Maximum basal rate", f"{_num(rate_max['value']):g} U/h"))
    amount_max = bolus.get("amountMaximum") if isinstance(bolus, dict) else None
    if isinstance(amount_max, dict) and _num(amount_max.get("value")) is not None:
        out.append(("Maximum bolus", f"{_num(amount_max['value']):g} U"))
    calculator = bolus.get("calculator") if isinstance(bolus, dict) else None
    duration = calculator.get("insulin") if isinstance(calculator, dict) else None
    if isinstance(duration, dict) and _num(duration.get("duration")) is not None:
        out.append(
            ("Active insulin time", f"{_num(duration['duration']):g} {duration.get('units', 'hours')}")
        )
    model = doc.get("insulinModel")
    if isinstance(model, dict):
        if isinstance(model.get("modelType"), str):
            out.append(("Insulin model", str(model["modelType"])))
        action = model.get("actionDuration")
        if isinstance(action, int):
            out.append(("Insulin action duration", f"{action / 3600:g} hours"))
    return out


def snapshot(doc: Mapping[str, Any]) -> Snapshot:
    active = doc.get("activeSchedule")
    schedules = []
    basal = doc.get("basalSchedules")
    if isinstance(basal, dict):
        for name, entries in sorted(basal.items()):
            segments = [(e["start"], _num(e.get("rate")) or 0.0) for e in _starts(entries)]
            schedules.append(BasalSchedule(str(name), name == active, segments))
    targets = {
        name: [
            Target(e["start"], _mg(e.get("low")), _mg(e.get("high")), _mg(e.get("target"))) for e in entries
        ]
        for name, entries in _named(doc, "bgTarget", "bgTargets").items()
    }
    ratios = {
        name: [(e["start"], _num(e.get("amount")) or 0.0) for e in entries]
        for name, entries in _named(doc, "carbRatio", "carbRatios").items()
    }
    sensitivities = {
        name: [(e["start"], _mg(e.get("amount")) or 0) for e in entries]
        for name, entries in _named(doc, "insulinSensitivity", "insulinSensitivities").items()
    }
    units = doc.get("units")
    return Snapshot(
        time=local(doc),
        device_id=str(doc.get("deviceId") or "unknown device"),
        schedules=schedules,
        targets=targets,
        carb_ratios=ratios,
        sensitivities=sensitivities,
        insulin=_insulin_settings(doc),
        bg_unit=units.get("bg") if isinstance(units, dict) else None,
    )


@dataclass
class HistoryEntry:
    snapshot: Snapshot
    days_in_effect: int | None  # None: still in effect


def history(docs: Iterable[Mapping[str, Any]], today: date | None = None) -> dict[str, list[HistoryEntry]]:
    """Per device, its settings one per local day (the day's last datum), newest first, each with
    the days until the next entry (``None`` for the current one; with ``today``, the days since)."""
    by_device: dict[str, dict[date, Snapshot]] = {}
    for doc in docs:
        if doc.get("type") != "pumpSettings":
            continue
        snap = snapshot(doc)
        if snap.day is None or snap.time is None:
            continue
        days = by_device.setdefault(snap.device_id, {})
        kept = days.get(snap.day)
        if kept is None or (kept.time is not None and snap.time >= kept.time):
            days[snap.day] = snap
    out: dict[str, list[HistoryEntry]] = {}
    for device, days in sorted(by_device.items()):
        ordered = [days[d] for d in sorted(days)]
        entries = []
        for index, snap in enumerate(ordered):
            assert snap.day is not None
            if index + 1 < len(ordered):
                following = ordered[index + 1].day
                assert following is not None
                effect: int | None = (following - snap.day).days
            else:
                effect = (today - snap.day).days + 1 if today is not None and today >= snap.day else None
            entries.append(HistoryEntry(snap, effect))
        out[device] = list(reversed(entries))
    return out

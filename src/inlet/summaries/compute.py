"""Summaries from readings, purely: hourly buckets, then periods (1d, 7d, 14d, 30d) and their deltas.

The shape is Tidepool's summary service (platform ``summary/``, schema 6); the classification is
Inlet's (the data view's): by whole mg/dL (``round(mmol x 18.01559)``) on the 2019 consensus
boundaries, so 54 mg/dL is low (Tidepool: very low) and 70 mg/dL is in target (Tidepool: low).

- **Buckets.** One per hour with data, holding per exclusive range (very low, low, target, high, very
  high, and extreme high as a subset of very high) the records, the minutes they weigh and the sums a
  mean and a variance need, weighted by minutes and unweighted; the hour's min and max; and, for CGM,
  each device's last counted reading (``tail``), which is all the next hour needs to know to skip
  duplicates. Recomputing from an hour on needs only the bucket just before it.
- **Duplicates (CGM).** A reading less than (the previous counted reading's interval - 10 s) after the
  previous counted reading of the same device does not count (Tidepool's rule).
- **Weights (CGM).** ``sampleInterval`` (ms), else 15 minutes for a FreeStyle Libre device, else 5.
- **Periods** end at the end of the newest reading's hour and reach back 1, 7, 14 and 30 days; the
  delta of a field is this period's value minus the preceding period's of the same length.
- **CGM**: percents of minutes; CGM use (``total.percent``) = minutes / (days x 1440); the mean is
  weighted by minutes, SD is the population SD weighted by minutes, CV = SD / mean (a fraction). A
  period qualifies (its range percents are reported) for 1d with CGM use > 70 %, for longer periods
  with more than 1,440 minutes; GMI only with CGM use > 70 %. What does not qualify is absent, never 0,
  and so is every delta that depends on it.
- **BGM and con**: percents of records, the plain mean and population SD. ``con`` counts cbg and smbg
  records together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inlet.model.glucose import MGDL_PER_MMOLL

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
MINUTE_MS = 60_000
DUPLICATE_SLACK_MS = 10_000
DEFAULT_INTERVAL_MS = 300_000
LIBRE_INTERVAL_MS = 900_000
BUCKET_DAYS = 60
PERIODS = {"1d": 1, "7d": 7, "14d": 14, "30d": 30}

CGM, BGM, CON = "cgm", "bgm", "con"
TYPES = (CGM, BGM, CON)
DATUM_TYPE = {CGM: "cbg", BGM: "smbg"}

VERY_LOW, LOW, TARGET, HIGH, VERY_HIGH, EXTREME_HIGH = (
    "veryLow",
    "low",
    "target",
    "high",
    "veryHigh",
    "extremeHigh",
)
EXCLUSIVE = (VERY_LOW, LOW, TARGET, HIGH, VERY_HIGH)
BUCKET_RANGES = (*EXCLUSIVE, EXTREME_HIGH)
# The platform names of a period's range objects, and which bucket ranges each sums.
RANGE_PARTS: dict[str, tuple[str, ...]] = {
    "total": EXCLUSIVE,
    "inVeryLow": (VERY_LOW,),
    "inLow": (LOW,),
    "inTarget": (TARGET,),
    "inHigh": (HIGH,),
    "inVeryHigh": (VERY_HIGH,),
    "inExtremeHigh": (EXTREME_HIGH,),
    "inAnyLow": (VERY_LOW, LOW),
    "inAnyHigh": (HIGH, VERY_HIGH),
}
# Tidepool's thresholds (mmol/L), reported in ``config``; classification uses the mg/dL rule above.
CONFIG = {
    "schemaVersion": 6,
    "highGlucoseThreshold": 10.0,
    "veryHighGlucoseThreshold": 13.9,
    "lowGlucoseThreshold": 3.9,
    "VeryLowGlucoseThreshold": 3.0,
}
EXTREME_HIGH_MG = 350  # 19.4 mmol/L in whole mg/dL


def classify(mmol: float) -> tuple[str, bool]:
    """The exclusive consensus range of a stored mmol/L value by whole mg/dL, and whether it is
    extreme high (>= 350 mg/dL, inside very high)."""
    scaled = mmol * MGDL_PER_MMOLL
    mg = math.floor(scaled + 0.5) if scaled >= 0 else -math.floor(-scaled + 0.5)
    if mg < 54:
        return VERY_LOW, False
    if mg < 70:
        return LOW, False
    if mg <= 180:
        return TARGET, False
    if mg <= 250:
        return HIGH, False
    return VERY_HIGH, mg >= EXTREME_HIGH_MG


def interval_ms(sample_interval: Any, device_id: str | None) -> int:
    """The minutes a CGM reading weighs, in ms: its ``sampleInterval``, else Libre's 15 minutes,
    else 5."""
    numeric = isinstance(sample_interval, int | float) and not isinstance(sample_interval, bool)
    if numeric and sample_interval > 0:
        return int(sample_interval)
    return LIBRE_INTERVAL_MS if device_id and "libre" in device_id.lower() else DEFAULT_INTERVAL_MS


@dataclass(frozen=True, slots=True)
class Reading:
    """One stored glucose datum as summaries see it: microseconds since the epoch, mmol/L, device and
    the weight (ms; 0 for a fingerstick, which counts as a record only)."""

    time: int
    mmol: float
    device: str
    weight_ms: int


def hour_of(micros: int) -> int:
    return micros - micros % HOUR_US


# ---- buckets ------------------------------------------------------------------------------------
# A bucket: {"r": {range: [records, ms, sum_w, sumsq_w, sum, sumsq]}, "min", "max", "tail": {device:
# [time_us, interval_ms]}} where the weighted sums are in mmol x minutes.


def _empty_range() -> list[float]:
    return [0, 0, 0.0, 0.0, 0.0, 0.0]


def build_buckets(
    readings: Iterable[Reading], *, continuous: bool, tail: Mapping[str, Sequence[int]] | None = None
) -> dict[int, dict[str, Any]]:
    """Hourly buckets of ``readings`` (time order). ``continuous``: skip duplicates by the CGM rule,
    starting from ``tail`` (each device's last counted reading before the first reading)."""
    last: dict[str, list[int]] = {k: [int(v[0]), int(v[1])] for k, v in (tail or {}).items()}
    buckets: dict[int, dict[str, Any]] = {}
    for r in readings:
        if continuous:
            previous = last.get(r.device)
            if previous is not None and (r.time - previous[0]) < (previous[1] - DUPLICATE_SLACK_MS) * 1000:
                continue
            last[r.device] = [r.time, r.weight_ms]
        hour = hour_of(r.time)
        bucket = buckets.get(hour)
        if bucket is None:
            bucket = buckets[hour] = {"r": {}, "min": r.mmol, "max": r.mmol}
        bucket["min"] = min(bucket["min"], r.mmol)
        bucket["max"] = max(bucket["max"], r.mmol)
        name, extreme = classify(r.mmol)
        minutes = r.weight_ms / MINUTE_MS
        for key in (name, EXTREME_HIGH) if extreme else (name,):
            acc = bucket["r"].setdefault(key, _empty_range())
            acc[0] += 1
            acc[1] += r.weight_ms
            acc[2] += r.mmol * minutes
            acc[3] += r.mmol * r.mmol * minutes
            acc[4] += r.mmol
            acc[5] += r.mmol * r.mmol
        if continuous:
            bucket["tail"] = {k: list(v) for k, v in last.items() if v[0] >= hour - HOUR_US}
    return buckets


def combine(*bucket_sets: Mapping[int, Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """Buckets of several kinds summed hour by hour (``con`` = cgm + bgm)."""
    out: dict[int, dict[str, Any]] = {}
    for buckets in bucket_sets:
        for hour, bucket in buckets.items():
            target = out.get(hour)
            if target is None:
                out[hour] = {
                    "r": {k: list(v) for k, v in bucket["r"].items()},
                    "min": bucket["min"],
                    "max": bucket["max"],
                }
                continue
            target["min"] = min(target["min"], bucket["min"])
            target["max"] = max(target["max"], bucket["max"])
            for key, values in bucket["r"].items():
                acc = target["r"].setdefault(key, _empty_range())
                for i, value in enumerate(values):
                    acc[i] += value
    return out


# ---- periods ------------------------------------------------------------------------------------


def round_half_away(value: float, digits: int) -> float:
    scale = 10**digits
    scaled = abs(value) * scale
    return math.copysign(math.floor(scaled + 0.5) / scale, value)


def gmi(mean_mmol: float) -> float:
    """GMI (%) by the summary formula: round1(0.09148 x (12.71 + 4.70587 x mean mmol/L) + 2.152)."""
    return round_half_away(0.09148 * (12.71 + 4.70587 * mean_mmol) + 2.152, 1)


def _sum(buckets: Iterable[Mapping[str, Any]], parts: Sequence[str]) -> list[float]:
    acc = _empty_range()
    for bucket in buckets:
        for key in parts:
            values = bucket["r"].get(key)
            if values:
                for i, value in enumerate(values):
                    acc[i] += value
    return acc


def period_stats(
    buckets: Mapping[int, Mapping[str, Any]], start: int, end: int, days: int, kind: str
) -> dict[str, Any] | None:
    """The platform period object of ``[start, end)`` (microseconds), without its delta; None when
    the period holds no data."""
    inside = [b for h, b in buckets.items() if start <= h < end]
    if not inside:
        return None
    hours = [h for h in buckets if start <= h < end]
    continuous = kind == CGM
    totals = {name: _sum(inside, parts) for name, parts in RANGE_PARTS.items()}
    total = totals["total"]
    records = int(total[0])
    minutes = total[1] / MINUTE_MS
    if continuous:
        mean = total[2] / minutes if minutes else None
        m2 = total[3] - total[2] * total[2] / minutes if minutes else 0.0
        sd = math.sqrt(max(m2, 0.0) / minutes) if minutes else None
        use = minutes / (days * 1440)
        qualifies = use > 0.7 if days == 1 else minutes > 1440
    else:
        mean = total[4] / records
        m2 = total[5] - total[4] * total[4] / records
        sd = math.sqrt(max(m2, 0.0) / records)
        use = None
        qualifies = records > 0
    period: dict[str, Any] = {}
    for name, acc in totals.items():
        entry: dict[str, Any] = {"records": int(acc[0])}
        if continuous:
            w = acc[1] / MINUTE_MS
            entry["minutes"] = w
            entry["glucose"] = acc[2]
            entry["variance"] = max(acc[3] - acc[2] * acc[2] / w, 0.0) if w else 0.0
            if name == "total":
                entry["percent"] = use
            elif qualifies:
                entry["percent"] = acc[1] / total[1]
        else:
            entry["glucose"] = acc[4]
            entry["variance"] = max(acc[5] - acc[4] * acc[4] / acc[0], 0.0) if acc[0] else 0.0
            if name != "total" and qualifies:
                entry["percent"] = acc[0] / records
        period[name] = entry
    period["min"] = min(b["min"] for b in inside)
    period["max"] = max(b["max"] for b in inside)
    period["hoursWithData"] = len(hours)
    period["daysWithData"] = len({(end - 1 - h) // DAY_US for h in hours})
    if mean is not None:
        period["averageGlucoseMmol"] = mean
    if sd is not None:
        period["standardDeviation"] = sd
        if mean:
            period["coefficientOfVariation"] = sd / mean
    if continuous and mean is not None and use is not None and use > 0.7:
        period["glucoseManagementIndicator"] = gmi(mean)
    period["averageDailyRecords"] = records / days
    return period


def _delta(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """This period minus the previous one, field by field, only where both have the field."""
    if previous is None:
        return {}
    out: dict[str, Any] = {}
    for key, value in current.items():
        other = previous.get(key)
        if isinstance(value, dict):
            if isinstance(other, dict):
                out[key] = {k: v - other[k] for k, v in value.items() if k in other}
        elif other is not None:
            out[key] = value - other
    return out


def periods(buckets: Mapping[int, Mapping[str, Any]], last_data: int, kind: str) -> dict[str, Any]:
    """The four periods with their deltas, ending at the end of ``last_data``'s hour."""
    end = hour_of(last_data) + HOUR_US
    out: dict[str, Any] = {}
    for name, days in PERIODS.items():
        start = end - days * DAY_US
        current = period_stats(buckets, start, end, days, kind)
        if current is None:  # cannot happen while last_data is inside the buckets
            continue
        previous = period_stats(buckets, start - days * DAY_US, start, days, kind)
        current["delta"] = _delta(current, previous)
        out[name] = current
    return out


# ---- the clinic's flat names ----------------------------------------------------------------------

FLAT_RANGES = {
    "VeryLow": "inVeryLow",
    "Low": "inLow",
    "AnyLow": "inAnyLow",
    "Target": "inTarget",
    "High": "inHigh",
    "VeryHigh": "inVeryHigh",
    "ExtremeHigh": "inExtremeHigh",
    "AnyHigh": "inAnyHigh",
}
SCALARS = (
    "averageGlucoseMmol",
    "glucoseManagementIndicator",
    "averageDailyRecords",
    "standardDeviation",
    "coefficientOfVariation",
    "hoursWithData",
    "daysWithData",
    "min",
    "max",
)


def flat_paths(kind: str) -> dict[str, tuple[str, ...]]:
    """Clinic field name -> where its value sits in a platform period."""
    paths: dict[str, tuple[str, ...]] = {}
    suffixes = {"Percent": "percent", "Records": "records"}
    if kind == CGM:
        suffixes = {"Percent": "percent", "Minutes": "minutes", "Records": "records"}
    for flat, platform in FLAT_RANGES.items():
        for suffix, key in suffixes.items():
            paths[f"timeIn{flat}{suffix}"] = (platform, key)
    if kind == CGM:
        for suffix, key in suffixes.items():
            paths[f"timeCGMUse{suffix}"] = ("total", key)
    paths["totalRecords"] = ("total", "records")
    for name in SCALARS:
        paths[name] = (name,)
    return paths


CGM_FIELDS = tuple(flat_paths(CGM))
"""Every clinic field of a CGM period (BGM's are the same without Minutes and CGM use)."""


def _at(period: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = period
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def flat_period(period: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A platform period in the clinic's flat names: ``<name>``, ``has<Name>``, ``<name>Delta``."""
    out: dict[str, Any] = {}
    delta = period.get("delta") or {}
    for name, path in flat_paths(kind).items():
        value = _at(period, path)
        change = _at(delta, path)
        title = name[0].upper() + name[1:]
        out[f"has{title}"] = value is not None
        if value is not None:
            out[name] = value
        if change is not None:
            out[f"{name}Delta"] = change
    return out


def flat_values(period: Mapping[str, Any], kind: str) -> dict[str, float | None]:
    """Every flat field and its delta as a number or None: the columns of the indexed period row."""
    out: dict[str, float | None] = {}
    delta = period.get("delta") or {}
    for name, path in flat_paths(CGM).items():
        value = _at(period, path) if name in flat_paths(kind) else None
        change = _at(delta, path) if name in flat_paths(kind) else None
        out[name] = float(value) if value is not None else None
        out[f"{name}Delta"] = float(change) if change is not None else None
    return out

"""Server-side SVG charts for the report pages: a day, the AGP, the time-in-ranges bar.

Rendered on the server so the pages work without JavaScript and print as they look. Every chart:

- is an ``<svg role="img">`` whose ``<title>`` names it and whose ``<desc>`` says in words what it
  shows (counts, time in range, extremes), so a screen reader user gets the numbers, not a picture;
- scales with its container (``viewBox``, ``width="100%"``, no fixed pixel size);
- draws ranges in the Okabe-Ito palette, which stays distinguishable with every common colour vision
  deficiency, and never relies on colour alone (range names and values are written out, events have
  their own shapes);
- writes text only in dark colours on white (contrast well over 4.5:1; tested);
- clamps every value into the plot, so an extreme reading or rate can not draw outside the viewBox.

Returns ``markupsafe.Markup``: every piece of text inside is escaped here, so templates insert the
result as is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from inlet.model.timeutil import parse_rfc3339
from inlet.reports.agp import AgpBin
from inlet.reports.glucose import (
    HIGH,
    HIGH_ABOVE_MG,
    LOW,
    LOW_BELOW_MG,
    RANGES,
    TARGET,
    VERY_HIGH,
    VERY_HIGH_ABOVE_MG,
    VERY_LOW,
    VERY_LOW_BELOW_MG,
    Reading,
)
from inlet.reports.units import MGDL, MMOLL, range_labels, show

TEXT = "#1f2328"
MUTED_TEXT = "#57606a"
BACKGROUND = "#ffffff"
GRID = "#d0d7de"
TEXT_COLOURS = (TEXT, MUTED_TEXT)
"""Every colour text is drawn in; each has >= 4.5:1 contrast on ``BACKGROUND``."""

RANGE_COLOURS = {
    VERY_LOW: "#D55E00",  # Okabe-Ito vermillion
    LOW: "#E69F00",  # orange
    TARGET: "#009E73",  # bluish green
    HIGH: "#56B4E9",  # sky blue
    VERY_HIGH: "#0072B2",  # blue
}
RANGE_LABELS = {
    VERY_HIGH: f"Very high (>{VERY_HIGH_ABOVE_MG} mg/dL)",
    HIGH: f"High ({HIGH_ABOVE_MG + 1}-{VERY_HIGH_ABOVE_MG} mg/dL)",
    TARGET: f"Target ({LOW_BELOW_MG}-{HIGH_ABOVE_MG} mg/dL)",
    LOW: f"Low ({VERY_LOW_BELOW_MG}-{LOW_BELOW_MG - 1} mg/dL)",
    VERY_LOW: f"Very low (<{VERY_LOW_BELOW_MG} mg/dL)",
}
BASAL_COLOUR = "#0072B2"
BOLUS_COLOUR = "#CC79A7"  # Okabe-Ito reddish purple
CARB_COLOUR = "#F0E442"  # Okabe-Ito yellow, outlined in TEXT
CGM_LINE = "#6e7781"

Y_MIN_MG, Y_MAX_MG = 40, 400
CGM_GAP = timedelta(minutes=15)
"""Readings further apart than this are not joined: the line would invent values for a gap."""

FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'

# Daily chart geometry (viewBox units).
DAY_W, DAY_H = 960, 396
LEFT, RIGHT = 64, 944
CGM_TOP, CGM_BOTTOM = 24, 244
BOLUS_Y, CARB_Y = 266, 296
BASAL_TOP, BASAL_BOTTOM = 318, 362
AXIS_Y = 384

AGP_W, AGP_H = 960, 320
AGP_TOP, AGP_BOTTOM = 16, 284
AGP_AXIS_Y = 306

TIR_W, TIR_H = 360, 240
TIR_BAR_X, TIR_BAR_W = 16, 48
TIR_TOP, TIR_BOTTOM = 16, 224


def _n(value: float) -> str:
    """A coordinate with one decimal: plenty for a viewBox this size, and a small document."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def _svg(kind: str, width: int, height: int, title: str, desc: str, body: Iterable[str]) -> Markup:
    """The accessible shell; ids come from the content so the same input gives the same document."""
    key = hashlib.sha1(f"{kind}\0{title}\0{desc}".encode()).hexdigest()[:10]
    title_id, desc_id = f"{kind}-{key}-title", f"{kind}-{key}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="{title_id} {desc_id}" '
        f'class="chart chart-{kind}" {FONT} font-size="12">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(desc)}</desc>'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="{BACKGROUND}"/>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _text(
    x: float, y: float, content: str, *, anchor: str = "start", colour: str = TEXT, size: int = 12
) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{colour}" font-size="{size}">'
        f"{escape(content)}</text>"
    )


def _pct(fraction: float) -> str:
    """Whole percent; a small but present share shows as "<1%" so it never reads as none."""
    percent = fraction * 100
    if 0 < percent < 0.5:
        return "<1%"
    return f"{percent:.0f}%"


def _hhmm(minutes: float) -> str:
    whole = int(minutes)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _y_mg(mg: float, top: float, bottom: float) -> float:
    return bottom - (_clamp(mg, Y_MIN_MG, Y_MAX_MG) - Y_MIN_MG) / (Y_MAX_MG - Y_MIN_MG) * (bottom - top)


def _x_minute(minute: float) -> float:
    return LEFT + _clamp(minute, 0, 1440) / 1440 * (RIGHT - LEFT)


def _g(mg: float, unit: str) -> str:
    """A glucose value in the person's unit; mg/dL exactly as before (whole numbers)."""
    if unit == MMOLL:
        return show(mg, MMOLL)
    return str(mg) if isinstance(mg, int) else f"{mg:.0f}"


def _glucose_axis(top: float, bottom: float, low_mg: int, high_mg: int, unit: str = MGDL) -> list[str]:
    parts = [
        f'<rect class="target-band" x="{LEFT}" y="{_n(_y_mg(high_mg, top, bottom))}" width="{RIGHT - LEFT}" '
        f'height="{_n(_y_mg(low_mg, top, bottom) - _y_mg(high_mg, top, bottom))}" '
        f'fill="{RANGE_COLOURS[TARGET]}" fill-opacity="0.12"/>'
    ]
    for mg in sorted({Y_MIN_MG, low_mg, high_mg, VERY_HIGH_ABOVE_MG, Y_MAX_MG}):
        if not Y_MIN_MG <= mg <= Y_MAX_MG:
            continue
        y = _y_mg(mg, top, bottom)
        parts.append(f'<line x1="{LEFT}" y1="{_n(y)}" x2="{RIGHT}" y2="{_n(y)}" stroke="{GRID}"/>')
        parts.append(_text(LEFT - 6, y + 4, _g(mg, unit), anchor="end", colour=MUTED_TEXT, size=11))
    parts.append(_text(4, top - 8, unit, colour=MUTED_TEXT, size=11))
    return parts


def _hour_axis(top: float, bottom: float, label_y: float) -> list[str]:
    parts = []
    for hour in range(25):
        x = _x_minute(hour * 60)
        parts.append(f'<line x1="{_n(x)}" y1="{top}" x2="{_n(x)}" y2="{bottom}" stroke="{GRID}"/>')
        if hour % 3 == 0:
            parts.append(_text(x, label_y, f"{hour:02d}:00", anchor="middle", colour=MUTED_TEXT, size=11))
    return parts


def _label_x(x: float) -> float:
    """A centred label's x, kept far enough from the edges that its text stays inside the chart."""
    return _clamp(x, LEFT + 10, RIGHT - 10)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _local(doc: Mapping[str, Any]) -> datetime | None:
    """A datum's local wall clock: ``time + timezoneOffset`` (UTC when there is no offset)."""
    text = doc.get("time")
    if not isinstance(text, str):
        return None
    parsed = parse_rfc3339(text)
    if parsed is None:
        return None
    offset = doc.get("timezoneOffset")
    minutes = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
    return (parsed.astimezone(UTC) + timedelta(minutes=minutes)).replace(tzinfo=None)


def _minutes(local: datetime, day_start: datetime) -> float:
    return (local - day_start).total_seconds() / 60


def bolus_units(doc: Mapping[str, Any]) -> float:
    """Insulin of a bolus as delivered: ``normal + extended`` (either may be absent)."""
    return sum(_number(doc.get(key)) or 0.0 for key in ("normal", "extended"))


def carb_grams(doc: Mapping[str, Any]) -> float | None:
    nutrition = doc.get("nutrition")
    if not isinstance(nutrition, Mapping):
        return None
    carbohydrate = nutrition.get("carbohydrate")
    if not isinstance(carbohydrate, Mapping):
        return None
    return _number(carbohydrate.get("net"))


def _fmt_units(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def _basal_segments(
    docs: Sequence[Mapping[str, Any]], day_start: datetime
) -> list[tuple[float, float, float]]:
    """(start minute, end minute, U/h) clipped to the day, in order; a suspend without a rate is 0 U/h."""
    segments = []
    for doc in docs:
        local = _local(doc)
        duration = _number(doc.get("duration"))
        if local is None or duration is None or duration <= 0:
            continue
        rate = _number(doc.get("rate"))
        if rate is None:
            if doc.get("deliveryType") != "suspend":
                continue
            rate = 0.0
        start = _minutes(local, day_start)
        end = start + duration / 60_000
        lo, hi = max(start, 0.0), min(end, 1440.0)
        if hi > lo:
            segments.append((lo, hi, max(rate, 0.0)))
    segments.sort()
    return segments


def _basal_paths(segments: list[tuple[float, float, float]], max_rate: float) -> list[str]:
    """One filled step path per contiguous run of segments, so a gap in pump data shows as a gap."""

    def y(rate: float) -> float:
        return BASAL_BOTTOM - _clamp(rate / max_rate, 0, 1) * (BASAL_BOTTOM - BASAL_TOP)

    runs: list[list[tuple[float, float, float]]] = []
    for segment in segments:
        if runs and segment[0] - runs[-1][-1][1] <= 1 / 60:
            runs[-1].append(segment)
        else:
            runs.append([segment])
    paths = []
    for run in runs:
        d = [f"M{_n(_x_minute(run[0][0]))} {BASAL_BOTTOM}"]
        for lo, hi, rate in run:
            d.append(f"L{_n(_x_minute(lo))} {_n(y(rate))} L{_n(_x_minute(hi))} {_n(y(rate))}")
        d.append(f"L{_n(_x_minute(run[-1][1]))} {BASAL_BOTTOM} Z")
        paths.append(
            f'<path class="basal" d="{" ".join(d)}" fill="{BASAL_COLOUR}" fill-opacity="0.2" '
            f'stroke="{BASAL_COLOUR}" stroke-width="1.5"/>'
        )
    return paths


def daily_chart_svg(
    day_start_local: datetime,
    readings: list[Reading],
    basal_docs: list[dict[str, Any]],
    bolus_docs: list[dict[str, Any]],
    food_docs: list[dict[str, Any]],
    *,
    low_mg: int = LOW_BELOW_MG,
    high_mg: int = HIGH_ABOVE_MG,
    unit: str = MGDL,
) -> Markup:
    """One local day, midnight to midnight: CGM, the target band, boluses, carbs and basal, with
    glucose labelled in ``unit`` (the person's; the geometry is the same in either unit).

    ``day_start_local`` is the naive local midnight; readings and datums are placed by their own
    local time (``time + timezoneOffset``), so a day is the patient's day even across zone changes.
    Anything outside the day is left out, basal segments are clipped to it.
    """
    day_end = day_start_local + timedelta(days=1)
    day = [r for r in readings if day_start_local <= r.local < day_end]
    segments = _basal_segments(basal_docs, day_start_local)
    boluses = []
    for doc in bolus_docs:
        local = _local(doc)
        if local is not None and day_start_local <= local < day_end:
            boluses.append((_minutes(local, day_start_local), bolus_units(doc)))
    carbs = []
    for doc in food_docs:
        local = _local(doc)
        grams = carb_grams(doc)
        if local is not None and grams is not None and day_start_local <= local < day_end:
            carbs.append((_minutes(local, day_start_local), grams))
    boluses.sort()
    carbs.sort()

    title = f"Daily view, {day_start_local:%A %d %B %Y}"
    body = [
        *_glucose_axis(CGM_TOP, CGM_BOTTOM, low_mg, high_mg, unit),
        *_hour_axis(CGM_TOP, BASAL_BOTTOM, AXIS_Y),
    ]
    body.append(_text(LEFT - 6, BOLUS_Y + 4, "Bolus", anchor="end", colour=MUTED_TEXT, size=11))
    body.append(_text(LEFT - 6, CARB_Y + 4, "Carbs", anchor="end", colour=MUTED_TEXT, size=11))
    body.append(_text(LEFT - 6, BASAL_TOP + 10, "Basal", anchor="end", colour=MUTED_TEXT, size=11))
    body.append(_text(LEFT - 6, BASAL_TOP + 24, "U/h", anchor="end", colour=MUTED_TEXT, size=11))
    body.append(
        f'<line x1="{LEFT}" y1="{BASAL_BOTTOM}" x2="{RIGHT}" y2="{BASAL_BOTTOM}" stroke="{MUTED_TEXT}"/>'
    )

    if not (day or segments or boluses or carbs):
        body.append(
            _text((LEFT + RIGHT) / 2, (CGM_TOP + CGM_BOTTOM) / 2, "No data", anchor="middle", size=16)
        )
        return _svg("daily", DAY_W, DAY_H, title, "No data for this day.", body)

    desc: list[str] = []
    if day:
        body.extend(_cgm_marks(day, day_start_local, unit))
        in_range = sum(r.interval_ms for r in day if low_mg <= r.mg <= high_mg) / sum(
            r.interval_ms for r in day
        )
        mean = sum(r.mg for r in day) / len(day)
        lowest, highest = min(r.mg for r in day), max(r.mg for r in day)
        desc.append(
            f"{len(day)} CGM readings, {_pct(in_range)} of the time in range "
            f"{_g(low_mg, unit)}-{_g(high_mg, unit)} {unit}, mean {_g(mean, unit)} {unit}, "
            f"lowest {_g(lowest, unit)}, highest {_g(highest, unit)} {unit}."
        )
    else:
        body.append(
            _text((LEFT + RIGHT) / 2, (CGM_TOP + CGM_BOTTOM) / 2, "No CGM data", anchor="middle", size=16)
        )
        desc.append("No CGM readings.")

    for minute, units in boluses:
        x = _x_minute(minute)
        tip = f"Bolus {_fmt_units(units)} U at {_hhmm(minute)}"
        body.append(
            f'<g class="bolus"><title>{escape(tip)}</title>'
            f'<polygon points="{_n(x - 5)},{BOLUS_Y - 6} {_n(x + 5)},{BOLUS_Y - 6} {_n(x)},{BOLUS_Y + 4}" '
            f'fill="{BOLUS_COLOUR}" stroke="{TEXT}" stroke-width="0.75"/>'
            f"{_text(_label_x(x), BOLUS_Y + 16, _fmt_units(units), anchor='middle', size=10)}"
            "</g>"
        )
    if boluses:
        total = sum(units for _, units in boluses)
        desc.append(f"{len(boluses)} boluses, {_fmt_units(total)} U in total.")

    for minute, grams in carbs:
        x = _x_minute(minute)
        tip = f"Carbohydrate {grams:.0f} g at {_hhmm(minute)}"
        body.append(
            f'<g class="carbs"><title>{escape(tip)}</title>'
            f'<circle cx="{_n(x)}" cy="{CARB_Y}" r="5" fill="{CARB_COLOUR}" '
            f'stroke="{TEXT}" stroke-width="0.75"/>'
            f"{_text(_label_x(x), CARB_Y + 16, f'{grams:.0f}g', anchor='middle', size=10)}"
            "</g>"
        )
    if carbs:
        desc.append(f"{sum(g for _, g in carbs):.0f} g carbohydrate in {len(carbs)} entries.")

    if segments:
        rates = [rate for _, _, rate in segments]
        max_rate = max(1.0, max(rates))
        body.extend(_basal_paths(segments, max_rate))
        body.append(
            _text(
                RIGHT,
                BASAL_TOP - 2,
                f"max {_fmt_units(max_rate)} U/h",
                anchor="end",
                colour=MUTED_TEXT,
                size=10,
            )
        )
        desc.append(f"Basal from {_fmt_units(min(rates))} to {_fmt_units(max(rates))} U/h.")
    return _svg("daily", DAY_W, DAY_H, title, " ".join(desc), body)


def _cgm_marks(day: list[Reading], day_start: datetime, unit: str = MGDL) -> list[str]:
    """The line (broken at gaps over 15 minutes) under one point per reading, coloured by range."""
    parts: list[str] = []
    run: list[str] = []
    previous: Reading | None = None
    points: list[str] = []
    for reading in day:
        minute = _minutes(reading.local, day_start)
        x, y = _x_minute(minute), _y_mg(reading.mg, CGM_TOP, CGM_BOTTOM)
        if previous is not None and reading.time - previous.time > CGM_GAP:
            if len(run) > 1:
                parts.append(_polyline(run))
            run = []
        run.append(f"{_n(x)},{_n(y)}")
        previous = reading
        points.append(
            f'<circle class="cgm" cx="{_n(x)}" cy="{_n(y)}" r="2.5" fill="{RANGE_COLOURS[reading.range]}">'
            f"<title>{_hhmm(minute)} {_g(reading.mg, unit)} {unit}</title></circle>"
        )
    if len(run) > 1:
        parts.append(_polyline(run))
    return parts + points


def _polyline(points: list[str]) -> str:
    return (
        f'<polyline class="cgm-line" points="{" ".join(points)}" fill="none" '
        f'stroke="{CGM_LINE}" stroke-width="1"/>'
    )


def agp_chart_svg(
    bins: list[AgpBin], *, low_mg: int = LOW_BELOW_MG, high_mg: int = HIGH_ABOVE_MG, unit: str = MGDL
) -> Markup:
    """The AGP curve: the 5-95% band, the 25-75% band and the median over a local day.

    Bins without readings break the bands and the median, rather than interpolating across them.
    """
    title = "Ambulatory glucose profile"
    body = [
        *_glucose_axis(AGP_TOP, AGP_BOTTOM, low_mg, high_mg, unit),
        *_hour_axis(AGP_TOP, AGP_BOTTOM, AGP_AXIS_Y),
    ]
    filled = [b for b in bins if b.n > 0 and b.p5 is not None]
    if not filled:
        body.append(
            _text((LEFT + RIGHT) / 2, (AGP_TOP + AGP_BOTTOM) / 2, "No data", anchor="middle", size=16)
        )
        return _svg("agp", AGP_W, AGP_H, title, "No data for the profile.", body)

    width = 1440 / len(bins)
    runs: list[list[AgpBin]] = []
    previous_index = -2
    for index, b in enumerate(bins):
        if b.n == 0 or b.p5 is None:
            continue
        if index == previous_index + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
        previous_index = index

    def y(mg: float | None) -> float:
        return _y_mg(mg if mg is not None else Y_MIN_MG, AGP_TOP, AGP_BOTTOM)

    def edges(run: list[AgpBin]) -> list[float]:
        """x of each bin's centre, plus the run's outer edges, so a band covers its whole bins."""
        xs = [b.minute_of_day + width / 2 for b in run]
        return [run[0].minute_of_day, *xs, run[-1].minute_of_day + width]

    def series(run: list[AgpBin], attr: str) -> list[tuple[float, float]]:
        values = [getattr(b, attr) for b in run]
        values = [values[0], *values, values[-1]]
        return [(_x_minute(m), y(v)) for m, v in zip(edges(run), values, strict=True)]

    for run in runs:
        for lower, upper, opacity, name in (
            ("p5", "p95", "0.18", "band-5-95"),
            ("p25", "p75", "0.4", "band-25-75"),
        ):
            outline = series(run, upper) + list(reversed(series(run, lower)))
            points = " ".join(f"{_n(px)},{_n(py)}" for px, py in outline)
            body.append(
                f'<polygon class="{name}" points="{points}" fill="{BASAL_COLOUR}" fill-opacity="{opacity}"/>'
            )
        median = " ".join(f"{_n(px)},{_n(py)}" for px, py in series(run, "p50"))
        body.append(
            f'<polyline class="median" points="{median}" fill="none" stroke="{TEXT}" stroke-width="2"/>'
        )
    for mg in (low_mg, high_mg):
        ly = _n(_y_mg(mg, AGP_TOP, AGP_BOTTOM))
        body.append(
            f'<line class="target-line" x1="{LEFT}" y1="{ly}" x2="{RIGHT}" y2="{ly}" '
            f'stroke="{RANGE_COLOURS[TARGET]}" stroke-width="1.5" stroke-dasharray="6 3"/>'
        )

    medians = [(b.minute_of_day, b.p50) for b in filled if b.p50 is not None]
    low_at, low_median = min(medians, key=lambda m: m[1])
    high_at, high_median = max(medians, key=lambda m: m[1])
    desc = (
        f"Percentiles of {sum(b.n for b in filled)} readings by time of day, {len(filled)} of {len(bins)} "
        f"periods with data. Median lowest {_g(low_median, unit)} {unit} at {_hhmm(low_at)}, highest "
        f"{_g(high_median, unit)} {unit} at {_hhmm(high_at)}. "
        f"Target range {_g(low_mg, unit)}-{_g(high_mg, unit)} {unit}."
    )
    return _svg("agp", AGP_W, AGP_H, title, desc, body)


def tir_bar_svg(ranges: dict[str, float], unit: str = MGDL) -> Markup:
    """A stacked bar of the five ranges, very high on top, each labelled with its name and share.

    Labels sit in fixed rows beside the bar (not on the coloured segments), so they stay readable
    however thin a segment is and keep dark-on-white contrast.
    """
    title = "Time in ranges"
    labels = RANGE_LABELS if unit == MGDL else range_labels(unit)
    shares = {name: max(0.0, float(ranges.get(name, 0.0))) for name in RANGES}
    total = sum(shares.values())
    if total <= 0:
        body = [_text(TIR_W / 2, TIR_H / 2, "No data", anchor="middle", size=16)]
        return _svg("tir", TIR_W, TIR_H, title, "No data.", body)
    body = []
    height = TIR_BOTTOM - TIR_TOP
    y = float(TIR_BOTTOM)
    for name in RANGES:  # lowest first, drawn from the bottom up
        h = shares[name] / total * height
        if h > 0:
            y -= h
            body.append(
                f'<rect class="tir-{name}" x="{TIR_BAR_X}" y="{_n(y)}" width="{TIR_BAR_W}" height="{_n(h)}" '
                f'fill="{RANGE_COLOURS[name]}"><title>'
                f"{escape(f'{labels[name]}: {_pct(shares[name] / total)}')}</title></rect>"
            )
    row = height / len(RANGES)
    label_x = TIR_BAR_X + TIR_BAR_W + 16
    for index, name in enumerate(reversed(RANGES)):
        cy = TIR_TOP + row * (index + 0.5)
        body.append(
            f'<rect x="{label_x}" y="{_n(cy - 6)}" width="12" height="12" fill="{RANGE_COLOURS[name]}"/>'
        )
        body.append(_text(label_x + 18, cy + 4, labels[name]))
        body.append(_text(TIR_W - 8, cy + 4, _pct(shares[name] / total), anchor="end"))
    desc = "; ".join(f"{labels[name]} {_pct(shares[name] / total)}" for name in reversed(RANGES)) + "."
    return _svg("tir", TIR_W, TIR_H, title, desc, body)

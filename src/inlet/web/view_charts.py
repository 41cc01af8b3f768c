"""SVG for the Trends view, drawn on the server like the other charts (``inlet.web.charts``): the
30-minute CGM bins as the 100 %, 80 % and 50 % bands and the median, each shown or hidden by the
person's toggles, and the 3-hour meter bins as min-max bars with the mean. Each chart has a title and
a description, and the page repeats the numbers in a table."""

from __future__ import annotations

from markupsafe import Markup

from inlet.reports.trends import BgmBin, CgmBin
from inlet.reports.units import Preferences
from inlet.web.charts import (
    AGP_AXIS_Y,
    AGP_BOTTOM,
    AGP_H,
    AGP_TOP,
    AGP_W,
    BASAL_COLOUR,
    LEFT,
    RANGE_COLOURS,
    RIGHT,
    TEXT,
    _glucose_axis,
    _hour_axis,
    _n,
    _svg,
    _text,
    _x_minute,
    _y_mg,
)

BANDS = (("p100", "low", "high", "0.15"), ("p80", "p10", "p90", "0.3"), ("p50", "p25", "p75", "0.5"))
TOGGLES = ("p100", "p80", "p50", "median")


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def trends_cgm_svg(bins: list[CgmBin], prefs: Preferences, shown: set[str], days: int) -> Markup:
    title = f"CGM trends over {days} days"
    body = [
        *_glucose_axis(AGP_TOP, AGP_BOTTOM, prefs.low_mg, prefs.high_mg, prefs.unit),
        *_hour_axis(AGP_TOP, AGP_BOTTOM, AGP_AXIS_Y),
    ]
    filled = [b for b in bins if b.n]
    if not filled:
        body.append(
            _text((LEFT + RIGHT) / 2, (AGP_TOP + AGP_BOTTOM) / 2, "No CGM data", anchor="middle", size=16)
        )
        return _svg("trends", AGP_W, AGP_H, title, "No CGM data in this period.", body)
    width = 30
    for b in filled:
        x0, x1 = _x_minute(b.minute_of_day + 1), _x_minute(b.minute_of_day + width - 1)
        for name, lower, upper, opacity in BANDS:
            lo, hi = getattr(b, lower), getattr(b, upper)
            if name not in shown or lo is None or hi is None:
                continue
            y_hi, y_lo = _y_mg(hi, AGP_TOP, AGP_BOTTOM), _y_mg(lo, AGP_TOP, AGP_BOTTOM)
            body.append(
                f'<rect class="band-{name}" x="{_n(x0)}" y="{_n(y_hi)}" width="{_n(x1 - x0)}" '
                f'height="{_n(max(1.0, y_lo - y_hi))}" fill="{BASAL_COLOUR}" fill-opacity="{opacity}"/>'
            )
        if "median" in shown and b.p50 is not None:
            y = _n(_y_mg(b.p50, AGP_TOP, AGP_BOTTOM))
            body.append(
                f'<line class="median" x1="{_n(x0)}" y1="{y}" x2="{_n(x1)}" y2="{y}" '
                f'stroke="{TEXT}" stroke-width="3"/>'
            )
    medians = [b for b in filled if b.p50 is not None]
    lowest = min(medians, key=lambda b: b.p50 or 0.0)
    highest = max(medians, key=lambda b: b.p50 or 0.0)
    desc = (
        f"{sum(b.n for b in filled)} readings in {len(filled)} of 48 half-hours. Median lowest "
        f"{prefs.show(lowest.p50 or 0)} {prefs.unit} at {_clock(lowest.minute_of_day)}, highest "
        f"{prefs.show(highest.p50 or 0)} {prefs.unit} at {_clock(highest.minute_of_day)}. "
        f"Target {prefs.target_text}."
    )
    return _svg("trends", AGP_W, AGP_H, title, desc, body)


def trends_bgm_svg(bins: list[BgmBin], prefs: Preferences, days: int) -> Markup:
    title = f"Meter trends over {days} days"
    body = [
        *_glucose_axis(AGP_TOP, AGP_BOTTOM, prefs.low_mg, prefs.high_mg, prefs.unit),
        *_hour_axis(AGP_TOP, AGP_BOTTOM, AGP_AXIS_Y),
    ]
    filled = [b for b in bins if b.n and b.low is not None and b.high is not None and b.mean is not None]
    if not filled:
        body.append(
            _text((LEFT + RIGHT) / 2, (AGP_TOP + AGP_BOTTOM) / 2, "No meter data", anchor="middle", size=16)
        )
        return _svg("trends-bgm", AGP_W, AGP_H, title, "No meter readings in this period.", body)
    for b in filled:
        assert b.low is not None
        assert b.high is not None
        assert b.mean is not None
        x = _x_minute(b.hour_of_day * 60 + 90)
        y_hi, y_lo = _y_mg(b.high, AGP_TOP, AGP_BOTTOM), _y_mg(b.low, AGP_TOP, AGP_BOTTOM)
        body.append(
            f'<rect class="bgm-range" x="{_n(x - 8)}" y="{_n(y_hi)}" width="16" '
            f'height="{_n(max(1.0, y_lo - y_hi))}" '
            f'fill="{BASAL_COLOUR}" fill-opacity="0.3"/>'
        )
        body.append(
            f'<circle class="bgm-mean" cx="{_n(x)}" cy="{_n(_y_mg(b.mean, AGP_TOP, AGP_BOTTOM))}" r="5" '
            f'fill="{RANGE_COLOURS["target"]}" stroke="{TEXT}"/>'
        )
    desc = "; ".join(
        f"{b.hour_of_day:02d}:00-{b.hour_of_day + 3:02d}:00: {b.n} readings, "
        f"mean {prefs.show(b.mean or 0)} {prefs.unit}"
        for b in filled
    )
    return _svg("trends-bgm", AGP_W, AGP_H, title, desc + ".", body)

"""The SVG charts: well-formed, accessible, the right marks, nothing outside the viewBox."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import pytest
from markupsafe import Markup

from inlet.reports.agp import agp
from inlet.reports.glucose import RANGES, Reading, readings_from_docs
from inlet.web.charts import BACKGROUND, TEXT_COLOURS, agp_chart_svg, daily_chart_svg, tir_bar_svg
from tests.reports.helpers import T0, cbg, rfc3339, series

NS = {"svg": "http://www.w3.org/2000/svg"}
DAY_START = datetime(2026, 3, 1)
OFFSET = -300  # the patient's clock is UTC-5


def parse(svg: str) -> ET.Element:
    assert isinstance(svg, Markup)
    return ET.fromstring(svg)


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{{NS['svg']}}}{tag}") if e.get("class") == cls]


def all_text(root: ET.Element) -> str:
    return " ".join("".join(e.itertext()) for e in root.iter(f"{{{NS['svg']}}}text"))


def assert_accessible(root: ET.Element) -> None:
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert root.get("viewBox", "").startswith("0 0 ")
    title = root.find("svg:title", NS)
    desc = root.find("svg:desc", NS)
    assert title is not None
    assert title.text
    assert desc is not None
    assert desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def assert_inside_viewbox(root: ET.Element) -> None:
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    for element in root.iter():
        xs: list[float] = []
        ys: list[float] = []
        for name in ("x", "cx", "x1", "x2"):
            if element.get(name) is not None:
                xs.append(float(element.get(name, "")))
        for name in ("y", "cy", "y1", "y2"):
            if element.get(name) is not None:
                ys.append(float(element.get(name, "")))
        if element.get("width") not in (None, "100%"):
            xs.append(float(element.get("x", "0")) + float(element.get("width", "")))
        if element.get("height") is not None and element is not root:
            ys.append(float(element.get("y", "0")) + float(element.get("height", "")))
        numbers = [
            float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", element.get("points", "") + element.get("d", ""))
        ]
        xs.extend(numbers[0::2])
        ys.extend(numbers[1::2])
        for x in xs:
            assert 0 <= x <= width, (element.tag, element.attrib)
        for y in ys:
            assert 0 <= y <= height, (element.tag, element.attrib)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def assert_text_contrast(root: ET.Element) -> None:
    for text in root.iter(f"{{{NS['svg']}}}text"):
        assert contrast(text.get("fill", ""), BACKGROUND) >= 4.5


def local_doc(local: datetime, **fields: Any) -> dict[str, Any]:
    """A datum at a local wall-clock time on the UTC-5 clock."""
    utc = local - timedelta(minutes=OFFSET)
    return {"time": rfc3339(utc.replace(tzinfo=T0.tzinfo)), "timezoneOffset": OFFSET, **fields}


def day_readings(mgs: list[int], *, every: timedelta = timedelta(minutes=5)) -> list[Reading]:
    start = (DAY_START - timedelta(minutes=OFFSET)).replace(tzinfo=T0.tzinfo)
    return series(mgs, start=start, every=every, offset_min=OFFSET)


def test_text_colours_meet_wcag_aa() -> None:
    for colour in TEXT_COLOURS:
        assert contrast(colour, BACKGROUND) >= 4.5


def test_daily_chart_full_day() -> None:
    readings = day_readings([60 + (i % 200) for i in range(288)])
    basal = [
        local_doc(DAY_START, type="basal", deliveryType="scheduled", duration=8 * 3_600_000, rate=0.8),
        local_doc(
            DAY_START + timedelta(hours=8), type="basal", deliveryType="temp", duration=3_600_000, rate=1.5
        ),
    ]
    boluses = [
        local_doc(DAY_START + timedelta(hours=7, minutes=30), type="bolus", subType="normal", normal=4.5),
        local_doc(
            DAY_START + timedelta(hours=12), type="bolus", subType="dual/square", normal=2, extended=1.25
        ),
    ]
    food = [
        local_doc(
            DAY_START + timedelta(hours=7, minutes=25), type="food", nutrition={"carbohydrate": {"net": 45}}
        ),
        local_doc(DAY_START + timedelta(hours=12), type="food", nutrition={"carbohydrate": {"net": 60}}),
        local_doc(DAY_START + timedelta(hours=15), type="food", nutrition={"carbohydrate": {"net": 15}}),
    ]
    root = parse(daily_chart_svg(DAY_START, readings, basal, boluses, food))
    assert_accessible(root)
    assert_inside_viewbox(root)
    assert_text_contrast(root)
    assert len(by_class(root, "circle", "cgm")) == 288
    assert len(by_class(root, "polyline", "cgm-line")) == 1
    bolus_marks = by_class(root, "g", "bolus")
    assert len(bolus_marks) == 2
    assert [g.findtext("svg:title", namespaces=NS) for g in bolus_marks] == [
        "Bolus 4.5 U at 07:30",
        "Bolus 3.25 U at 12:00",
    ]
    assert len(by_class(root, "g", "carbs")) == 3
    assert len(by_class(root, "path", "basal")) == 1  # contiguous segments make one step path
    desc = root.findtext("svg:desc", namespaces=NS) or ""
    assert "288 CGM readings" in desc
    assert "2 boluses, 7.75 U in total" in desc
    assert "120 g carbohydrate in 3 entries" in desc


def test_gaps_over_15_minutes_break_the_line() -> None:
    start = (DAY_START - timedelta(minutes=OFFSET)).replace(tzinfo=T0.tzinfo)
    minutes = [0, 5, 10, 25, 30, 46, 51]  # 15 minutes joins, 16 breaks
    readings = readings_from_docs(cbg(start + timedelta(minutes=m), 120, offset_min=OFFSET) for m in minutes)
    root = parse(daily_chart_svg(DAY_START, readings, [], [], []))
    lines = by_class(root, "polyline", "cgm-line")
    assert [len(line.get("points", "").split()) for line in lines] == [5, 2]


def test_only_the_local_day_is_drawn() -> None:
    readings = day_readings([120] * 3, every=timedelta(hours=12))  # 00:00, 12:00, next day 00:00
    root = parse(daily_chart_svg(DAY_START, readings, [], [], []))
    assert len(by_class(root, "circle", "cgm")) == 2


def test_empty_day_says_no_data() -> None:
    root = parse(daily_chart_svg(DAY_START, [], [], [], []))
    assert_accessible(root)
    assert "No data" in all_text(root)
    assert by_class(root, "circle", "cgm") == []


def test_day_without_cgm_but_with_insulin() -> None:
    boluses = [local_doc(DAY_START + timedelta(hours=9), type="bolus", subType="normal", normal=1)]
    root = parse(daily_chart_svg(DAY_START, [], [], boluses, []))
    assert "No CGM data" in all_text(root)
    assert len(by_class(root, "g", "bolus")) == 1


def test_extremes_stay_inside_the_viewbox() -> None:
    readings = day_readings([10, 39, 401, 1000, 250, 600])
    basal = [
        # starts the evening before and runs past midnight: clipped to the day
        local_doc(
            DAY_START - timedelta(hours=2),
            type="basal",
            deliveryType="scheduled",
            duration=4 * 3_600_000,
            rate=50,
        ),
        local_doc(
            DAY_START + timedelta(hours=23), type="basal", deliveryType="temp", duration=5 * 3_600_000, rate=0
        ),
        local_doc(DAY_START + timedelta(hours=5), type="basal", deliveryType="suspend", duration=600_000),
    ]
    boluses = [
        local_doc(DAY_START, type="bolus", subType="normal", normal=25),
        local_doc(
            DAY_START + timedelta(hours=23, minutes=59, seconds=59),
            type="bolus",
            subType="normal",
            normal=0.05,
        ),
    ]
    food = [
        local_doc(
            DAY_START + timedelta(hours=23, minutes=59), type="food", nutrition={"carbohydrate": {"net": 200}}
        )
    ]
    root = parse(daily_chart_svg(DAY_START, readings, basal, boluses, food))
    assert_inside_viewbox(root)
    assert len(by_class(root, "path", "basal")) == 3


def test_agp_chart_with_a_gap() -> None:
    start = T0
    docs = [cbg(start + timedelta(minutes=m), 100 + m % 90) for m in range(0, 6 * 60, 5)]  # 00:00-06:00
    docs += [cbg(start + timedelta(hours=12, minutes=m), 150) for m in range(0, 60, 5)]  # 12:00-13:00
    bins = agp(readings_from_docs(docs))
    root = parse(agp_chart_svg(bins))
    assert_accessible(root)
    assert_inside_viewbox(root)
    assert_text_contrast(root)
    assert len(by_class(root, "polygon", "band-5-95")) == 2
    assert len(by_class(root, "polygon", "band-25-75")) == 2
    medians = by_class(root, "polyline", "median")
    assert [len(m.get("points", "").split()) for m in medians] == [24 + 2, 4 + 2]
    assert len(by_class(root, "line", "target-line")) == 2


def test_agp_chart_extremes_stay_inside() -> None:
    bins = agp(series([20, 800] * 200, every=timedelta(minutes=7)))
    assert_inside_viewbox(parse(agp_chart_svg(bins, low_mg=63, high_mg=140)))


def test_agp_chart_without_data() -> None:
    root = parse(agp_chart_svg(agp([])))
    assert_accessible(root)
    assert "No data" in all_text(root)


def test_tir_bar() -> None:
    ranges = {"veryLow": 0.004, "low": 0.036, "target": 0.71, "high": 0.2, "veryHigh": 0.05}
    root = parse(tir_bar_svg(ranges))
    assert_accessible(root)
    assert_inside_viewbox(root)
    assert_text_contrast(root)
    assert {e.get("class") for e in root.iter("{http://www.w3.org/2000/svg}rect")} >= {
        f"tir-{name}" for name in RANGES
    }
    text = all_text(root)
    for label in ("<1%", "4%", "71%", "20%", "5%"):
        assert label in text
    desc = root.findtext("svg:desc", namespaces=NS) or ""
    assert "Target (70-180 mg/dL) 71%" in desc


def test_tir_bar_skips_empty_ranges_but_labels_them() -> None:
    root = parse(tir_bar_svg({"target": 1.0}))
    assert (
        len(
            [
                e
                for e in root.iter("{http://www.w3.org/2000/svg}rect")
                if (e.get("class") or "").startswith("tir-")
            ]
        )
        == 1
    )
    assert len(re.findall(r"(?<!\d)0%", all_text(root))) == 4
    assert "100%" in all_text(root)


@pytest.mark.parametrize("ranges", [{}, dict.fromkeys(RANGES, 0.0)])
def test_tir_bar_without_data(ranges: dict[str, float]) -> None:
    root = parse(tir_bar_svg(ranges))
    assert_accessible(root)
    assert "No data" in all_text(root)

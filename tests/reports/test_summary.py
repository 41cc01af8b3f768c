"""The overview: interval weighting, CV from the sample SD, the 70%-of-14-days GMI rule, sensor use."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlet.reports.glucose import RANGES, readings_from_docs
from inlet.reports.summary import gmi_percent, overview
from tests.reports.helpers import T0, cbg, series

DAY = timedelta(days=1)


def test_ranges_are_weighted_by_sample_interval() -> None:
    readings = readings_from_docs(
        [
            cbg(T0, 100, interval_ms=300_000),
            cbg(T0 + timedelta(minutes=5), 200, interval_ms=900_000),
        ]
    )
    result = overview(readings, T0, T0 + DAY)
    assert result.ranges == {"veryLow": 0.0, "low": 0.0, "target": 0.25, "high": 0.75, "veryHigh": 0.0}
    assert result.readings == 2


def test_every_range_boundary_lands_in_its_consensus_range() -> None:
    readings = series([53, 54, 69, 70, 180, 181, 250, 251])
    result = overview(readings, T0, T0 + DAY)
    assert result.ranges == {name: 0.25 if name in ("low", "target", "high") else 0.125 for name in RANGES}


def test_cv_uses_the_sample_standard_deviation() -> None:
    """80, 120, 160: sample SD 40 (population SD would be 32.66), CV 33.3%."""
    result = overview(series([80, 120, 160]), T0, T0 + DAY)
    assert result.mean_mg == pytest.approx(120, abs=1e-3)
    assert result.mean_mmol == pytest.approx(120 / 18.01559, abs=1e-5)
    assert result.sd_mg == pytest.approx(40, abs=1e-3)
    assert result.cv == pytest.approx(100 / 3, abs=1e-3)


def test_one_reading_has_a_mean_but_no_sd() -> None:
    result = overview(series([120]), T0, T0 + DAY)
    assert result.mean_mg == pytest.approx(120, abs=1e-3)
    assert result.sd_mg is None
    assert result.cv is None


def test_no_readings() -> None:
    result = overview([], T0, T0 + DAY)
    assert result.readings == 0
    assert result.ranges == dict.fromkeys(RANGES, 0.0)
    assert result.mean_mg is result.mean_mmol is result.sd_mg is result.cv is result.gmi is None
    assert result.sensor_use == 0.0
    assert result.days == 1.0


def test_period_is_half_open() -> None:
    readings = series([100, 300], every=DAY)
    result = overview(readings, T0, T0 + DAY)
    assert result.readings == 1
    assert result.ranges["veryHigh"] == 0.0


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="end after"):
        overview([], T0, T0)


def _spaced(
    count: int, *, every_min: int = 24, last_interval_ms: int | None = None
) -> list[dict[str, object]]:
    docs = [
        cbg(T0 + timedelta(minutes=every_min * i), 140, interval_ms=every_min * 60_000) for i in range(count)
    ]
    if last_interval_ms is not None:
        docs[-1]["sampleInterval"] = last_interval_ms
    return docs


def test_gmi_shown_at_exactly_70_percent_of_14_days() -> None:
    """588 readings x 24 minutes = 14,112 minutes = 9.8 days = 70% of 14 days."""
    readings = readings_from_docs(_spaced(588))
    result = overview(readings, T0, T0 + 14 * DAY)
    assert result.sensor_use == pytest.approx(0.7)
    assert result.gmi == pytest.approx(gmi_percent(result.mean_mg or 0))
    assert result.gmi == pytest.approx(3.31 + 0.02392 * 140, abs=1e-3)


def test_gmi_hidden_one_millisecond_below_70_percent() -> None:
    readings = readings_from_docs(_spaced(588, last_interval_ms=24 * 60_000 - 1))
    result = overview(readings, T0, T0 + 14 * DAY)
    assert result.sensor_use < 0.7
    assert result.gmi is None
    assert result.mean_mg is not None


def test_gmi_hidden_for_a_period_shorter_than_14_days_even_fully_covered() -> None:
    readings = series([140] * (13 * 288))
    result = overview(readings, T0, T0 + 13 * DAY)
    assert result.sensor_use == 1.0
    assert result.gmi is None


def test_gmi_over_30_days_needs_70_percent_of_14_days_not_of_30() -> None:
    readings = readings_from_docs(_spaced(588))
    result = overview(readings, T0, T0 + 30 * DAY)
    assert result.sensor_use == pytest.approx(9.8 / 30)
    assert result.gmi is not None


def test_sensor_use_counts_overlapping_readings_once() -> None:
    """One-minute readings that each claim five minutes cover the hour once, not five times."""
    readings = series([120] * 60, every=timedelta(minutes=1))
    result = overview(readings, T0, T0 + timedelta(hours=2))
    assert result.sensor_use == pytest.approx((59 + 5) / 120)


def test_sensor_use_clips_a_reading_at_the_period_end() -> None:
    readings = readings_from_docs([cbg(T0 + DAY - timedelta(minutes=2), 120)])
    result = overview(readings, T0, T0 + DAY)
    assert result.sensor_use == pytest.approx(2 / 1440)


readings_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2 * 1440 - 1),
        st.integers(min_value=20, max_value=500),
        st.sampled_from([60_000, 300_000, 900_000]),
    ),
    max_size=60,
)


@given(readings_strategy)
def test_property_ranges_sum_to_one_and_use_is_a_fraction(
    rows: list[tuple[int, int, int]],
) -> None:
    docs = [cbg(T0 + timedelta(minutes=m), mg, interval_ms=iv) for m, mg, iv in rows]
    readings = readings_from_docs(docs)
    result = overview(readings, T0, T0 + 2 * DAY)
    total = sum(result.ranges.values())
    if readings:
        assert math.isclose(total, 1.0)
    else:
        assert total == 0.0
    assert all(0.0 <= share <= 1.0 for share in result.ranges.values())
    assert 0.0 <= result.sensor_use <= 1.0
    if result.cv is not None:
        assert result.cv >= 0
    assert result.gmi is None

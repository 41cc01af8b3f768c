"""The AGP: local-time folding, bins, and type-7 percentiles."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlet.reports.agp import agp, percentile
from inlet.reports.glucose import readings_from_docs
from tests.reports.helpers import T0, cbg, series


def test_known_set_in_one_bin() -> None:
    """10, 20, ..., 110 mg/dL: type 7 gives 15, 35, 60, 85, 105."""
    readings = series([10 * k for k in range(1, 12)], every=timedelta(seconds=60))
    bins = agp(readings)
    assert len(bins) == 96
    first = bins[0]
    assert (first.minute_of_day, first.n) == (0, 11)
    assert (first.p5, first.p25, first.p50, first.p75, first.p95) == pytest.approx((15, 35, 60, 85, 105))
    assert all(b.n == 0 and b.p50 is None for b in bins[1:])


def test_percentiles_agree_with_statistics_inclusive() -> None:
    values = sorted([97.0, 140.0, 101.0, 233.0, 64.0, 180.0, 181.0, 75.0])
    oracle = statistics.quantiles(values, n=100, method="inclusive")
    for p in (5, 25, 50, 75, 95):
        assert percentile(values, p) == pytest.approx(oracle[p - 1])


def test_one_reading_is_every_percentile() -> None:
    bins = agp(series([123]), bin_minutes=60)
    assert len(bins) == 24
    assert (bins[0].p5, bins[0].p50, bins[0].p95, bins[0].n) == (123, 123, 123, 1)


def test_readings_fold_by_local_time_across_days() -> None:
    docs = [
        cbg(T0 + timedelta(hours=23, minutes=50), 100, offset_min=60),  # 00:50 local, next day
        cbg(T0 + timedelta(days=3, minutes=40), 200),  # 00:40 UTC, no offset
        cbg(T0 + timedelta(hours=1), 300, offset_min=-600),  # 15:00 local, previous day
    ]
    bins = agp(readings_from_docs(docs), bin_minutes=60)
    assert bins[0].n == 2
    assert bins[0].p50 == pytest.approx(150)
    assert bins[15].n == 1
    assert bins[15].p50 == 300


@pytest.mark.parametrize("minutes", [0, 7, -15, 1441])
def test_bin_minutes_must_divide_the_day(minutes: int) -> None:
    with pytest.raises(ValueError, match="1440"):
        agp([], bin_minutes=minutes)


def test_no_readings_gives_empty_bins() -> None:
    bins = agp([], bin_minutes=30)
    assert [b.minute_of_day for b in bins] == list(range(0, 1440, 30))
    assert all(b.n == 0 and b.p5 is None and b.p95 is None for b in bins)


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=7 * 1440), st.integers(min_value=20, max_value=500)),
        max_size=80,
    )
)
def test_property_percentiles_are_ordered_and_within_the_data(rows: list[tuple[int, int]]) -> None:
    readings = readings_from_docs(cbg(T0 + timedelta(minutes=m), mg) for m, mg in rows)
    bins = agp(readings, bin_minutes=60)
    assert sum(b.n for b in bins) == len(readings)
    for b in bins:
        if b.n == 0:
            continue
        values = (b.p5, b.p25, b.p50, b.p75, b.p95)
        assert None not in values
        in_bin = [r.mg for r in readings if r.local.hour == b.minute_of_day // 60]
        assert [min(in_bin), *values, max(in_bin)] == sorted([min(in_bin), *values, max(in_bin)])  # type: ignore[type-var]

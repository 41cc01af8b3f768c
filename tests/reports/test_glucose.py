"""Whole mg/dL, the consensus range boundaries, and stored cbg datums as readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlet.model.glucose import mgdl_to_mmoll
from inlet.reports.glucose import (
    DEFAULT_INTERVAL_MS,
    HIGH,
    LOW,
    TARGET,
    VERY_HIGH,
    VERY_LOW,
    classify,
    mg_dl,
    readings_from_docs,
)
from tests.reports.helpers import T0, cbg

BOUNDARIES = [
    (53, VERY_LOW),
    (54, LOW),
    (69, LOW),
    (70, TARGET),
    (180, TARGET),
    (181, HIGH),
    (250, HIGH),
    (251, VERY_HIGH),
]


@pytest.mark.parametrize(("mg", "expected"), BOUNDARIES)
def test_classify_on_consensus_boundaries(mg: int, expected: str) -> None:
    assert classify(mg) == expected


@pytest.mark.parametrize(("mg", "expected"), BOUNDARIES)
def test_stored_mmol_of_an_mg_upload_classifies_as_the_upload(mg: int, expected: str) -> None:
    """54 mg/dL is stored as 2.99739 mmol/L; Tidepool's summary calls that very low, Inlet does not."""
    stored = mgdl_to_mmoll(mg)
    assert mg_dl(stored) == mg
    assert classify(mg_dl(stored)) == expected


@pytest.mark.parametrize(
    ("mmol", "mg", "expected"),
    [
        (2.9, 52, VERY_LOW),
        (2.99, 54, LOW),
        (3.0, 54, LOW),
        (3.8, 68, LOW),
        (3.85, 69, LOW),
        (3.9, 70, TARGET),
        (10.0, 180, TARGET),
        (10.02, 181, HIGH),
        (10.1, 182, HIGH),
        (13.9, 250, HIGH),
        (13.93, 251, VERY_HIGH),
        (14.0, 252, VERY_HIGH),
    ],
)
def test_mmol_uploads_classify_by_their_whole_mg(mmol: float, mg: int, expected: str) -> None:
    assert mg_dl(mmol) == mg
    assert classify(mg_dl(mmol)) == expected


def test_mg_dl_rounds_half_away_from_zero() -> None:
    assert mg_dl(0.5 / 18.01559) == 1
    assert mg_dl(-0.5 / 18.01559) == -1
    assert mg_dl(0.0) == 0


@given(st.integers(min_value=0, max_value=1000))
def test_every_stored_mg_upload_round_trips(mg: int) -> None:
    assert mg_dl(mgdl_to_mmoll(mg)) == mg


def test_readings_ignore_other_types_sort_and_drop_duplicate_instants() -> None:
    first = cbg(T0 + timedelta(minutes=5), 120)
    copy = cbg(T0 + timedelta(minutes=5), 200)
    docs = [
        {"type": "smbg", "time": "2026-03-01T00:00:00Z", "value": 5.0, "units": "mmol/L"},
        first,
        cbg(T0, 100),
        copy,
        {"type": "basal", "time": "2026-03-01T00:00:00Z", "duration": 1000, "rate": 1.0},
    ]
    readings = readings_from_docs(docs)
    assert [r.mg for r in readings] == [100, 120]
    assert [r.time for r in readings] == [T0, T0 + timedelta(minutes=5)]


def test_reading_fields_from_a_stored_datum() -> None:
    doc = {
        "type": "cbg",
        "time": "2026-03-01T23:30:00.250Z",
        "value": 5.55063,
        "units": "mmol/L",
        "timezoneOffset": 60,
        "sampleInterval": 900_000,
    }
    (reading,) = readings_from_docs([doc])
    assert reading.time == datetime(2026, 3, 1, 23, 30, 0, 250_000, tzinfo=UTC)
    assert reading.local == datetime(2026, 3, 2, 0, 30, 0, 250_000)
    assert reading.local.tzinfo is None
    assert reading.mg == 100
    assert reading.mmol == 5.55063
    assert reading.interval_ms == 900_000


def test_missing_offset_and_interval_default_to_utc_and_five_minutes() -> None:
    (reading,) = readings_from_docs([cbg(T0, 100)])
    assert reading.local == T0.replace(tzinfo=None)
    assert reading.interval_ms == DEFAULT_INTERVAL_MS == 300_000


def test_malformed_cbg_is_skipped() -> None:
    docs: list[dict[str, Any]] = [
        {"type": "cbg", "time": "not a time", "value": 5.0},
        {"type": "cbg", "time": "2026-03-01T00:00:00Z"},
        {"type": "cbg", "time": "2026-03-01T00:00:00Z", "value": True},
        {"type": "cbg", "time": "2026-03-01T00:00:00", "value": 5.0},
    ]
    assert readings_from_docs(docs) == []

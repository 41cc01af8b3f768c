"""Glucose values as people read them: whole mg/dL, mmol/L with one decimal (hand-computed)."""

from __future__ import annotations

import pytest

from inlet.reports.units import MGDL, MMOLL, Preferences, from_person, mg_of, mmol_of, range_labels, show


@pytest.mark.parametrize(
    ("mg", "mmol"),
    [(54, "3.0"), (70, "3.9"), (180, "10.0"), (250, "13.9"), (100, "5.6"), (126, "7.0"), (400, "22.2")],
)
def test_mmol_with_one_decimal(mg: int, mmol: str) -> None:
    # 100 / 18.01559 = 5.5507...; 126 / 18.01559 = 6.9939...
    assert show(mg, MMOLL) == mmol


def test_mg_whole_half_away_from_zero() -> None:
    assert show(126.5, MGDL) == "127"
    assert show(126.49, MGDL) == "126"
    assert show(99.5, MGDL, with_unit=True) == "100 mg/dL"


def test_round_trips_land_where_they_started() -> None:
    assert [mg_of(x) for x in (3.0, 3.9, 10.0, 13.9)] == [54, 70, 180, 250]
    assert mmol_of(mg_of(5.5)) == 5.5
    assert from_person(7.0, MMOLL) == 126  # 7.0 x 18.01559 = 126.109
    assert from_person(99.6, MGDL) == 100


def test_preferences_and_labels() -> None:
    prefs = Preferences(MMOLL, 70, 180)
    assert prefs.target_text == "3.9-10.0 mmol/L"
    assert Preferences().target_text == "70-180 mg/dL"
    assert range_labels(MMOLL)["target"] == "Target (3.9-10.0 mmol/L)"
    assert range_labels(MGDL)["veryLow"] == "Very low (<54 mg/dL)"

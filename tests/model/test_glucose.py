"""Glucose normalization: the reference's examples, rounding, and the mg/dL round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlet.model import glucose


@pytest.mark.parametrize(
    ("mgdl", "mmoll"),
    [(54, 2.99740), (70, 3.88552), (140, 7.77105), (180, 9.99135), (250, 13.87687), (400, 22.20299)],
)
def test_reference_examples(mgdl: float, mmoll: float) -> None:
    assert glucose.normalize_value(mgdl, "mg/dL") == mmoll
    assert glucose.normalize_value(mgdl, "mg/dl") == mmoll


def test_factor_is_tidepools() -> None:
    assert glucose.MGDL_PER_MMOLL == 18.01559


@pytest.mark.parametrize("units", ["mmol/L", "mmol/l", None, "unknown"])
def test_mmol_and_unknown_units_pass_through(units: str | None) -> None:
    assert glucose.normalize_value(7.123456, units) == 7.123456


def test_rounds_half_away_from_zero() -> None:
    assert glucose.round5(0.000005) == 0.00001
    assert glucose.round5(-0.000005) == -0.00001
    assert glucose.round5(1.234564) == 1.23456


def test_every_whole_mgdl_round_trips() -> None:
    """Tidepool's own check: int(normalized x 18.01559 + 0.5) gives back every value 0..1000."""
    for value in range(1001):
        assert int(glucose.mgdl_to_mmoll(value) * glucose.MGDL_PER_MMOLL + 0.5) == value
        assert glucose.mmoll_to_mgdl(glucose.mgdl_to_mmoll(value)) == value


@given(st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_normalized_has_five_decimals(value: float) -> None:
    normalized = glucose.mgdl_to_mmoll(value)
    assert round(normalized, 5) == normalized
    assert abs(normalized - value / glucose.MGDL_PER_MMOLL) <= 0.000005 + 1e-12


def test_ranges() -> None:
    assert glucose.range_for_units("mg/dL") == (0.0, 1000.0)
    assert glucose.range_for_units("mmol/L") == (0.0, 55.0)
    assert glucose.range_for_units("mg") is None

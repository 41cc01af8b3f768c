"""The generated fast path against the three-step path.

The suite runs with ``parse.VERIFY_FAST_PATH`` on (tests/conftest.py), so every datum the fast path
accepts anywhere in the tests is also checked by the three-step path. Here hypothesis mutates valid
datums of many types (dropped fields, wrong JSON types, boundary numbers, odd strings) so both paths
meet inputs no hand-written table holds.
"""

from __future__ import annotations

from typing import Any

import pytest
from bench.ingest import generate
from hypothesis import given
from hypothesis import strategies as st

from inlet.model import parse
from inlet.model.errors import Errors
from inlet.model.parse import parse_data, resolve_type

TIME = {"time": "2026-02-03T04:05:06.789Z", "deviceId": "dev-1", "timezoneOffset": -300}
SEEDS: list[dict[str, Any]] = [
    {"type": "smbg", "units": "mmol/l", "value": 6.2, "subType": "manual", **TIME},
    {"type": "bloodKetone", "units": "mmol/L", "value": 0.4, **TIME},
    {
        "type": "cbg",
        "units": "mg/dL",
        "value": 401,
        "trendRate": -3.2,
        "trendRateUnits": "mg/dL/minute",
        "annotations": [{"code": "bg/out-of-range", "value": "high", "threshold": 400}],
        **TIME,
    },
    {"type": "deviceEvent", "subType": "calibration", "units": "mg/dL", "value": 110, **TIME},
    {"type": "bolus", "subType": "dual/square", "normal": 1.0, "extended": 2.0, "duration": 3600000, **TIME},
    {
        "type": "basal",
        "deliveryType": "temp",
        "rate": 0.5,
        "percent": 0.5,
        "duration": 1800000,
        "suppressed": {"type": "basal", "deliveryType": "scheduled", "rate": 1.0},
        **TIME,
    },
    {
        "type": "cbg",
        "units": "mmol/L",
        "value": 5.5,
        "origin": {"id": "o-1", "name": "com.dexcom.cgm"},
        "payload": {"systemTime": "2026-02-03T04:05:06"},
        "guid": "33b8f139-50e4-49d6-b9eb-44d70cc05abc",
        "timezone": "America/Chicago",
        "deviceTime": "2026-02-02T22:05:06",
        "notes": ["n"],
        "tags": ["t"],
        **TIME,
    },
]
_seen: set[tuple[str, Any]] = set()
for datum in generate(2):
    key = (datum["type"], datum.get("subType") or datum.get("deliveryType"))
    if key not in _seen:
        _seen.add(key)
        SEEDS.append(datum)

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, -1, 1, 0.5, 100, 100.5, 1000, 1000.1, 55, 55.1, 86400000, 604800001, 1e300, -1e300]),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "x",
            "mg/dL",
            "mmol/L",
            "mg",
            "2026-02-03T04:05:06Z",
            "2026-02-03T04:05:06",
            "America/Chicago",
            "Mars/Base",
            "a" * 32,
            "normal",
            "scheduled",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["id", "x", "code"]), st.text(max_size=3), max_size=2),
)


@pytest.mark.parametrize(
    "seed", SEEDS, ids=lambda d: f"{d['type']}-{d.get('subType') or d.get('deliveryType')}"
)
def test_seeds_are_valid_and_take_the_fast_path(seed: dict[str, Any]) -> None:
    assert parse_data([seed]).ok, parse_data([seed]).errors
    datum_type = resolve_type(seed, "", Errors())
    assert datum_type is not None
    assert datum_type.fast_path()(dict(seed)) is not None


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    datum = dict(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*datum, "value", "units", "rate", "duration", "time", "extra"]))
        if draw(st.booleans()) and key in datum and key != "type":
            del datum[key]
        else:
            datum[key] = draw(ODD_VALUES)
    return datum


@given(mutated())
def test_fast_path_agrees_with_three_steps(datum: dict[str, Any]) -> None:
    assert parse.VERIFY_FAST_PATH
    parse_data([datum])  # raises AssertionError when the two paths disagree


def test_fast_path_can_be_switched_off() -> None:
    parse.USE_FAST_PATH = False
    try:
        result = parse_data([SEEDS[0]])
    finally:
        parse.USE_FAST_PATH = True
    assert result.ok

"""Datum types, part A: ranges, enums, required fields, JSON types and normalization.

Covers cbg, smbg, bloodKetone, basal (4 deliveryTypes), bolus (4 subTypes), wizard, food, insulin, water,
physicalActivity, reportedState and alert. Every limit is written here as the literal number from the
reference (data-model.md and the platform's Go packages), never taken from the specs' constants, so a
wrong constant fails a test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from inlet.model.parse import parse_data

T = "2024-03-01T12:00:00Z"
OUT = "value-out-of-range"
NOT_ALLOWED = "value-not-allowed"
NOT_EXISTS = "value-not-exists"
EXISTS = "value-exists"
EMPTY = "value-empty"
LENGTH = "length-out-of-range"
NOT_PARSED = "not-parsed"


def errors_of(datum: Any) -> list[tuple[str, str]]:
    return [(x.code, x.pointer) for x in parse_data([datum]).errors]


def details_of(datum: Any) -> list[tuple[str, str, str]]:
    return [(x.code, x.pointer, x.detail) for x in parse_data([datum]).errors]


def d(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "time": T, **fields}


def put(base: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``value`` at ``path`` (keys and list indexes)."""
    datum = copy.deepcopy(base)
    node: Any = datum
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return datum


def drop(base: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    datum = copy.deepcopy(base)
    node: Any = datum
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return datum


def pointer(path: tuple[str | int, ...]) -> str:
    return "/0/" + "/".join(str(p) for p in path)


# ---- base datums (each valid as it stands) -----------------------------------------------------

CBG_MGDL = d("cbg", units="mg/dL", value=100)
CBG_MMOLL = d("cbg", units="mmol/L", value=5.5)
CBG_RATE_MGDL = d("cbg", units="mg/dL", value=100, trendRateUnits="mg/dL/minute", trendRate=1)
CBG_RATE_MMOLL = d("cbg", units="mmol/L", value=5.5, trendRateUnits="mmol/L/minute", trendRate=0.1)
SMBG_MGDL = d("smbg", units="mg/dL", value=100)
SMBG_MMOLL = d("smbg", units="mmol/L", value=5.5)
KETONE = d("bloodKetone", units="mmol/L", value=1)

SUPPRESSED = {"type": "basal", "deliveryType": "scheduled", "rate": 1}
SCHEDULED = d("basal", deliveryType="scheduled", rate=1, duration=3_600_000, scheduleName="Standard")
TEMP = d("basal", deliveryType="temp", rate=1, percent=0.5, duration=3_600_000, suppressed=SUPPRESSED)
SUSPEND = d("basal", deliveryType="suspend", duration=3_600_000, suppressed=SUPPRESSED)
AUTOMATED_BASAL = d("basal", deliveryType="automated", rate=1, duration=300_000, scheduleName="Auto")

NORMAL = d("bolus", subType="normal", normal=1)
SQUARE = d("bolus", subType="square", extended=1, duration=3_600_000)
DUAL = d("bolus", subType="dual/square", normal=1, extended=1, duration=3_600_000)
AUTOMATED_BOLUS = d("bolus", subType="automated", normal=1)
# A dual/square stopped during its normal part: the extended part never ran, so duration and extended are
# 0 and both expected values are given.
DUAL_STOPPED = {**DUAL, "duration": 0, "extended": 0, "expectedDuration": 3_600_000, "expectedExtended": 1}

WIZARD_MGDL = d("wizard", units="mg/dL", bgInput=100, insulinSensitivity=50, carbInput=30)
WIZARD_MMOLL = d("wizard", units="mmol/L", bgInput=5.5, insulinSensitivity=2.5, carbInput=30)

FOOD = d(
    "food",
    name="Pizza",
    meal="dinner",
    nutrition={
        "estimatedAbsorptionDuration": 10_800,
        "carbohydrate": {"net": 45, "total": 50, "sugars": 5, "dietaryFiber": 5, "units": "grams"},
        "energy": {"units": "kilocalories", "value": 600},
        "fat": {"total": 20, "units": "grams"},
        "protein": {"total": 25, "units": "grams"},
    },
    amount={"units": "slices", "value": 2},
    ingredients=[{"name": "cheese", "nutrition": {"carbohydrate": {"net": 1, "units": "grams"}}}],
)
INSULIN = d(
    "insulin",
    dose={"total": 5, "food": 4, "correction": 1, "active": 2, "units": "Units"},
    formulation={
        "simple": {
            "actingType": "rapid",
            "brand": "Humalog",
            "concentration": {"units": "Units/mL", "value": 100},
        }
    },
    site="left arm",
)
INSULIN_COMPOUND = d(
    "insulin",
    dose={"total": 5, "units": "Units"},
    formulation={
        "name": "70/30",
        "compounds": [
            {"amount": 70, "formulation": {"simple": {"actingType": "intermediate"}}},
            {"amount": 30, "formulation": {"simple": {"actingType": "rapid"}}},
        ],
    },
)
WATER = d("water", amount={"units": "liters", "value": 0.5})
PHYSICAL = d(
    "physicalActivity",
    activityType="running",
    name="Morning run",
    reportedIntensity="medium",
    aggregate=False,
    duration={"units": "minutes", "value": 30},
    distance={"units": "kilometers", "value": 5},
    elevationChange={"units": "meters", "value": 50},
    energy={"units": "kilocalories", "value": 300},
    flight={"count": 3},
    step={"count": 6000},
    lap={"count": 2, "distance": {"units": "meters", "value": 400}},
    inputTime="2024-03-01T12:30:00Z",
)
REPORTED = d("reportedState", states=[{"state": "illness", "severity": 5}])
ALERT = d(
    "alert",
    name="Low glucose",
    priority="critical",
    trigger="delayed",
    triggerDelay=300,
    sound="vibrate",
    issuedTime="2024-03-01T12:00:00Z",
    acknowledgedTime="2024-03-01T12:05:00Z",
    retractedTime="2024-03-01T12:10:00Z",
)

BASES = {
    "cbg mg/dL": CBG_MGDL,
    "cbg mmol/L": CBG_MMOLL,
    "cbg rate mg/dL": CBG_RATE_MGDL,
    "cbg rate mmol/L": CBG_RATE_MMOLL,
    "smbg mg/dL": SMBG_MGDL,
    "smbg mmol/L": SMBG_MMOLL,
    "bloodKetone": KETONE,
    "basal scheduled": SCHEDULED,
    "basal temp": TEMP,
    "basal suspend": SUSPEND,
    "basal automated": AUTOMATED_BASAL,
    "bolus normal": NORMAL,
    "bolus square": SQUARE,
    "bolus dual/square": DUAL,
    "bolus dual/square stopped": DUAL_STOPPED,
    "bolus dual/square stopped, expectedNormal": {**DUAL_STOPPED, "expectedNormal": 2},
    "bolus automated": AUTOMATED_BOLUS,
    "wizard mg/dL": WIZARD_MGDL,
    "wizard mmol/L": WIZARD_MMOLL,
    "food": FOOD,
    "insulin": INSULIN,
    "insulin compounds": INSULIN_COMPOUND,
    "water": WATER,
    "physicalActivity": PHYSICAL,
    "reportedState": REPORTED,
    "alert": ALERT,
}


@pytest.mark.parametrize("name", list(BASES))
def test_base_datums_are_valid(name: str) -> None:
    assert errors_of(BASES[name]) == []


# ---- ranges ---------------------------------------------------------------------------------------
# (id, base datum, path, valid values: both ends and just inside, invalid values: just outside)

Path = tuple[str | int, ...]
RANGES: list[tuple[str, dict[str, Any], Path, list[float], list[float]]] = [
    # cbg
    ("cbg value mg/dL", CBG_MGDL, ("value",), [0, 0.1, 999.9, 1000], [-0.1, 1000.1]),
    ("cbg value mg/dl", put(CBG_MGDL, ("units",), "mg/dl"), ("value",), [0, 1000], [-0.1, 1000.1]),
    ("cbg value mmol/L", CBG_MMOLL, ("value",), [0, 0.1, 54.9, 55], [-0.1, 55.1]),
    ("cbg value mmol/l", put(CBG_MMOLL, ("units",), "mmol/l"), ("value",), [0, 55], [-0.1, 55.1]),
    ("cbg trendRate mg/dL/minute", CBG_RATE_MGDL, ("trendRate",), [-100, -99.9, 99.9, 100], [-100.1, 100.1]),
    ("cbg trendRate mmol/L/minute", CBG_RATE_MMOLL, ("trendRate",), [-5.5, -5.4, 5.4, 5.5], [-5.6, 5.6]),
    ("cbg sampleInterval", CBG_MGDL, ("sampleInterval",), [0, 1, 86_399_999, 86_400_000], [-1, 86_400_001]),
    # smbg
    ("smbg value mg/dL", SMBG_MGDL, ("value",), [0, 0.1, 999.9, 1000], [-0.1, 1000.1]),
    ("smbg value mmol/L", SMBG_MMOLL, ("value",), [0, 0.1, 54.9, 55], [-0.1, 55.1]),
    # bloodKetone
    ("bloodKetone value", KETONE, ("value",), [0, 0.1, 9.9, 10], [-0.1, 10.1]),
    # basal scheduled
    ("scheduled rate", SCHEDULED, ("rate",), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    ("scheduled duration", SCHEDULED, ("duration",), [0, 1, 604_799_999, 604_800_000], [-1, 604_800_001]),
    (
        "scheduled expectedDuration",
        SCHEDULED,
        ("expectedDuration",),
        [3_600_000, 3_600_001, 604_799_999, 604_800_000],
        [3_599_999],
    ),
    # basal temp
    ("temp rate", TEMP, ("rate",), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    ("temp percent", TEMP, ("percent",), [0, 0.1, 9.9, 10], [-0.1, 10.1]),
    ("temp duration", TEMP, ("duration",), [0, 1, 604_799_999, 604_800_000], [-1, 604_800_001]),
    (
        "temp expectedDuration",
        TEMP,
        ("expectedDuration",),
        [3_600_000, 3_600_001, 604_799_999, 604_800_000],
        [3_599_999],
    ),
    ("temp suppressed rate", TEMP, ("suppressed", "rate"), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    # basal suspend
    ("suspend duration", SUSPEND, ("duration",), [0, 1, 604_799_999, 604_800_000], [-1, 604_800_001]),
    (
        "suspend expectedDuration",
        SUSPEND,
        ("expectedDuration",),
        [3_600_000, 3_600_001, 604_799_999, 604_800_000],
        [3_599_999],
    ),
    ("suspend suppressed rate", SUSPEND, ("suppressed", "rate"), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    # basal automated
    ("automated basal rate", AUTOMATED_BASAL, ("rate",), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    (
        "automated basal duration",
        AUTOMATED_BASAL,
        ("duration",),
        [0, 1, 604_799_999, 604_800_000],
        [-1, 604_800_001],
    ),
    (
        "automated basal expectedDuration",
        AUTOMATED_BASAL,
        ("expectedDuration",),
        [300_000, 300_001, 604_799_999, 604_800_000],
        [299_999],
    ),
    # bolus normal, square and dual/square (platform NormalFields / ExtendedFields): each expected value
    # has the whole range, and bounds the delivered value when given (the error at the delivered value).
    ("normal normal", NORMAL, ("normal",), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    ("normal normal (bounded)", put(NORMAL, ("expectedNormal",), 5), ("normal",), [0, 4.9, 5], [-0.1, 5.1]),
    ("normal expectedNormal", NORMAL, ("expectedNormal",), [1, 1.1, 99.9, 100], [-0.1, 100.1]),
    # bolus square (extended)
    ("square extended", SQUARE, ("extended",), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    (
        "square extended (bounded)",
        {**SQUARE, "expectedExtended": 5, "expectedDuration": 3_600_000},
        ("extended",),
        [0, 0.1, 5],
        [-0.1, 5.1],
    ),
    ("square duration", SQUARE, ("duration",), [0, 1, 86_399_999, 86_400_000], [-1, 86_400_001]),
    (
        "square duration (bounded)",
        {**SQUARE, "expectedExtended": 2, "expectedDuration": 7_200_000},
        ("duration",),
        [0, 7_200_000],
        [-1, 7_200_001],
    ),
    (
        "square expectedExtended",
        {**SQUARE, "expectedDuration": 3_600_000},
        ("expectedExtended",),
        [1, 1.1, 99.9, 100],
        [-0.1, 100.1],
    ),
    (
        "square expectedDuration",
        {**SQUARE, "expectedExtended": 2},
        ("expectedDuration",),
        [3_600_000, 3_600_001, 86_399_999, 86_400_000],
        [-1, 86_400_001],
    ),
    # bolus dual/square (combination)
    ("dual normal", DUAL, ("normal",), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    (
        "dual normal (bounded)",
        put(DUAL_STOPPED, ("expectedNormal",), 5),
        ("normal",),
        [0, 0.1, 5],
        [-0.1, 5.1],
    ),
    ("dual expectedNormal", DUAL_STOPPED, ("expectedNormal",), [1, 1.1, 99.9, 100], [-0.1, 100.1]),
    ("dual extended", DUAL, ("extended",), [0, 0.1, 99.9, 100], [-0.1, 100.1]),
    ("dual duration", DUAL, ("duration",), [0, 1, 86_399_999, 86_400_000], [-1, 86_400_001]),
    (
        "dual expectedExtended",
        {**DUAL, "expectedDuration": 3_600_000},
        ("expectedExtended",),
        [1, 1.1, 99.9, 100],
        [-0.1, 100.1],
    ),
    (
        "dual expectedDuration",
        {**DUAL, "expectedExtended": 2},
        ("expectedDuration",),
        [3_600_000, 3_600_001, 86_399_999, 86_400_000],
        [-1, 86_400_001],
    ),
    # bolus automated
    ("automated bolus normal", AUTOMATED_BOLUS, ("normal",), [0.1, 99.9, 100], [-0.1, 100.1]),
    (
        "automated bolus expectedNormal",
        AUTOMATED_BOLUS,
        ("expectedNormal",),
        [1, 1.1, 99.9, 100],
        [0.9],
    ),
    # wizard
    ("wizard bgInput mg/dL", WIZARD_MGDL, ("bgInput",), [0, 0.1, 999.9, 1000], [-0.1, 1000.1]),
    ("wizard bgInput mmol/L", WIZARD_MMOLL, ("bgInput",), [0, 0.1, 54.9, 55], [-0.1, 55.1]),
    (
        "wizard insulinSensitivity mg/dL",
        WIZARD_MGDL,
        ("insulinSensitivity",),
        [0, 0.1, 999.9, 1000],
        [-0.1, 1000.1],
    ),
    (
        "wizard insulinSensitivity mmol/L",
        WIZARD_MMOLL,
        ("insulinSensitivity",),
        [0, 0.1, 54.9, 55],
        [-0.1, 55.1],
    ),
    ("wizard carbInput", WIZARD_MGDL, ("carbInput",), [0, 0.1, 999.9, 1000], [-0.1, 1000.1]),
    ("wizard insulinCarbRatio", WIZARD_MGDL, ("insulinCarbRatio",), [0, 0.1, 249.9, 250], [-0.1, 250.1]),
    ("wizard insulinOnBoard", WIZARD_MGDL, ("insulinOnBoard",), [0, 0.1, 249.9, 250], [-0.1, 250.1]),
    (
        "wizard recommended carb",
        {**WIZARD_MGDL, "recommended": {"carb": 1}},
        ("recommended", "carb"),
        [0, 0.1, 99.9, 100],
        [-0.1, 100.1],
    ),
    (
        "wizard recommended correction",
        {**WIZARD_MGDL, "recommended": {"correction": 1}},
        ("recommended", "correction"),
        [-100, -99.9, 99.9, 100],
        [-100.1, 100.1],
    ),
    (
        "wizard recommended net",
        {**WIZARD_MGDL, "recommended": {"net": 1}},
        ("recommended", "net"),
        [-100, -99.9, 99.9, 100],
        [-100.1, 100.1],
    ),
    (
        "wizard bgTarget target mg/dL",
        {**WIZARD_MGDL, "bgTarget": {"target": 100}},
        ("bgTarget", "target"),
        [0, 0.1, 999.9, 1000],
        [-0.1, 1000.1],
    ),
    (
        "wizard bgTarget target mmol/L",
        {**WIZARD_MMOLL, "bgTarget": {"target": 5.5}},
        ("bgTarget", "target"),
        [0, 0.1, 54.9, 55],
        [-0.1, 55.1],
    ),
    (
        "wizard bgTarget low mg/dL",
        {**WIZARD_MGDL, "bgTarget": {"low": 80, "high": 1000}},
        ("bgTarget", "low"),
        [0, 0.1, 999.9, 1000],
        [-0.1, 1000.1],
    ),
    (
        "wizard bgTarget low mmol/L",
        {**WIZARD_MMOLL, "bgTarget": {"low": 4, "high": 55}},
        ("bgTarget", "low"),
        [0, 0.1, 54.9, 55],
        [-0.1, 55.1],
    ),
    (
        "wizard bgTarget high over low mg/dL",
        {**WIZARD_MGDL, "bgTarget": {"low": 80, "high": 120}},
        ("bgTarget", "high"),
        [80, 80.1, 999.9, 1000],
        [79.9, 1000.1],
    ),
    (
        "wizard bgTarget high over low mmol/L",
        {**WIZARD_MMOLL, "bgTarget": {"low": 4, "high": 8}},
        ("bgTarget", "high"),
        [4, 4.1, 54.9, 55],
        [3.9, 55.1],
    ),
    (
        "wizard bgTarget high over target mg/dL",
        {**WIZARD_MGDL, "bgTarget": {"target": 100, "high": 120}},
        ("bgTarget", "high"),
        [100, 100.1, 999.9, 1000],
        [99.9, 1000.1],
    ),
    (
        "wizard bgTarget range around 100 mg/dL",
        {**WIZARD_MGDL, "bgTarget": {"target": 100, "range": 10}},
        ("bgTarget", "range"),
        [0, 0.1, 99.9, 100],
        [-0.1, 100.1],
    ),
    (
        "wizard bgTarget range around 900 mg/dL",
        {**WIZARD_MGDL, "bgTarget": {"target": 900, "range": 10}},
        ("bgTarget", "range"),
        [0, 99.9, 100],
        [-0.1, 100.1],
    ),
    (
        "wizard bgTarget range around 5 mmol/L",
        {**WIZARD_MMOLL, "bgTarget": {"target": 5, "range": 1}},
        ("bgTarget", "range"),
        [0, 0.1, 4.9, 5],
        [-0.1, 5.1],
    ),
    (
        "wizard bgTarget range around 50 mmol/L",
        {**WIZARD_MMOLL, "bgTarget": {"target": 50, "range": 1}},
        ("bgTarget", "range"),
        [0, 4.9, 5],
        [-0.1, 5.1],
    ),
    # food
    *[
        (
            f"food carbohydrate {key}",
            FOOD,
            ("nutrition", "carbohydrate", key),
            [0, 0.1, 999.9, 1000],
            [-0.1, 1000.1],
        )
        for key in ("net", "total", "sugars", "dietaryFiber")
    ],
    ("food fat total", FOOD, ("nutrition", "fat", "total"), [0, 0.1, 999.9, 1000], [-0.1, 1000.1]),
    ("food protein total", FOOD, ("nutrition", "protein", "total"), [0, 0.1, 999.9, 1000], [-0.1, 1000.1]),
    (
        "food estimatedAbsorptionDuration",
        FOOD,
        ("nutrition", "estimatedAbsorptionDuration"),
        [0, 1, 86_399, 86_400],
        [-1, 86_401],
    ),
    ("food amount value", FOOD, ("amount", "value"), [0, 0.1, 1_000_000], [-0.1]),
    (
        "food ingredient carbohydrate net",
        FOOD,
        ("ingredients", 0, "nutrition", "carbohydrate", "net"),
        [0, 1000],
        [-0.1, 1000.1],
    ),
    # insulin
    ("insulin dose total", INSULIN, ("dose", "total"), [0, 0.1, 249.9, 250], [-0.1, 250.1]),
    ("insulin dose food", INSULIN, ("dose", "food"), [0, 0.1, 249.9, 250], [-0.1, 250.1]),
    ("insulin dose active", INSULIN, ("dose", "active"), [0, 0.1, 249.9, 250], [-0.1, 250.1]),
    ("insulin dose correction", INSULIN, ("dose", "correction"), [-250, -249.9, 249.9, 250], [-250.1, 250.1]),
    (
        "insulin concentration",
        INSULIN,
        ("formulation", "simple", "concentration", "value"),
        [0, 0.1, 9999.9, 10_000],
        [-0.1, 10_000.1],
    ),
    (
        "insulin compound amount",
        INSULIN_COMPOUND,
        ("formulation", "compounds", 0, "amount"),
        [0, 0.1, 1000],
        [-0.1],
    ),
    # water
    *[
        (f"water {units}", put(WATER, ("amount", "units"), units), ("amount", "value"), valid, invalid)
        for units, valid, invalid in [
            ("gallons", [0, 0.1, 9.9, 10], [-0.1, 10.1]),
            ("liters", [0, 0.1, 37.854, 37.854118], [-0.1, 37.854119]),
            ("milliliters", [0, 0.1, 37_854.117, 37_854.118], [-0.1, 37_854.119]),
            ("ounces", [0, 0.1, 1279.9, 1280], [-0.1, 1280.1]),
        ]
    ],
    # physicalActivity
    *[
        (
            f"physical duration {units}",
            put(PHYSICAL, ("duration", "units"), units),
            ("duration", "value"),
            v,
            i,
        )
        for units, v, i in [
            ("hours", [0, 0.1, 167.9, 168], [-0.1, 168.1]),
            ("minutes", [0, 0.1, 10_079.9, 10_080], [-0.1, 10_080.1]),
            ("seconds", [0, 0.1, 604_799.9, 604_800], [-0.1, 604_800.1]),
        ]
    ],
    *[
        (
            f"physical distance {units}",
            put(PHYSICAL, ("distance", "units"), units),
            ("distance", "value"),
            v,
            i,
        )
        for units, v, i in [
            ("feet", [0, 0.1, 527_999.9, 528_000], [-0.1, 528_000.1]),
            ("kilometers", [0, 0.1, 160.9343, 160.9344], [-0.1, 160.9345]),
            ("meters", [0, 0.1, 160_934.3, 160_934.4], [-0.1, 160_934.5]),
            ("miles", [0, 0.1, 99.9, 100], [-0.1, 100.1]),
            ("yards", [0, 0.1, 175_999.9, 176_000], [-0.1, 176_000.1]),
        ]
    ],
    *[
        (
            f"physical elevationChange {units}",
            put(PHYSICAL, ("elevationChange", "units"), units),
            ("elevationChange", "value"),
            v,
            i,
        )
        for units, v, i in [
            ("feet", [0, 0.1, 52_799.9, 52_800], [-0.1, 52_800.1]),
            ("meters", [0, 0.1, 16_093.43, 16_093.44], [-0.1, 16_093.45]),
        ]
    ],
    *[
        (f"{name} energy {units}", put(base, (*where, "units"), units), (*where, "value"), v, i)
        for name, base, where in [
            ("physical", PHYSICAL, ("energy",)),
            ("food", FOOD, ("nutrition", "energy")),
        ]
        for units, v, i in [
            ("calories", [0, 0.1, 9_999_999.9, 10_000_000], [-0.1, 10_000_000.1]),
            ("joules", [0, 0.1, 41_857_999.9, 41_858_000], [-0.1, 41_858_000.1]),
            ("kilocalories", [0, 0.1, 9999.9, 10_000], [-0.1, 10_000.1]),
            ("kilojoules", [0, 0.1, 41_857.9, 41_858], [-0.1, 41_858.1]),
        ]
    ],
    ("physical flight count", PHYSICAL, ("flight", "count"), [0, 1, 9999, 10_000], [-1, 10_001]),
    ("physical step count", PHYSICAL, ("step", "count"), [0, 1, 99_999, 100_000], [-1, 100_001]),
    ("physical lap count", PHYSICAL, ("lap", "count"), [0, 1, 9999, 10_000], [-1, 10_001]),
    ("physical lap distance", PHYSICAL, ("lap", "distance", "value"), [0, 160_934.4], [-0.1, 160_934.5]),
    # reportedState
    ("reportedState severity", REPORTED, ("states", 0, "severity"), [0, 1, 9, 10], [-1, 11]),
    # alert
    ("alert triggerDelay delayed", ALERT, ("triggerDelay",), [0, 1, 86_399, 86_400], [-1, 86_401]),
    (
        "alert triggerDelay repeating",
        put(ALERT, ("trigger",), "repeating"),
        ("triggerDelay",),
        [0, 1, 86_399, 86_400],
        [-1, 86_401],
    ),
]


def _range_mismatches(
    base: dict[str, Any], path: Path, valid: list[float], invalid: list[float]
) -> list[Any]:
    mismatches: list[Any] = []
    for value in valid:
        got = errors_of(put(base, path, value))
        if got:
            mismatches.append((value, got))
    for value in invalid:
        got = errors_of(put(base, path, value))
        if got != [(OUT, pointer(path))]:
            mismatches.append((value, got))
    return mismatches


@pytest.mark.parametrize(
    ("base", "path", "valid", "invalid"), [pytest.param(b, p, v, i, id=name) for name, b, p, v, i in RANGES]
)
def test_range(base: dict[str, Any], path: Path, valid: list[float], invalid: list[float]) -> None:
    """Both ends and just inside are accepted; just outside is value-out-of-range at the field."""
    assert _range_mismatches(base, path, valid, invalid) == []


@pytest.mark.parametrize(
    ("datum", "detail"),
    [
        (put(CBG_MGDL, ("value",), 1000.1), "value 1000.1 is not between 0 and 1000"),
        (put(CBG_MMOLL, ("value",), 55.1), "value 55.1 is not between 0 and 55"),
        (put(CBG_RATE_MMOLL, ("trendRate",), -5.6), "value -5.6 is not between -5.5 and 5.5"),
        (
            put(SCHEDULED, ("expectedDuration",), 3_599_999),
            "value 3599999 is not between 3600000 and 604800000",
        ),
        (put(WATER, ("amount", "value"), 37.854119), "value 37.854119 is not between 0 and 37.854118"),
        (
            put(put(PHYSICAL, ("energy", "units"), "kilojoules"), ("energy", "value"), 41_858.1),
            "value 41858.1 is not between 0 and 41858",
        ),
        (put(FOOD, ("amount", "value"), -0.1), "value -0.1 is not greater than or equal to 0"),
        (
            put(WIZARD_MGDL, ("bgTarget",), {"target": 900, "range": 100.1}),
            "value 100.1 is not between 0 and 100",
        ),
        (put(WIZARD_MGDL, ("bgTarget",), {"low": 80, "high": 79.9}), "value 79.9 is not between 80 and 1000"),
    ],
)
def test_range_error_detail(datum: dict[str, Any], detail: str) -> None:
    [(code, _, got)] = details_of(datum)
    assert (code, got) == (OUT, detail)


# ---- enums ---------------------------------------------------------------------------------------

ACTIVITY_TYPES = [
    "americanFootball", "archery", "australianFootball", "badminton", "barre", "baseball", "basketball",
    "bowling", "boxing", "climbing", "coreTraining", "cricket", "crossCountrySkiing", "crossTraining",
    "curling", "cycling", "dance", "danceInspiredTraining", "downhillSkiing", "elliptical",
    "equestrianSports", "fencing", "fishing", "flexibility", "functionalStrengthTraining", "golf",
    "gymnastics", "handball", "handCycling", "highIntensityIntervalTraining", "hiking", "hockey",
    "hunting", "jumpRope", "kickboxing", "lacrosse", "martialArts", "mindAndBody", "mixedCardio",
    "mixedMetabolicCardioTraining", "other", "paddleSports", "pilates", "play", "preparationAndRecovery",
    "racquetball", "rowing", "rugby", "running", "sailing", "skatingSports", "snowboarding", "snowSports",
    "soccer", "softball", "squash", "stairClimbing", "stairs", "stepTraining", "surfingSports", "swimming",
    "tableTennis", "taiChi", "tennis", "trackAndField", "traditionalStrengthTraining", "volleyball",
    "walking", "waterFitness", "waterPolo", "waterSports", "wheelchairRunPace", "wheelchairWalkPace",
    "wrestling", "yoga",
]  # fmt: skip
GLUCOSE_UNITS = ["mg/dL", "mg/dl", "mmol/L", "mmol/l"]

# (id, base datum, path, every allowed value, extra fields a value needs)
ENUMS: list[tuple[str, dict[str, Any], Path, list[str], dict[str, dict[str, Any]]]] = [
    (
        "cbg trend",
        CBG_MGDL,
        ("trend",),
        ["constant", "slowFall", "slowRise", "moderateFall", "moderateRise", "rapidFall", "rapidRise"],
        {},
    ),
    ("cbg units", CBG_MMOLL, ("units",), GLUCOSE_UNITS, {}),
    ("cbg trendRateUnits", CBG_RATE_MGDL, ("trendRateUnits",), ["mg/dL/minute", "mmol/L/minute"], {}),
    ("smbg subType", SMBG_MGDL, ("subType",), ["linked", "manual", "scanned"], {}),
    ("smbg units", SMBG_MMOLL, ("units",), GLUCOSE_UNITS, {}),
    ("bloodKetone units", KETONE, ("units",), ["mmol/L", "mmol/l"], {}),
    (
        "bolus deliveryContext",
        NORMAL,
        ("deliveryContext",),
        ["algorithm", "device", "oneButton", "remote", "undetermined", "watch"],
        {},
    ),
    (
        "bolus insulinFormulation actingType",
        put(NORMAL, ("insulinFormulation",), {"simple": {"actingType": "rapid"}}),
        ("insulinFormulation", "simple", "actingType"),
        ["rapid", "short", "intermediate", "long"],
        {},
    ),
    ("wizard units", WIZARD_MMOLL, ("units",), GLUCOSE_UNITS, {}),
    ("wizard carbUnits", WIZARD_MGDL, ("carbUnits",), ["grams", "exchanges"], {}),
    (
        "food meal",
        FOOD,
        ("meal",),
        ["breakfast", "dinner", "lunch", "other", "snack"],
        {"other": {"mealOther": "brunch"}},
    ),
    ("food carbohydrate units", FOOD, ("nutrition", "carbohydrate", "units"), ["grams"], {}),
    ("food fat units", FOOD, ("nutrition", "fat", "units"), ["grams"], {}),
    ("food protein units", FOOD, ("nutrition", "protein", "units"), ["grams"], {}),
    (
        "food energy units",
        FOOD,
        ("nutrition", "energy", "units"),
        ["calories", "joules", "kilocalories", "kilojoules"],
        {},
    ),
    ("insulin dose units", INSULIN, ("dose", "units"), ["Units"], {}),
    (
        "insulin actingType",
        INSULIN,
        ("formulation", "simple", "actingType"),
        ["intermediate", "long", "rapid", "short"],
        {},
    ),
    (
        "insulin concentration units",
        INSULIN,
        ("formulation", "simple", "concentration", "units"),
        ["Units/mL"],
        {},
    ),
    ("water units", WATER, ("amount", "units"), ["gallons", "liters", "milliliters", "ounces"], {}),
    ("physical activityType", PHYSICAL, ("activityType",), ACTIVITY_TYPES, {}),
    ("physical reportedIntensity", PHYSICAL, ("reportedIntensity",), ["high", "low", "medium"], {}),
    ("physical duration units", PHYSICAL, ("duration", "units"), ["hours", "minutes", "seconds"], {}),
    (
        "physical distance units",
        PHYSICAL,
        ("distance", "units"),
        ["feet", "kilometers", "meters", "miles", "yards"],
        {},
    ),
    ("physical elevationChange units", PHYSICAL, ("elevationChange", "units"), ["feet", "meters"], {}),
    (
        "physical energy units",
        PHYSICAL,
        ("energy", "units"),
        ["calories", "joules", "kilocalories", "kilojoules"],
        {},
    ),
    (
        "reportedState state",
        REPORTED,
        ("states", 0, "state"),
        ["alcohol", "cycle", "hyperglycemiaSymptoms", "hypoglycemiaSymptoms", "illness", "other", "stress"],
        {},
    ),
    ("alert priority", ALERT, ("priority",), ["critical", "normal", "timeSensitive"], {}),
    ("alert trigger", ALERT, ("trigger",), ["delayed", "immediate", "repeating"], {}),
    ("alert sound", ALERT, ("sound",), ["name", "silence", "vibrate"], {}),
]


def _with_extras(base: dict[str, Any], path: Path, value: str, extras: dict[str, Any]) -> dict[str, Any]:
    datum = put(base, path, value)
    parent: Any = datum
    for key in path[:-1]:
        parent = parent[key]
    parent.update(copy.deepcopy(extras))
    return datum


# Values whose companions the base must lose or gain (checked separately in the companion tests).
ENUM_FIXUPS: dict[tuple[str, str], tuple[dict[str, Any], tuple[str, ...]]] = {
    ("reportedState state", "other"): ({"stateOther": "jet lag"}, ()),
    ("alert trigger", "immediate"): ({}, ("triggerDelay",)),
    ("alert sound", "name"): ({"soundName": "chime"}, ()),
}


def _enum_datum(
    name: str, base: dict[str, Any], path: Path, value: str, extras: dict[str, Any]
) -> dict[str, Any]:
    add, remove = ENUM_FIXUPS.get((name, value), (extras.get(value, {}), ()))
    datum = _with_extras(base, path, value, add)
    for key in remove:
        datum = drop(datum, (*path[:-1], key))
    return datum


@pytest.mark.parametrize(
    ("name", "base", "path", "values", "extras"), [pytest.param(*row, id=row[0]) for row in ENUMS]
)
def test_enum_accepts_every_value(
    name: str, base: dict[str, Any], path: Path, values: list[str], extras: dict[str, dict[str, Any]]
) -> None:
    rejected = {v: errors_of(_enum_datum(name, base, path, v, extras)) for v in values}
    assert {v: errs for v, errs in rejected.items() if errs} == {}


@pytest.mark.parametrize(
    ("base", "path"), [pytest.param(base, path, id=name) for name, base, path, _, _ in ENUMS]
)
def test_enum_rejects_unknown(base: dict[str, Any], path: Path) -> None:
    datum = put(base, path, "bogus")
    if path == ("trigger",):  # an unknown trigger also refuses the delay; drop it to isolate the enum
        datum = drop(datum, ("triggerDelay",))
    assert errors_of(datum) == [(NOT_ALLOWED, pointer(path))]


def test_enum_detail_lists_allowed_values() -> None:
    [(code, ptr, detail)] = details_of(put(WATER, ("amount", "units"), "cups"))
    assert (code, ptr) == (NOT_ALLOWED, "/0/amount/units")
    assert detail == 'value "cups" is not one of ["gallons", "liters", "milliliters", "ounces"]'


def test_activity_types_are_the_platform_75() -> None:
    assert len(ACTIVITY_TYPES) == 75
    assert len(set(ACTIVITY_TYPES)) == 75


@pytest.mark.parametrize(
    ("datum", "pointer_"),
    [
        (put(SCHEDULED, ("deliveryType",), "bogus"), "/0/deliveryType"),
        (put(NORMAL, ("subType",), "bogus"), "/0/subType"),
        (d("bogus"), "/0/type"),
    ],
)
def test_unknown_type_or_subtype(datum: dict[str, Any], pointer_: str) -> None:
    assert errors_of(datum) == [(NOT_ALLOWED, pointer_)]


# ---- required fields and companion fields --------------------------------------------------------

MISSING_CASES: list[tuple[str, dict[str, Any], Path, list[tuple[str, str]]]] = [
    ("any time", CBG_MGDL, ("time",), [(NOT_EXISTS, "/0/time")]),
    ("any type", CBG_MGDL, ("type",), [(NOT_EXISTS, "/0/type")]),
    ("cbg value", CBG_MGDL, ("value",), [(NOT_EXISTS, "/0/value")]),
    ("cbg units", CBG_MGDL, ("units",), [(NOT_EXISTS, "/0/units")]),
    ("cbg trendRateUnits", CBG_RATE_MGDL, ("trendRateUnits",), [(NOT_EXISTS, "/0/trendRateUnits")]),
    ("smbg value", SMBG_MGDL, ("value",), [(NOT_EXISTS, "/0/value")]),
    ("smbg units", SMBG_MGDL, ("units",), [(NOT_EXISTS, "/0/units")]),
    ("bloodKetone value", KETONE, ("value",), [(NOT_EXISTS, "/0/value")]),
    ("bloodKetone units", KETONE, ("units",), [(NOT_EXISTS, "/0/units")]),
    ("basal deliveryType", SCHEDULED, ("deliveryType",), [(NOT_EXISTS, "/0/deliveryType")]),
    ("scheduled rate", SCHEDULED, ("rate",), [(NOT_EXISTS, "/0/rate")]),
    ("scheduled duration", SCHEDULED, ("duration",), [(NOT_EXISTS, "/0/duration")]),
    ("temp duration", TEMP, ("duration",), [(NOT_EXISTS, "/0/duration")]),
    ("suspend duration", SUSPEND, ("duration",), [(NOT_EXISTS, "/0/duration")]),
    ("automated basal rate", AUTOMATED_BASAL, ("rate",), [(NOT_EXISTS, "/0/rate")]),
    ("automated basal duration", AUTOMATED_BASAL, ("duration",), [(NOT_EXISTS, "/0/duration")]),
    (
        "suppressed deliveryType",
        TEMP,
        ("suppressed", "deliveryType"),
        [(NOT_EXISTS, "/0/suppressed/deliveryType")],
    ),
    ("bolus subType", NORMAL, ("subType",), [(NOT_EXISTS, "/0/subType")]),
    ("normal normal", NORMAL, ("normal",), [(NOT_EXISTS, "/0/normal")]),
    ("square extended", SQUARE, ("extended",), [(NOT_EXISTS, "/0/extended")]),
    ("square duration", SQUARE, ("duration",), [(NOT_EXISTS, "/0/duration")]),
    ("dual normal", DUAL, ("normal",), [(NOT_EXISTS, "/0/normal")]),
    ("dual extended", DUAL, ("extended",), [(NOT_EXISTS, "/0/extended")]),
    ("dual duration", DUAL, ("duration",), [(NOT_EXISTS, "/0/duration")]),
    ("automated bolus normal", AUTOMATED_BOLUS, ("normal",), [(NOT_EXISTS, "/0/normal")]),
    (
        "square expectedDuration with expectedExtended",
        {**SQUARE, "expectedExtended": 2, "expectedDuration": 3_600_000},
        ("expectedDuration",),
        [(NOT_EXISTS, "/0/expectedDuration")],
    ),
    ("wizard units", WIZARD_MGDL, ("units",), [(NOT_EXISTS, "/0/units")]),
    (
        "food carbohydrate net",
        FOOD,
        ("nutrition", "carbohydrate", "net"),
        [(NOT_EXISTS, "/0/nutrition/carbohydrate/net")],
    ),
    (
        "food carbohydrate units",
        FOOD,
        ("nutrition", "carbohydrate", "units"),
        [(NOT_EXISTS, "/0/nutrition/carbohydrate/units")],
    ),
    ("food fat total", FOOD, ("nutrition", "fat", "total"), [(NOT_EXISTS, "/0/nutrition/fat/total")]),
    (
        "food protein units",
        FOOD,
        ("nutrition", "protein", "units"),
        [(NOT_EXISTS, "/0/nutrition/protein/units")],
    ),
    (
        "food energy value",
        FOOD,
        ("nutrition", "energy", "value"),
        [(NOT_EXISTS, "/0/nutrition/energy/value")],
    ),
    ("food amount units", FOOD, ("amount", "units"), [(NOT_EXISTS, "/0/amount/units")]),
    ("food amount value", FOOD, ("amount", "value"), [(NOT_EXISTS, "/0/amount/value")]),
    ("insulin dose total", INSULIN, ("dose", "total"), [(NOT_EXISTS, "/0/dose/total")]),
    ("insulin dose units", INSULIN, ("dose", "units"), [(NOT_EXISTS, "/0/dose/units")]),
    (
        "insulin actingType",
        INSULIN,
        ("formulation", "simple", "actingType"),
        [(NOT_EXISTS, "/0/formulation/simple/actingType")],
    ),
    (
        "insulin concentration value",
        INSULIN,
        ("formulation", "simple", "concentration", "value"),
        [(NOT_EXISTS, "/0/formulation/simple/concentration/value")],
    ),
    (
        "insulin formulation needs simple, compounds or name",
        INSULIN,
        ("formulation", "simple"),
        [(NOT_EXISTS, "/0/formulation/simple")],
    ),
    (
        "insulin compound amount",
        INSULIN_COMPOUND,
        ("formulation", "compounds", 0, "amount"),
        [(NOT_EXISTS, "/0/formulation/compounds/0/amount")],
    ),
    (
        "insulin compound formulation",
        INSULIN_COMPOUND,
        ("formulation", "compounds", 1, "formulation"),
        [(NOT_EXISTS, "/0/formulation/compounds/1/formulation")],
    ),
    ("water amount", WATER, ("amount",), [(NOT_EXISTS, "/0/amount")]),
    ("water amount units", WATER, ("amount", "units"), [(NOT_EXISTS, "/0/amount/units")]),
    ("water amount value", WATER, ("amount", "value"), [(NOT_EXISTS, "/0/amount/value")]),
    ("physical flight count", PHYSICAL, ("flight", "count"), [(NOT_EXISTS, "/0/flight/count")]),
    ("physical step count", PHYSICAL, ("step", "count"), [(NOT_EXISTS, "/0/step/count")]),
    ("physical lap count", PHYSICAL, ("lap", "count"), [(NOT_EXISTS, "/0/lap/count")]),
    ("physical lap distance", PHYSICAL, ("lap", "distance"), [(NOT_EXISTS, "/0/lap/distance")]),
    ("physical duration units", PHYSICAL, ("duration", "units"), [(NOT_EXISTS, "/0/duration/units")]),
    (
        "physical duration with guid",
        {**PHYSICAL, "guid": "0d5b0fb3-3a3b-4b7c-9f0e-1c2d3e4f5a6b"},
        ("duration",),
        [(NOT_EXISTS, "/0/duration")],
    ),
    ("reportedState state", REPORTED, ("states", 0, "state"), [(NOT_EXISTS, "/0/states/0/state")]),
    ("alert name", ALERT, ("name",), [(NOT_EXISTS, "/0/name")]),
    ("alert issuedTime", ALERT, ("issuedTime",), [(NOT_EXISTS, "/0/issuedTime")]),
    ("alert triggerDelay when delayed", ALERT, ("triggerDelay",), [(NOT_EXISTS, "/0/triggerDelay")]),
]


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [pytest.param(base, path, expected, id=name) for name, base, path, expected in MISSING_CASES],
)
def test_required_field_missing(base: dict[str, Any], path: Path, expected: list[tuple[str, str]]) -> None:
    assert errors_of(drop(base, path)) == expected


@pytest.mark.parametrize(
    ("datum", "expected"),
    [
        pytest.param({**FOOD, "meal": "other"}, [(NOT_EXISTS, "/0/mealOther")], id="mealOther missing"),
        pytest.param(
            {**FOOD, "meal": "other", "mealOther": ""}, [(EMPTY, "/0/mealOther")], id="mealOther empty"
        ),
        pytest.param({**FOOD, "meal": "other", "mealOther": "x" * 100}, [], id="mealOther 100"),
        pytest.param(
            {**FOOD, "meal": "other", "mealOther": "x" * 101}, [(LENGTH, "/0/mealOther")], id="mealOther 101"
        ),
        pytest.param({**FOOD, "mealOther": "brunch"}, [(EXISTS, "/0/mealOther")], id="mealOther not other"),
        pytest.param({**PHYSICAL, "activityType": "other"}, [], id="activityTypeOther optional"),
        pytest.param(
            {**PHYSICAL, "activityType": "other", "activityTypeOther": "x" * 100},
            [],
            id="activityTypeOther 100",
        ),
        pytest.param(
            {**PHYSICAL, "activityType": "other", "activityTypeOther": "x" * 101},
            [(LENGTH, "/0/activityTypeOther")],
            id="activityTypeOther 101",
        ),
        pytest.param(
            {**PHYSICAL, "activityType": "other", "activityTypeOther": ""},
            [(EMPTY, "/0/activityTypeOther")],
            id="activityTypeOther empty",
        ),
        pytest.param(
            {**PHYSICAL, "activityTypeOther": "parkour"},
            [(EXISTS, "/0/activityTypeOther")],
            id="activityTypeOther",
        ),
        pytest.param(
            put(REPORTED, ("states", 0), {"state": "other"}),
            [(NOT_EXISTS, "/0/states/0/stateOther")],
            id="stateOther missing",
        ),
        pytest.param(
            put(REPORTED, ("states", 0), {"state": "other", "stateOther": "x" * 100}), [], id="stateOther 100"
        ),
        pytest.param(
            put(REPORTED, ("states", 0), {"state": "other", "stateOther": "x" * 101}),
            [(LENGTH, "/0/states/0/stateOther")],
            id="stateOther 101",
        ),
        pytest.param(
            put(REPORTED, ("states", 0), {"state": "stress", "stateOther": "exams"}),
            [(EXISTS, "/0/states/0/stateOther")],
            id="stateOther not other",
        ),
        pytest.param(
            {**ALERT, "trigger": "immediate"}, [(EXISTS, "/0/triggerDelay")], id="triggerDelay immediate"
        ),
        pytest.param(drop(ALERT, ("trigger",)), [(EXISTS, "/0/triggerDelay")], id="triggerDelay no trigger"),
        pytest.param({**ALERT, "sound": "name"}, [(NOT_EXISTS, "/0/soundName")], id="soundName missing"),
        pytest.param(
            {**ALERT, "sound": "name", "soundName": ""}, [(EMPTY, "/0/soundName")], id="soundName empty"
        ),
        pytest.param({**ALERT, "sound": "name", "soundName": "x" * 100}, [], id="soundName 100"),
        pytest.param(
            {**ALERT, "sound": "name", "soundName": "x" * 101}, [(LENGTH, "/0/soundName")], id="soundName 101"
        ),
        pytest.param({**ALERT, "soundName": "chime"}, [(EXISTS, "/0/soundName")], id="soundName vibrate"),
        pytest.param(
            put(INSULIN_COMPOUND, ("formulation", "simple"), {"actingType": "rapid"}),
            [(EXISTS, "/0/formulation/compounds")],
            id="compounds with simple",
        ),
        pytest.param(put(INSULIN, ("formulation",), {"name": "Afrezza"}), [], id="formulation name only"),
        # continuous.go: trendRateUnits NotExists() without a trendRate.
        pytest.param(
            drop(CBG_RATE_MGDL, ("trendRate",)), [(EXISTS, "/0/trendRateUnits")], id="trendRateUnits alone"
        ),
        pytest.param(
            put(CBG_RATE_MGDL, ("trendRate",), "fast"),
            [("type-not-float64", "/0/trendRate"), (EXISTS, "/0/trendRateUnits")],
            id="trendRateUnits with a mistyped trendRate",
        ),
    ],
)
def test_companion_fields(datum: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(datum) == expected


_DATUM_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("association", "expected"),
    [
        pytest.param({"type": "datum", "id": _DATUM_ID}, [], id="datum"),
        pytest.param({"type": "url", "url": "https://example.org/a"}, [], id="url"),
        pytest.param({"type": "datum"}, [(NOT_EXISTS, "/0/associations/0/id")], id="datum without id"),
        pytest.param(
            {"type": "datum", "id": "not-an-id"},
            [("value-not-valid", "/0/associations/0/id")],
            id="datum bad id",
        ),
        pytest.param(
            {"type": "datum", "id": _DATUM_ID, "url": "https://example.org"},
            [(EXISTS, "/0/associations/0/url")],
            id="datum with url",
        ),
        pytest.param({"type": "url"}, [(NOT_EXISTS, "/0/associations/0/url")], id="url without url"),
        pytest.param(
            {"type": "url", "url": "https://example.org", "id": _DATUM_ID},
            [(EXISTS, "/0/associations/0/id")],
            id="url with id",
        ),
        pytest.param(
            {"type": "url", "url": "example.org/a"},
            [("value-not-valid", "/0/associations/0/url")],
            id="url relative",
        ),
    ],
)
def test_association_fields(association: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """common/association/association.go: id and url by association type."""
    assert errors_of({**CBG_MGDL, "associations": [association]}) == expected


GPS = {"latitude": {"units": "degrees", "value": 45.5}, "longitude": {"units": "degrees", "value": -122.6}}


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param({"name": "Home"}, [], id="name"),
        pytest.param({"gps": GPS}, [], id="gps"),
        pytest.param({}, [(NOT_EXISTS, "/0/location/gps")], id="neither"),
    ],
)
def test_location_needs_gps_or_name(location: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """common/location/location.go: a location without a name needs gps."""
    assert errors_of({**CBG_MGDL, "location": location}) == expected


FEET_10000_M = 32808.39895013123  # 10000 / 0.3048, as Go's constant arithmetic rounds it
OUT = "value-out-of-range"


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        pytest.param(GPS, [], id="latitude and longitude"),
        pytest.param(
            {
                **GPS,
                "elevation": {"units": "feet", "value": FEET_10000_M},
                "floor": -1000,
                "horizontalAccuracy": {"units": "meters", "value": 1000},
                "verticalAccuracy": {"units": "feet", "value": 0},
                "origin": {"name": "phone"},
            },
            [],
            id="every field at its limit",
        ),
        pytest.param(
            {"latitude": GPS["latitude"]}, [(NOT_EXISTS, "/0/location/gps/longitude")], id="no longitude"
        ),
        pytest.param(
            {**GPS, "latitude": {"units": "radians", "value": 90.1}},
            [(OUT, "/0/location/gps/latitude/units"), (OUT, "/0/location/gps/latitude/value")],
            id="latitude units and range",
        ),
        pytest.param(
            {**GPS, "longitude": {"units": "degrees", "value": -180.5}},
            [(OUT, "/0/location/gps/longitude/value")],
            id="longitude range",
        ),
        pytest.param(
            {**GPS, "elevation": {"units": "meters", "value": 10000.5}},
            [(OUT, "/0/location/gps/elevation/value")],
            id="elevation over 10 km",
        ),
        pytest.param({**GPS, "floor": 1001}, [(OUT, "/0/location/gps/floor")], id="floor"),
        pytest.param(
            {**GPS, "horizontalAccuracy": {"units": "yards", "value": 1}},
            [("value-not-allowed", "/0/location/gps/horizontalAccuracy/units")],
            id="accuracy units",
        ),
        pytest.param({**GPS, "heading": 5}, [("not-parsed", "/0/location/gps/heading")], id="unknown field"),
    ],
)
def test_location_gps(gps: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """common/location/gps.go and its parts: the gps object is checked, not kept as sent."""
    assert errors_of({**CBG_MGDL, "location": {"gps": gps}}) == expected


@pytest.mark.parametrize("key", ["tags", "associations", "annotations"])
def test_empty_common_arrays_are_refused(key: str) -> None:
    """data/types/base.go: tags (NotEmpty), associations and annotations (their arrays' Validate) report
    an empty array as ``value-empty``."""
    assert errors_of({**CBG_MGDL, key: []}) == [("value-empty", f"/0/{key}")]


def test_empty_notes_are_accepted() -> None:
    """base.go sets an empty ``notes`` to nil before validating it (Dexcom's fetch sent empty notes)."""
    assert errors_of({**CBG_MGDL, "notes": []}) == []


@pytest.mark.parametrize(
    ("source", "expected"), [("carelink", []), ("medtronic", [(OUT, "/0/source")])], ids=["carelink", "other"]
)
def test_source_is_carelink_only(source: str, expected: list[tuple[str, str]]) -> None:
    """base.go: ``source`` EqualTo "carelink" (before, any ``source`` was refused as not parsed)."""
    assert errors_of({**CBG_MGDL, "source": source}) == expected


def test_location_units_detail() -> None:
    datum = {**CBG_MGDL, "location": {"gps": {**GPS, "latitude": {"units": "radians", "value": 1}}}}
    assert details_of(datum) == [
        (OUT, "/0/location/gps/latitude/units", 'value "radians" is not equal to "degrees"'),
    ]


BG_TARGET_CASES = [
    ({"target": 100}, []),
    ({"target": 100, "range": 10}, []),
    ({"target": 100, "high": 120}, []),
    ({"low": 80, "high": 120}, []),
    ({}, [(NOT_EXISTS, "/0/bgTarget/target")]),
    ({"high": 120}, [(NOT_EXISTS, "/0/bgTarget/target")]),
    ({"range": 10}, [(NOT_EXISTS, "/0/bgTarget/target")]),
    ({"low": 80}, [(NOT_EXISTS, "/0/bgTarget/high")]),
    ({"target": 100, "range": 10, "low": 80}, [(EXISTS, "/0/bgTarget/low")]),
    ({"target": 100, "range": 10, "high": 120}, [(EXISTS, "/0/bgTarget/high")]),
    ({"target": 100, "high": 120, "low": 80}, [(EXISTS, "/0/bgTarget/low")]),
    ({"target": 100, "low": 80}, [(EXISTS, "/0/bgTarget/low")]),
    ({"low": 80, "high": 120, "range": 10}, [(EXISTS, "/0/bgTarget/range")]),
    ({"target": 100, "bogus": 1}, [(NOT_PARSED, "/0/bgTarget/bogus")]),
]


@pytest.mark.parametrize(
    ("target", "expected"), [pytest.param(t, x, id=str(sorted(t))) for t, x in BG_TARGET_CASES]
)
def test_wizard_bg_target_shapes(target: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of({**WIZARD_MGDL, "bgTarget": target}) == expected


# ---- strings, arrays and nesting ------------------------------------------------------------------

# (id, base datum, path, longest allowed length)
LENGTHS: list[tuple[str, dict[str, Any], Path, int]] = [
    ("automated basal scheduleName", AUTOMATED_BASAL, ("scheduleName",), 1000),
    ("food name", FOOD, ("name",), 100),
    ("food brand", FOOD, ("brand",), 100),
    ("food code", FOOD, ("code",), 100),
    ("food amount units", FOOD, ("amount", "units"), 100),
    ("food ingredient name", FOOD, ("ingredients", 0, "name"), 100),
    ("insulin site", INSULIN, ("site",), 100),
    ("insulin brand", INSULIN, ("formulation", "simple", "brand"), 100),
    ("insulin formulation name", INSULIN, ("formulation", "name"), 100),
    ("physical name", PHYSICAL, ("name",), 100),
    ("alert name", ALERT, ("name",), 100),
]


@pytest.mark.parametrize(
    ("base", "path", "longest"), [pytest.param(b, p, n, id=name) for name, b, p, n in LENGTHS]
)
def test_string_lengths(base: dict[str, Any], path: Path, longest: int) -> None:
    assert errors_of(put(base, path, "x" * longest)) == []
    assert errors_of(put(base, path, "x" * (longest + 1))) == [(LENGTH, pointer(path))]
    assert errors_of(put(base, path, "")) == [(EMPTY, pointer(path))]


def test_string_length_detail() -> None:
    [(_, _, detail)] = details_of(put(FOOD, ("name",), "x" * 101))
    assert detail == "length 101 is not less than or equal to 100"


INGREDIENT = {"name": "flour"}


@pytest.mark.parametrize(
    ("datum", "expected"),
    [
        pytest.param(put(FOOD, ("ingredients",), []), [(EMPTY, "/0/ingredients")], id="ingredients empty"),
        pytest.param(put(FOOD, ("ingredients",), [INGREDIENT] * 100), [], id="ingredients 100"),
        pytest.param(put(FOOD, ("ingredients",), [INGREDIENT] * 101), [(LENGTH, "/0/ingredients")], id="101"),
        pytest.param(
            put(FOOD, ("ingredients",), [{"name": "dough", "ingredients": [INGREDIENT, {"name": ""}]}]),
            [(EMPTY, "/0/ingredients/0/ingredients/1/name")],
            id="nested ingredient",
        ),
        pytest.param(
            put(INSULIN_COMPOUND, ("formulation", "compounds"), []),
            [(EMPTY, "/0/formulation/compounds")],
            id="compounds empty",
        ),
        pytest.param(
            put(
                INSULIN_COMPOUND,
                ("formulation", "compounds"),
                [{"amount": 1, "formulation": {"simple": {"actingType": "rapid"}}}] * 101,
            ),
            [(LENGTH, "/0/formulation/compounds")],
            id="compounds 101",
        ),
        pytest.param(put(REPORTED, ("states",), []), [], id="states empty"),
        pytest.param(
            put(REPORTED, ("states",), [{"state": "illness"}, {"state": "bogus"}]),
            [(NOT_ALLOWED, "/0/states/1/state")],
            id="second state",
        ),
    ],
)
def test_arrays(datum: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(datum) == expected


def _nested_ingredients(levels: int) -> list[dict[str, Any]]:
    item: dict[str, Any] = {"name": "leaf"}
    for _ in range(levels - 1):
        item = {"name": "layer", "ingredients": [item]}
    return [item]


def test_ingredients_nest_eight_levels_and_no_deeper() -> None:
    assert errors_of(put(FOOD, ("ingredients",), _nested_ingredients(8))) == []
    deep = "/0" + "/ingredients/0" * 8 + "/ingredients"
    assert errors_of(put(FOOD, ("ingredients",), _nested_ingredients(9))) == [(NOT_PARSED, deep)]


def test_absorption_duration_uses_the_current_name() -> None:
    datum = put(FOOD, ("nutrition", "absorptionDuration"), 10_800)
    assert errors_of(datum) == [(NOT_PARSED, "/0/nutrition/absorptionDuration")]


# ---- JSON types ------------------------------------------------------------------------------------

TYPE_CASES: list[tuple[str, dict[str, Any], Path, Any, str]] = [
    ("cbg value string", CBG_MGDL, ("value",), "100", "type-not-float64"),
    ("cbg value bool", CBG_MGDL, ("value",), True, "type-not-float64"),
    ("cbg units number", CBG_MGDL, ("units",), 5, "type-not-string"),
    ("cbg trend number", CBG_MGDL, ("trend",), 1, "type-not-string"),
    ("cbg sampleInterval fraction", CBG_MGDL, ("sampleInterval",), 1.5, "type-not-int"),
    ("cbg backfilled string", CBG_MGDL, ("backfilled",), "yes", "type-not-bool"),
    ("smbg value null", SMBG_MGDL, ("value",), None, "type-not-float64"),
    ("bloodKetone value string", KETONE, ("value",), "1", "type-not-float64"),
    ("basal rate string", SCHEDULED, ("rate",), "1", "type-not-float64"),
    ("basal duration fraction", SCHEDULED, ("duration",), 1.5, "type-not-int"),
    ("basal suppressed array", TEMP, ("suppressed",), [], "type-not-object"),
    ("bolus normal string", NORMAL, ("normal",), "1", "type-not-float64"),
    ("bolus duration string", SQUARE, ("duration",), "1", "type-not-int"),
    ("wizard bgInput string", WIZARD_MGDL, ("bgInput",), "100", "type-not-float64"),
    ("wizard bgTarget array", WIZARD_MGDL, ("bgTarget",), [], "type-not-object"),
    (
        "wizard bgTarget member string",
        {**WIZARD_MGDL, "bgTarget": {"target": 1}},
        ("bgTarget", "target"),
        "1",
        "type-not-float64",
    ),
    ("wizard recommended string", WIZARD_MGDL, ("recommended",), "x", "type-not-object"),
    ("wizard bolus number", WIZARD_MGDL, ("bolus",), 5, "type-not-object"),
    ("wizard carbUnits number", WIZARD_MGDL, ("carbUnits",), 1, "type-not-string"),
    ("food nutrition array", FOOD, ("nutrition",), [], "type-not-object"),
    ("food ingredients object", FOOD, ("ingredients",), {}, "type-not-array"),
    ("food ingredient string", FOOD, ("ingredients", 0), "flour", "type-not-object"),
    ("food absorption fraction", FOOD, ("nutrition", "estimatedAbsorptionDuration"), 1.5, "type-not-int"),
    ("food meal number", FOOD, ("meal",), 1, "type-not-string"),
    ("insulin site number", INSULIN, ("site",), 5, "type-not-string"),
    ("insulin dose total string", INSULIN, ("dose", "total"), "5", "type-not-float64"),
    ("insulin compounds object", INSULIN_COMPOUND, ("formulation", "compounds"), {}, "type-not-array"),
    ("water amount value string", WATER, ("amount", "value"), "1", "type-not-float64"),
    ("water amount string", WATER, ("amount",), "1 l", "type-not-object"),
    ("physical aggregate string", PHYSICAL, ("aggregate",), "true", "type-not-bool"),
    ("physical step count fraction", PHYSICAL, ("step", "count"), 1.5, "type-not-int"),
    ("physical inputTime number", PHYSICAL, ("inputTime",), 5, "type-not-string"),
    ("reportedState states object", REPORTED, ("states",), {}, "type-not-array"),
    ("reportedState severity fraction", REPORTED, ("states", 0, "severity"), 1.5, "type-not-int"),
    ("alert triggerDelay fraction", ALERT, ("triggerDelay",), 1.5, "type-not-int"),
    ("alert issuedTime number", ALERT, ("issuedTime",), 5, "type-not-string"),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "code"), [pytest.param(b, p, v, c, id=name) for name, b, p, v, c in TYPE_CASES]
)
def test_wrong_json_type(base: dict[str, Any], path: Path, value: Any, code: str) -> None:
    assert errors_of(put(base, path, value)) == [(code, pointer(path))]


def test_type_error_detail() -> None:
    [(_, _, detail)] = details_of(put(CBG_MGDL, ("value",), "100"))
    assert detail == "type is not float64, but string"


def test_integral_float_accepted_for_int_fields() -> None:
    assert errors_of(put(SCHEDULED, ("duration",), 3_600_000.0)) == []
    assert errors_of(put(PHYSICAL, ("step", "count"), 6000.0)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("issuedTime",), "yesterday"),
        (("issuedTime",), "2024-03-01T12:00:00"),  # no zone
        (("acknowledgedTime",), "2024-03-01"),
    ],
)
def test_alert_time_not_valid(path: Path, value: str) -> None:
    assert errors_of(put(ALERT, path, value)) == [("value-not-valid", pointer(path))]


@pytest.mark.parametrize(
    ("datum", "expected"),
    [
        pytest.param(
            put(ALERT, ("acknowledgedTime",), "2024-03-01T12:00:00Z"),
            [("value-not-after", "/0/acknowledgedTime")],
            id="acknowledged at issue",
        ),
        pytest.param(
            put(ALERT, ("retractedTime",), "2024-03-01T11:59:59Z"),
            [("value-not-after", "/0/retractedTime")],
            id="retracted before issue",
        ),
        pytest.param(put(ALERT, ("acknowledgedTime",), "2024-03-01T12:00:00.001Z"), [], id="1 ms after"),
        pytest.param(
            put(ALERT, ("issuedTime",), "0001-01-01T00:00:00Z") | {"acknowledgedTime": T, "retractedTime": T},
            [("value-zero", "/0/issuedTime")],
            id="zero issuedTime",
        ),
    ],
)
def test_alert_times(datum: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(datum) == expected


def test_alert_parameters_kept_as_sent() -> None:
    """The platform's alert has ``parameters`` (``metadata.Metadata``): a free-form object."""
    parameters = {"threshold": 55, "units": "mg/dL", "nested": {"snooze": [15, 30]}}
    datum = put(ALERT, ("parameters",), parameters)
    assert errors_of(datum) == []
    [parsed] = parse_data([datum]).datums
    assert parsed.doc["parameters"] == parameters
    assert errors_of(put(ALERT, ("parameters",), [1])) == [("type-not-object", "/0/parameters")]


def test_alert_not_after_detail() -> None:
    datum = put(ALERT, ("acknowledgedTime",), "2024-03-01T07:00:00-05:00")
    assert details_of(datum) == [
        (
            "value-not-after",
            "/0/acknowledgedTime",
            'value "2024-03-01T07:00:00-05:00" is not after "2024-03-01T12:00:00Z"',
        )
    ]


@pytest.mark.parametrize(
    ("base", "key"),
    [
        (WIZARD_MGDL, "bolusId"),
        (FOOD, "carbs"),
        (WATER, "volume"),
        (PHYSICAL, "calories"),
        (ALERT, "_active"),
    ],
)
def test_unknown_field_not_parsed(base: dict[str, Any], key: str) -> None:
    assert errors_of({**base, key: 1}) == [(NOT_PARSED, f"/0/{key}")]


# ---- normalization ---------------------------------------------------------------------------------


def docs_of(*datums: dict[str, Any]) -> list[dict[str, Any]]:
    result = parse_data(list(datums))
    assert result.errors == []
    return [x.doc for x in result.datums]


@pytest.mark.parametrize(
    ("mgdl", "mmoll"),
    [(54, 2.9974), (70, 3.88552), (140, 7.77105), (180, 9.99135), (250, 13.87687), (400, 22.20299)],
)
def test_wizard_glucose_stored_in_mmoll(mgdl: float, mmoll: float) -> None:
    [doc] = docs_of(
        {**WIZARD_MGDL, "bgInput": mgdl, "insulinSensitivity": mgdl, "bgTarget": {"target": mgdl}}
    )
    assert doc["units"] == "mmol/L"
    assert doc["bgInput"] == mmoll
    assert doc["insulinSensitivity"] == mmoll
    assert doc["bgTarget"] == {"target": mmoll}


def test_wizard_normalization_whole_record() -> None:
    [doc] = docs_of(
        {
            **WIZARD_MGDL,
            "units": "mg/dl",
            "bgInput": 180,
            "insulinSensitivity": 54,
            "bgTarget": {"low": 70, "high": 140},
            "carbInput": 45,
            "carbUnits": "grams",
            "insulinCarbRatio": 15,
            "insulinOnBoard": 0.5,
            "recommended": {"carb": 3, "correction": 1.5, "net": 4},
        }
    )
    assert doc["units"] == "mmol/L"
    assert doc["bgInput"] == 9.99135
    assert doc["insulinSensitivity"] == 2.9974
    assert doc["bgTarget"] == {"low": 3.88552, "high": 7.77105}
    # not glucose: kept as sent
    assert (doc["carbInput"], doc["insulinCarbRatio"], doc["insulinOnBoard"]) == (45, 15, 0.5)
    assert doc["recommended"] == {"carb": 3, "correction": 1.5, "net": 4}


def test_wizard_mmoll_values_unchanged() -> None:
    [doc] = docs_of({**WIZARD_MMOLL, "units": "mmol/l", "bgTarget": {"target": 5.5, "range": 1}})
    assert (doc["units"], doc["bgInput"], doc["insulinSensitivity"]) == ("mmol/L", 5.5, 2.5)
    assert doc["bgTarget"] == {"target": 5.5, "range": 1}


def test_cbg_and_smbg_stored_in_mmoll() -> None:
    cbg, smbg = docs_of({**CBG_MGDL, "value": 400}, {**SMBG_MGDL, "units": "mg/dl", "value": 54})
    assert (cbg["units"], cbg["value"]) == ("mmol/L", 22.20299)
    assert (smbg["units"], smbg["value"]) == ("mmol/L", 2.9974)


def test_embedded_wizard_bolus_becomes_its_own_datum() -> None:
    wizard = {
        **WIZARD_MGDL,
        "deviceId": "pump-123",
        "timezoneOffset": -300,
        "bolus": {"subType": "normal", "normal": 2.5},
    }
    result = parse_data([wizard])
    assert result.errors == []
    assert [x.type for x in result.datums] == ["wizard", "bolus"]
    wizard_doc, bolus_doc = (x.doc for x in result.datums)
    assert wizard_doc["bolus"] == bolus_doc["id"]
    assert bolus_doc["type"] == "bolus"
    assert bolus_doc["subType"] == "normal"
    assert bolus_doc["normal"] == 2.5
    # inherited from the calculator record
    assert bolus_doc["time"] == "2024-03-01T12:00:00.000Z"
    assert bolus_doc["deviceId"] == "pump-123"
    assert bolus_doc["timezoneOffset"] == -300
    assert result.datums[1].sub_type == "normal"


def test_embedded_bolus_keeps_its_own_time() -> None:
    bolus = {"subType": "square", "extended": 1, "duration": 3_600_000, "time": "2024-03-01T12:01:00Z"}
    _, bolus_doc = docs_of({**WIZARD_MGDL, "bolus": bolus})
    assert bolus_doc["time"] == "2024-03-01T12:01:00.000Z"


def test_embedded_bolus_errors_point_into_the_wizard() -> None:
    datum = {**WIZARD_MGDL, "bolus": {"subType": "normal", "normal": 100.1}}
    assert errors_of(datum) == [(OUT, "/0/bolus/normal")]
    datum = {**WIZARD_MGDL, "bolus": {"normal": 1}}
    assert errors_of(datum) == [(NOT_EXISTS, "/0/bolus/subType")]
    datum = {**WIZARD_MGDL, "bolus": {"type": "basal", "subType": "normal", "normal": 1}}
    assert errors_of(datum) == [(NOT_ALLOWED, "/0/bolus/type")]


def test_wizard_bolus_as_id() -> None:
    bolus_id = "0123456789abcdef0123456789abcdef"
    [doc] = docs_of({**WIZARD_MGDL, "bolus": bolus_id})
    assert doc["bolus"] == bolus_id
    assert errors_of({**WIZARD_MGDL, "bolus": "not-an-id"}) == [("value-not-valid", "/0/bolus")]


def test_times_stored_in_utc() -> None:
    alert, activity = docs_of(
        {**ALERT, "issuedTime": "2024-03-01T07:00:00-05:00", "acknowledgedTime": "2024-03-01T13:05:00+01:00"},
        {**PHYSICAL, "inputTime": "2024-03-01T14:30:00.5+02:00"},
    )
    assert alert["issuedTime"] == "2024-03-01T12:00:00.000Z"
    assert alert["acknowledgedTime"] == "2024-03-01T12:05:00.000Z"
    assert activity["inputTime"] == "2024-03-01T12:30:00.500Z"


def test_lifestyle_types_kept_as_sent() -> None:
    food, insulin, water, activity, state = docs_of(FOOD, INSULIN_COMPOUND, WATER, PHYSICAL, REPORTED)
    assert food["nutrition"] == FOOD["nutrition"]
    assert food["ingredients"] == FOOD["ingredients"]
    assert insulin["formulation"] == INSULIN_COMPOUND["formulation"]
    assert water["amount"] == {"units": "liters", "value": 0.5}
    assert activity["distance"] == {"units": "kilometers", "value": 5}
    assert state["states"] == [{"state": "illness", "severity": 5}]


# ---- several errors at once --------------------------------------------------------------------------


def test_all_errors_of_one_datum_reported() -> None:
    datum = {
        **WIZARD_MGDL,
        "bgInput": 1000.1,
        "carbInput": -1,
        "carbUnits": "cups",
        "recommended": {"carb": 100.1, "net": "x"},
        "bgTarget": {"low": 80},
        "bogus": True,
    }
    assert sorted(errors_of(datum)) == sorted(
        [
            (OUT, "/0/bgInput"),
            (OUT, "/0/carbInput"),
            (NOT_ALLOWED, "/0/carbUnits"),
            (OUT, "/0/recommended/carb"),
            ("type-not-float64", "/0/recommended/net"),
            (NOT_EXISTS, "/0/bgTarget/high"),
            (NOT_PARSED, "/0/bogus"),
        ]
    )


def test_all_errors_of_a_request_reported() -> None:
    request = [
        put(FOOD, ("nutrition", "carbohydrate", "net"), 1000.1),
        CBG_MGDL,
        drop(WATER, ("amount",)),
        put(put(PHYSICAL, ("activityType",), "couchSurfing"), ("step", "count"), 100_001),
        put(REPORTED, ("states", 0, "severity"), 11),
        put(drop(ALERT, ("name",)), ("priority",), "urgent"),
        put(INSULIN, ("dose", "correction"), -250.1),
        put(NORMAL, ("normal",), 100.1),
    ]
    result = parse_data(request)
    assert result.datums == []
    assert sorted((x.code, x.pointer) for x in result.errors) == sorted(
        [
            (OUT, "/0/nutrition/carbohydrate/net"),
            (NOT_EXISTS, "/2/amount"),
            (NOT_ALLOWED, "/3/activityType"),
            (OUT, "/3/step/count"),
            (OUT, "/4/states/0/severity"),
            (NOT_EXISTS, "/5/name"),
            (NOT_ALLOWED, "/5/priority"),
            (OUT, "/6/dose/correction"),
            (OUT, "/7/normal"),
        ]
    )


# ---- platform rules for expected values, suppressed basals and required rates ---------------------------
# Each is the platform's behaviour (data/types/basal/* and data/types/bolus/* Go sources cited).


def test_platform_zero_dose_needs_no_expected_value() -> None:
    """normal.go NormalFields and extended.go ExtendedFields require nothing of a dose of 0 (the older
    form required the expected value; the automated bolus keeps it, below)."""
    assert errors_of(put(NORMAL, ("normal",), 0)) == []
    assert errors_of(put(SQUARE, ("extended",), 0)) == []
    assert errors_of(put(DUAL, ("extended",), 0)) == []
    assert errors_of({**DUAL, "normal": 0, "extended": 0}) == []


def test_platform_delivered_value_bounded_by_expected() -> None:
    """NormalFields / ExtendedFields: the delivered value within 0..expected, the error at the delivered
    value (the older form put it at the expected value, "not between <delivered> and 100")."""
    assert details_of({**NORMAL, "normal": 5, "expectedNormal": 4}) == [
        (OUT, "/0/normal", "value 5 is not between 0 and 4")
    ]
    assert details_of({**SQUARE, "extended": 3, "expectedExtended": 2, "expectedDuration": 3_600_000}) == [
        (OUT, "/0/extended", "value 3 is not between 0 and 2")
    ]
    assert details_of({**SQUARE, "expectedExtended": 2, "expectedDuration": 1_800_000}) == [
        (OUT, "/0/duration", "value 3600000 is not between 0 and 1800000")
    ]
    # combination.go: the extended fields' errors, then the normal fields'.
    assert errors_of(
        {
            **DUAL,
            "normal": 3,
            "expectedNormal": 2,
            "extended": 3,
            "expectedExtended": 2,
            "expectedDuration": 1,
        }
    ) == [(OUT, "/0/duration"), (OUT, "/0/extended"), (OUT, "/0/normal")]


def test_platform_expected_duration_needs_expected_extended() -> None:
    """extended.go: expectedDuration NotExists() unless expectedExtended is given."""
    assert errors_of(put(SQUARE, ("expectedDuration",), 3_600_000)) == [(EXISTS, "/0/expectedDuration")]


def test_platform_single_error_when_normal_out_of_range() -> None:
    """normal.go: with normal itself out of range, expectedNormal is only checked against 0..100."""
    assert errors_of({**NORMAL, "normal": 100.1, "expectedNormal": 100}) == [(OUT, "/0/normal")]


EXPECTED_OVER_MAXIMUM = [
    ("scheduled", SCHEDULED, ("expectedDuration",), 604_800_001),
    ("temp", TEMP, ("expectedDuration",), 604_800_001),
    ("suspend", SUSPEND, ("expectedDuration",), 604_800_001),
    ("automated basal", AUTOMATED_BASAL, ("expectedDuration",), 604_800_001),
    ("normal", NORMAL, ("expectedNormal",), 100.1),
    ("automated bolus", AUTOMATED_BOLUS, ("expectedNormal",), 100.1),
    ("square extended", {**SQUARE, "expectedDuration": 3_600_000}, ("expectedExtended",), 100.1),
    ("square duration", {**SQUARE, "expectedExtended": 2}, ("expectedDuration",), 86_400_001),
    ("dual normal", DUAL_STOPPED, ("expectedNormal",), 100.1),
    ("dual extended", {**DUAL, "expectedDuration": 3_600_000}, ("expectedExtended",), 100.1),
    ("dual duration", {**DUAL, "expectedExtended": 2}, ("expectedDuration",), 86_400_001),
    ("dual stopped extended", {**DUAL_STOPPED, "expectedNormal": 2}, ("expectedExtended",), 100.1),
    ("dual stopped duration", {**DUAL_STOPPED, "expectedNormal": 2}, ("expectedDuration",), 86_400_001),
]


@pytest.mark.parametrize(
    ("base", "path", "value"), [pytest.param(b, p, v, id=name) for name, b, p, v in EXPECTED_OVER_MAXIMUM]
)
def test_platform_expected_over_maximum_reported_once(base: dict[str, Any], path: Path, value: float) -> None:
    assert errors_of(put(base, path, value)) == [(OUT, pointer(path))]


def test_platform_temp_basal_needs_rate() -> None:
    """temporary.go: rate Exists()."""
    assert errors_of(drop(TEMP, ("rate",))) == [(NOT_EXISTS, "/0/rate")]


def test_platform_expected_over_maximum_detail() -> None:
    """The one error is the expected value's own range, from the delivered value up to the maximum."""
    assert details_of(put(NORMAL, ("expectedNormal",), 100.1)) == [
        (OUT, "/0/expectedNormal", "value 100.1 is not between 0 and 100")
    ]
    assert details_of({**NORMAL, "normal": 100.1, "expectedNormal": 100.2}) == [
        (OUT, "/0/normal", "value 100.1 is not between 0 and 100"),
        (OUT, "/0/expectedNormal", "value 100.2 is not between 0 and 100"),
    ]


def test_platform_zero_automated_bolus_needs_expected_normal() -> None:
    """bolus automated.go, as normal.go."""
    assert errors_of(put(AUTOMATED_BOLUS, ("normal",), 0)) == [(NOT_EXISTS, "/0/expectedNormal")]
    assert errors_of({**AUTOMATED_BOLUS, "normal": 0, "expectedNormal": 1}) == []


def test_platform_expected_extended_needs_expected_duration() -> None:
    """extended.go and combination.go: expectedDuration Exists() when expectedExtended is given."""
    assert errors_of(put(SQUARE, ("expectedExtended",), 2)) == [(NOT_EXISTS, "/0/expectedDuration")]
    assert errors_of(put(DUAL, ("expectedExtended",), 2)) == [(NOT_EXISTS, "/0/expectedDuration")]
    assert errors_of(put(DUAL, ("expectedDuration",), 3_600_000)) == [(EXISTS, "/0/expectedDuration")]


def test_platform_dual_expected_normal_constrains_only_normal() -> None:
    """combination.go CombinationFields: expectedNormal no longer means the extended part never ran (the
    older form required duration and extended 0 and both expected values); a normal of 0 no longer needs
    an extended over 0."""
    assert errors_of({**DUAL, "expectedNormal": 2}) == []
    assert errors_of({**DUAL_STOPPED, "normal": 0}) == []
    assert details_of({**DUAL_STOPPED, "expectedNormal": 2, "duration": -1}) == [
        (OUT, "/0/duration", "value -1 is not between 0 and 3600000"),
    ]


SCHEDULED_SUPPRESSED = {"type": "basal", "deliveryType": "scheduled", "rate": 1, "scheduleName": "Standard"}
TEMP_SUPPRESSED = {"type": "basal", "deliveryType": "temp", "rate": 0.5, "percent": 0.5}
AUTOMATED_SUPPRESSED = {"type": "basal", "deliveryType": "automated", "rate": 0.8, "scheduleName": "Auto"}


@pytest.mark.parametrize(
    ("datum", "expected"),
    [
        # temporary.go: a temp basal replaces a scheduled basal only; the error is at suppressed/type.
        pytest.param(
            put(TEMP, ("suppressed",), TEMP_SUPPRESSED),
            [(NOT_ALLOWED, "/0/suppressed/type", 'value "temp" is not one of ["scheduled"]')],
            id="temp suppressing temp",
        ),
        pytest.param(
            put(TEMP, ("suppressed",), AUTOMATED_SUPPRESSED),
            [(NOT_ALLOWED, "/0/suppressed/type", 'value "automated" is not one of ["scheduled"]')],
            id="temp suppressing automated",
        ),
        # suspend.go: automated, scheduled or temp; anything else at suppressed/type.
        pytest.param(
            put(SUSPEND, ("suppressed",), {"type": "basal", "deliveryType": "suspend"}),
            [
                (
                    NOT_ALLOWED,
                    "/0/suppressed/type",
                    'value "suspend" is not one of ["automated", "scheduled", "temp"]',
                )
            ],
            id="suspend suppressing suspend",
        ),
        # automated.go: a scheduled basal only; its error is at suppressed/deliveryType.
        pytest.param(
            put(AUTOMATED_BASAL, ("suppressed",), TEMP_SUPPRESSED),
            [(NOT_ALLOWED, "/0/suppressed/deliveryType", 'value "temp" is not one of ["scheduled"]')],
            id="automated suppressing temp",
        ),
        # basal.go ParseDeliveryType: type first, then deliveryType.
        pytest.param(
            put(TEMP, ("suppressed",), {"deliveryType": "scheduled", "rate": 1}),
            [(NOT_EXISTS, "/0/suppressed/type", "value does not exist")],
            id="suppressed without type",
        ),
        pytest.param(
            put(TEMP, ("suppressed",), {**SCHEDULED_SUPPRESSED, "type": "bolus"}),
            [(NOT_ALLOWED, "/0/suppressed/type", 'value "bolus" is not one of ["basal"]')],
            id="suppressed bolus",
        ),
    ],
)
def test_platform_suppressed_delivery_types(datum: dict[str, Any], expected: list[Any]) -> None:
    assert details_of(datum) == expected


@pytest.mark.parametrize(
    "datum",
    [
        pytest.param(put(TEMP, ("suppressed",), SCHEDULED_SUPPRESSED), id="temp: scheduled"),
        pytest.param(put(SUSPEND, ("suppressed",), SCHEDULED_SUPPRESSED), id="suspend: scheduled"),
        pytest.param(put(SUSPEND, ("suppressed",), TEMP_SUPPRESSED), id="suspend: temp"),
        pytest.param(put(SUSPEND, ("suppressed",), AUTOMATED_SUPPRESSED), id="suspend: automated"),
        pytest.param(
            put(SUSPEND, ("suppressed",), {**TEMP_SUPPRESSED, "suppressed": SCHEDULED_SUPPRESSED}),
            id="suspend: temp: scheduled",
        ),
        pytest.param(
            put(SUSPEND, ("suppressed",), {**AUTOMATED_SUPPRESSED, "suppressed": SCHEDULED_SUPPRESSED}),
            id="suspend: automated: scheduled",
        ),
        pytest.param(put(AUTOMATED_BASAL, ("suppressed",), SCHEDULED_SUPPRESSED), id="automated: scheduled"),
        pytest.param(
            put(TEMP, ("suppressed",), {**SCHEDULED_SUPPRESSED, "annotations": [{"code": "x"}]}),
            id="suppressed annotations",
        ),
    ],
)
def test_platform_suppressed_accepted(datum: dict[str, Any]) -> None:
    assert errors_of(datum) == []


@pytest.mark.parametrize(
    ("datum", "expected"),
    [
        # The nested suppressed of a suppressed temp (temporary.go) or automated (automated.go) basal is
        # a scheduled basal only, reported as at the top level of each.
        pytest.param(
            put(SUSPEND, ("suppressed",), {**TEMP_SUPPRESSED, "suppressed": TEMP_SUPPRESSED}),
            [(NOT_ALLOWED, "/0/suppressed/suppressed/type")],
            id="suspend: temp: temp",
        ),
        pytest.param(
            put(SUSPEND, ("suppressed",), {**AUTOMATED_SUPPRESSED, "suppressed": TEMP_SUPPRESSED}),
            [(NOT_ALLOWED, "/0/suppressed/suppressed/deliveryType")],
            id="suspend: automated: temp",
        ),
        # A suppressed scheduled basal has no suppressed of its own (scheduled.go SuppressedScheduled).
        pytest.param(
            put(SUSPEND, ("suppressed",), {**SCHEDULED_SUPPRESSED, "suppressed": SCHEDULED_SUPPRESSED}),
            [(NOT_PARSED, "/0/suppressed/suppressed")],
            id="suspend: scheduled: scheduled",
        ),
        # Each kind has its own fields: percent only on temp, scheduleName not on temp.
        pytest.param(
            put(TEMP, ("suppressed",), {**SCHEDULED_SUPPRESSED, "percent": 0.5}),
            [(NOT_PARSED, "/0/suppressed/percent")],
            id="suppressed scheduled percent",
        ),
        pytest.param(
            put(SUSPEND, ("suppressed",), {**TEMP_SUPPRESSED, "scheduleName": "Standard"}),
            [(NOT_PARSED, "/0/suppressed/scheduleName")],
            id="suppressed temp scheduleName",
        ),
        pytest.param(
            put(SUSPEND, ("suppressed",), {**TEMP_SUPPRESSED, "percent": 10.1}),
            [(OUT, "/0/suppressed/percent")],
            id="suppressed temp percent",
        ),
        # rate Exists() in every kind.
        pytest.param(drop(TEMP, ("suppressed", "rate")), [(NOT_EXISTS, "/0/suppressed/rate")], id="rate"),
        pytest.param(
            put(SUSPEND, ("suppressed",), drop(TEMP_SUPPRESSED, ("rate",))),
            [(NOT_EXISTS, "/0/suppressed/rate")],
            id="temp rate",
        ),
        pytest.param(
            put(SUSPEND, ("suppressed",), drop(AUTOMATED_SUPPRESSED, ("rate",))),
            [(NOT_EXISTS, "/0/suppressed/rate")],
            id="automated rate",
        ),
        pytest.param(
            put(TEMP, ("suppressed",), {**SCHEDULED_SUPPRESSED, "scheduleName": ""}),
            [(EMPTY, "/0/suppressed/scheduleName")],
            id="scheduleName empty",
        ),
        # As in the platform, a suppressed basal of a type not allowed is not looked at any further.
        pytest.param(
            put(TEMP, ("suppressed",), {**TEMP_SUPPRESSED, "rate": 100.1, "bogus": 1}),
            [(NOT_ALLOWED, "/0/suppressed/type")],
            id="not allowed, nothing else",
        ),
    ],
)
def test_platform_suppressed_errors(datum: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(datum) == expected


def test_platform_suspend_has_no_insulin_formulation() -> None:
    """suspend.go: nothing is delivered, so no insulinFormulation (nor rate)."""
    formulation = {"simple": {"actingType": "rapid"}}
    assert errors_of(put(SUSPEND, ("insulinFormulation",), formulation)) == [
        (NOT_PARSED, "/0/insulinFormulation")
    ]
    assert errors_of(put(SUSPEND, ("rate",), 1)) == [(NOT_PARSED, "/0/rate")]
    assert errors_of(put(TEMP, ("insulinFormulation",), formulation)) == []


_COMPOUND = {"amount": 1, "formulation": {"simple": {"actingType": "rapid"}}}


@pytest.mark.parametrize(
    ("base", "ptr"),
    [
        pytest.param(TEMP, "/0/insulinFormulation", id="basal temp"),
        pytest.param(NORMAL, "/0/insulinFormulation", id="bolus normal"),
        pytest.param(AUTOMATED_BASAL, "/0/insulinFormulation", id="basal automated"),
    ],
)
def test_platform_insulin_formulation_rules(base: dict[str, Any], ptr: str) -> None:
    """basal and bolus parse insulinFormulation as insulin/formulation.go: compounds not with simple, and
    at least one of simple, compounds or name (value-not-exists at simple)."""
    simple = {"actingType": "rapid"}
    assert errors_of(put(base, ("insulinFormulation",), {"simple": simple, "compounds": [_COMPOUND]})) == [
        (EXISTS, f"{ptr}/compounds")
    ]
    assert errors_of(put(base, ("insulinFormulation",), {})) == [(NOT_EXISTS, f"{ptr}/simple")]
    assert errors_of(put(base, ("insulinFormulation",), {"compounds": [_COMPOUND]})) == []
    assert errors_of(put(base, ("insulinFormulation",), {"name": "Humalog"})) == []


def test_suppressed_is_kept_in_the_stored_document() -> None:
    datum = put(SUSPEND, ("suppressed",), {**TEMP_SUPPRESSED, "suppressed": SCHEDULED_SUPPRESSED})
    [stored] = parse_data([datum]).datums
    assert stored.doc["suppressed"] == {**TEMP_SUPPRESSED, "suppressed": SCHEDULED_SUPPRESSED}

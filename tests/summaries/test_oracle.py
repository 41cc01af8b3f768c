"""The summary metrics against an independent oracle (iglu-python, test-only) on 60 generated datasets.

Each dataset is a CGM trace of 5-minute (Dexcom-like, ``sampleInterval`` set) or 15-minute (Libre,
no ``sampleInterval``) readings with gaps, duplicates inside a sample interval (which must not
count) and the boundary values 39/40/53/54/69/70/180/181/250/251/349/350/400/401 mg/dL, starting on
the day of a DST change (8 March 2026 in the US): periods are whole UTC hours back from the newest
reading, so a DST change must move nothing (no 23- or 25-hour day), which iglu's UTC input checks.
The generator knows which readings are the real ones; iglu gets exactly those,
as whole mg/dL, per period. With one sensor interval per dataset, iglu's count-based percents equal
the summary's minute-weighted ones, its mean the time-weighted mean, and its sample SD converts to
the population SD. Each field is compared at the precision it is reported at (GMI: one decimal,
where iglu's formula 3.31 + 0.02392 x mg/dL and the summary formula may differ by a rounding step).
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass

import pytest

from inlet.model.glucose import mgdl_to_mmoll
from inlet.summaries import compute as k

pd = pytest.importorskip("pandas")
ig = pytest.importorskip("iglu_python")

BOUNDARIES = (39, 40, 53, 54, 69, 70, 180, 181, 250, 251, 349, 350, 400, 401)
START = 1_773_000_000_000_000  # 2026-03-08 (a US DST change) in microseconds
MIN_US = 60_000_000


@dataclass
class Dataset:
    real: list[tuple[int, int]]  # (micros, mg/dL): the readings that count
    all: list[k.Reading]  # what is stored, duplicates included, in time order
    interval_min: int


def generate(seed: int) -> Dataset:
    rng = random.Random(seed)
    interval = rng.choice((5, 15))
    device = "DexG6-123" if interval == 5 else "AbbottFreeStyleLibre-XYZ"
    days = rng.choice((1, 2, 8, 15, 20, 31, 45))
    t = START + rng.randrange(0, 24) * 3_600_000_000
    end = t + days * k.DAY_US
    real: list[tuple[int, int]] = []
    stored: list[k.Reading] = []
    value = rng.randrange(60, 250)
    weight = interval * MIN_US // 1000 if interval == 5 else 0  # Libre: no sampleInterval
    while t < end:
        if rng.random() < 0.01:  # a gap of up to 12 hours
            t += rng.randrange(1, 144) * 5 * MIN_US
            continue
        value = max(39, min(401, value + rng.randrange(-12, 13)))
        mg = rng.choice(BOUNDARIES) if rng.random() < 0.1 else value
        jitter = rng.randrange(-4_000_000, 4_000_001)
        at = t + jitter
        real.append((at, mg))
        stored.append(k.Reading(at, mgdl_to_mmoll(mg), device, k.interval_ms(weight or None, device)))
        if rng.random() < 0.05:  # a duplicate within (interval - 10 s): must not count
            delta = rng.randrange(1_000_000, interval * MIN_US - 15_000_000)
            dup = rng.choice(BOUNDARIES)
            stored.append(
                k.Reading(at + delta, mgdl_to_mmoll(dup), device, k.interval_ms(weight or None, device))
            )
        t += interval * MIN_US
    return Dataset(real, stored, interval)


def _iglu(values: list[tuple[int, int]]) -> dict[str, float]:
    frame = pd.DataFrame(
        {
            "id": ["p"] * len(values),
            "time": pd.to_datetime([v[0] for v in values], unit="us", utc=True).tz_convert(None),
            "gl": [float(v[1]) for v in values],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inr = ig.in_range_percent(frame, target_ranges=[[70, 180], [181, 250]])
        below = ig.below_percent(frame, targets_below=[54, 70])
        above = ig.above_percent(frame, targets_above=[250, 349])
        out = {
            "target": float(inr["in_range_70_180"].iloc[0]) / 100,
            "high": float(inr["in_range_181_250"].iloc[0]) / 100,
            "veryLow": float(below["below_54"].iloc[0]) / 100,
            "anyLow": float(below["below_70"].iloc[0]) / 100,
            "veryHigh": float(above["above_250"].iloc[0]) / 100,
            "extremeHigh": float(above["above_349"].iloc[0]) / 100,
            "mean": float(ig.mean_glu(frame)["mean"].iloc[0]),
            "gmi": float(ig.gmi(frame)["GMI"].iloc[0]),
        }
        if len(values) > 1:
            out["sd"] = float(ig.sd_glu(frame)["SD"].iloc[0])
    return out


SEEDS = range(60)


@pytest.mark.parametrize("seed", SEEDS)
def test_periods_match_iglu(seed: int) -> None:
    data = generate(seed)
    buckets = k.build_buckets(data.all, continuous=True)
    last = max(r.time for r in data.all)
    periods = k.periods(buckets, last, k.CGM)
    end = k.hour_of(last) + k.HOUR_US
    n = len(data.real)
    for name, days in k.PERIODS.items():
        start = end - days * k.DAY_US
        inside = [v for v in data.real if start <= v[0] < end]
        got = periods[name]
        assert got["total"]["records"] == len(inside), name
        minutes = len(inside) * data.interval_min
        assert got["total"]["minutes"] == pytest.approx(minutes)
        use = minutes / (days * 1440)
        assert got["total"]["percent"] == pytest.approx(use)
        oracle = _iglu(inside)
        qualifies = use > 0.7 if days == 1 else minutes > 1440
        pairs = {
            "inTarget": "target",
            "inHigh": "high",
            "inVeryLow": "veryLow",
            "inAnyLow": "anyLow",
            "inVeryHigh": "veryHigh",
            "inExtremeHigh": "extremeHigh",
        }
        for field, key in pairs.items():
            if qualifies:
                assert got[field]["percent"] == pytest.approx(oracle[key], abs=1e-9), (seed, name, field)
            else:
                assert "percent" not in got[field], (seed, name, field)
        mean_mmol = got["averageGlucoseMmol"]
        assert mean_mmol * 18.01559 == pytest.approx(oracle["mean"], abs=0.01), (seed, name)
        if "sd" in oracle and len(inside) > 1:
            population = oracle["sd"] * math.sqrt((len(inside) - 1) / len(inside))
            assert got["standardDeviation"] * 18.01559 == pytest.approx(population, abs=0.01)
            assert got["coefficientOfVariation"] == pytest.approx(population / oracle["mean"], abs=1e-4)
        if use > 0.7:
            assert abs(got["glucoseManagementIndicator"] - oracle["gmi"]) <= 0.1 + 1e-9, (seed, name)
            assert got["glucoseManagementIndicator"] == round(got["glucoseManagementIndicator"], 1)
        else:
            assert "glucoseManagementIndicator" not in got
        assert got["min"] == pytest.approx(min(mgdl_to_mmoll(v[1]) for v in inside))
        assert got["max"] == pytest.approx(max(mgdl_to_mmoll(v[1]) for v in inside))
    assert n > 0


def test_boundaries_by_whole_mg_dl() -> None:
    """54 is low (not very low), 70 is in target, 180 target, 181 high, 250 high, 251 very high, 350
    extreme high; the same in mmol/L (3.0 -> 54, 3.9 -> 70, 10.0 -> 180, 13.9 -> 250)."""
    expect = {
        39: ("veryLow", False),
        53: ("veryLow", False),
        54: ("low", False),
        69: ("low", False),
        70: ("target", False),
        180: ("target", False),
        181: ("high", False),
        250: ("high", False),
        251: ("veryHigh", False),
        349: ("veryHigh", False),
        350: ("veryHigh", True),
        401: ("veryHigh", True),
    }
    for mg, want in expect.items():
        assert k.classify(mgdl_to_mmoll(mg)) == want, mg
    for mmol, want in {
        3.0: "low",
        2.96: "veryLow",  # 53.3 mg/dL: 53
        3.9: "target",
        10.0: "target",
        13.9: "high",
        19.4: "veryHigh",
    }.items():
        assert k.classify(mmol)[0] == want, mmol
    assert k.classify(19.4)[1] is True


def test_gmi_rounds_half_away_from_zero() -> None:
    assert k.gmi(8.0) == round(0.09148 * (12.71 + 4.70587 * 8.0) + 2.152, 1)
    assert k.round_half_away(6.25, 1) == 6.3
    assert k.round_half_away(-6.25, 1) == -6.3


def _counted(readings: list[k.Reading]) -> int:
    buckets = k.build_buckets(readings, continuous=True)
    return int(
        sum(sum(acc[0] for name, acc in b["r"].items() if name != k.EXTREME_HIGH) for b in buckets.values())
    )


def test_the_cgm_duplicate_rule_at_its_boundary() -> None:
    """A reading less than (the previous counted reading's interval - 10 s) after it, from the same
    device, is a duplicate; at exactly that distance it counts; another device's reading always
    counts; the distance is measured from the previous *counted* reading (a duplicate moves nothing)."""
    t0, five, one = START, 300_000, 60_000
    slack = (five - k.DUPLICATE_SLACK_MS) * 1000  # 4 min 50 s in microseconds

    def cgm(at: int, device: str = "DexG6-1", weight: int = five) -> k.Reading:
        return k.Reading(at, 6.0, device, weight)

    assert _counted([cgm(t0), cgm(t0 + slack)]) == 2
    assert _counted([cgm(t0), cgm(t0 + slack - 1)]) == 1
    assert _counted([cgm(t0), cgm(t0 + 1, device="DexG6-2")]) == 2
    # t0 + 3 min is a duplicate; t0 + 5 min is measured from t0 (counted), not from the duplicate.
    assert _counted([cgm(t0), cgm(t0 + 180_000_000), cgm(t0 + slack)]) == 2
    # the previous counted reading's own interval decides: after a 1-minute reading, 50 s is enough.
    assert _counted([cgm(t0, weight=one), cgm(t0 + 50_000_000)]) == 2
    assert _counted([cgm(t0, weight=one), cgm(t0 + 49_999_999)]) == 1

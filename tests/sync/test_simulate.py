"""The budget-aware schedule at scale (``inlet.sync.simulate``): a scaled-down run of the simulation
docs/scaling.md reports for 100,000 tasks (the same tasks-to-budget ratio, fewer hours)."""

from __future__ import annotations

import pytest

from inlet.partners.registry import load_registry
from inlet.sync.simulate import STARTUP_HOURS, Simulation, simulate


@pytest.fixture(scope="module")
def result() -> Simulation:
    partner = load_registry({}).get("dexcom")
    assert partner is not None
    return simulate(partner.policy, tasks=5_000, hours=36, requests_per_hour=3_000, calls_per_run=3.67)


def test_no_hour_spends_more_than_the_budget(result: Simulation) -> None:
    assert result.max_hour <= 3_000
    # and the budget is used: the stretch plans 90 % of it, less the blackout hour
    steady = result.calls_per_hour[STARTUP_HOURS:]
    assert sum(steady) / len(steady) > 0.8 * 3_000


def test_intervals_stretch_evenly(result: Simulation) -> None:
    # 5,000 people x 3.67 calls at a 60-minute mean need 18,350 calls an hour: 6.8 times 90 % of the
    # budget, so everyone's 45-75 minutes become about 306-510, and nobody waits much longer
    assert result.percentile(0.01) >= 290
    assert result.percentile(0.5) == pytest.approx(408, rel=0.05)
    assert result.percentile(0.99) <= 600


def test_no_stampede_at_the_top_of_the_hour(result: Simulation) -> None:
    # once the schedule has spread, an hour's first minute carries at most about twice its mean
    assert result.worst_first_minute(STARTUP_HOURS) < 2.5

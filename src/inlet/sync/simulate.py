"""The budget-aware schedule at scale, simulated: many tasks of one partner over simulated hours, no
network and no database, the clock injected (``inlet sync-simulate``, docs/scaling.md).

What it runs is the worker's own policy (:mod:`inlet.sync.policy`): each completed run is rescheduled
by :func:`~inlet.sync.policy.next_run_time` in the :func:`~inlet.sync.policy.effective_interval`
stretched for the population and the calls per run observed so far (the worker's moving mean,
:data:`~inlet.sync.worker.CALLS_WEIGHT`), blackout windows included; the partner's hourly budget is
counted as ``partner_budgets`` counts it (hour windows; a run that would overspend it is refused and
retried by :func:`~inlet.sync.policy.after_budget`). Simplifications, stated: workers have capacity for
every due run (a run happens at its due time), and a run is admitted or refused whole (the real gate
refuses call by call, so a run may stop half way: never more calls than admitted here).

Reported: calls per simulated hour (the most in any hour against the budget), the spread of the
effective intervals between one task's successful runs (percentiles), and the calls in each hour's
first minute against the hour's mean minute (a stampede at the top of the hour would show there).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from inlet.partners.contract import Policy
from inlet.sync.policy import DEFAULT_CALLS_PER_RUN, after_budget, effective_interval, next_run_time

HOUR = 3600.0
CALLS_WEIGHT = 0.05  # as the worker's (inlet.sync.worker.CALLS_WEIGHT): each run's weight in the mean
START = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
# The start (every task first due within the manifest's interval, the calls-per-run estimate still at
# its default) overspends demand until the stretched schedule has spread: figures also from here on.
STARTUP_HOURS = 12


@dataclass
class Simulation:
    """What a simulated span produced (times in seconds from the start)."""

    hours: int
    budget: int
    calls_per_hour: list[int]
    first_minute_calls: list[int]
    runs: int = 0
    refused: int = 0
    refused_per_hour: list[int] = field(default_factory=list)
    intervals: list[float] = field(default_factory=list)  # minutes between a task's successful runs

    def percentile(self, share: float) -> float:
        ordered = sorted(self.intervals)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    @property
    def max_hour(self) -> int:
        return max(self.calls_per_hour)

    def worst_first_minute(self, since: int = 0) -> float:
        """The largest ratio of an hour's first minute to that hour's mean minute (1.0: even), from
        hour ``since`` on."""
        pairs = zip(self.first_minute_calls[since:], self.calls_per_hour[since:], strict=True)
        ratios = [first / (total / 60) for first, total in pairs if total]
        return max(ratios) if ratios else 0.0

    def report(self, settled: int = STARTUP_HOURS) -> str:
        steady = self.calls_per_hour[settled:] or self.calls_per_hour
        return "\n".join(
            [
                f"{self.runs:,} runs, {self.refused:,} refused by the budget, "
                f"over {self.hours} simulated hours; refused from hour {settled} on: "
                f"{sum(self.refused_per_hour[settled:]):,}",
                f"calls per hour: max {self.max_hour:,} (budget {self.budget:,}); from hour {settled} on: "
                f"min {min(steady):,}, mean {sum(steady) / len(steady):,.0f}, max {max(steady):,}",
                "effective interval between a task's runs, minutes: "
                f"p1 {self.percentile(0.01):.0f}, p10 {self.percentile(0.10):.0f}, "
                f"median {self.percentile(0.5):.0f}, p90 {self.percentile(0.9):.0f}, "
                f"p99 {self.percentile(0.99):.0f}",
                f"busiest first minute of an hour: {self.worst_first_minute():.2f} x that hour's mean "
                f"minute; from hour {settled} on: {self.worst_first_minute(settled):.2f} x",
            ]
        )


def simulate(
    policy: Policy,
    *,
    tasks: int = 100_000,
    hours: int = 48,
    requests_per_hour: int = 60_000,
    calls_per_run: float = 3.67,
    seed: int = 1,
) -> Simulation:
    """``tasks`` people, first due spread over the manifest's interval, run for ``hours``."""
    policy = replace(policy, requests_per_hour=requests_per_hour)
    rng = random.Random(seed)
    end = hours * HOUR
    due = [(rng.uniform(0, policy.interval_max * 60.0), task) for task in range(tasks)]
    heapq.heapify(due)
    last_success: dict[int, float] = {}
    calls_hour = [0] * hours
    first_minute = [0] * hours
    result = Simulation(hours, requests_per_hour, calls_hour, first_minute, refused_per_hour=[0] * hours)
    estimate = DEFAULT_CALLS_PER_RUN
    window, used = 0, 0
    fraction = calls_per_run - int(calls_per_run)
    while due and due[0][0] < end:
        at, task = heapq.heappop(due)
        hour = int(at // HOUR)
        if hour != window:
            window, used = hour, 0
        now = START + timedelta(seconds=at)
        interval = effective_interval(policy, tasks, estimate)
        calls = max(1, int(calls_per_run) + (1 if rng.random() < fraction else 0))
        if used + calls > requests_per_hour:
            result.refused += 1
            result.refused_per_hour[hour] += 1
            until = START + timedelta(seconds=(hour + 1) * HOUR)
            nxt = after_budget(until, interval, policy, rng)
        else:
            used += calls
            result.runs += 1
            calls_hour[hour] += calls
            if at - hour * HOUR < 60:
                first_minute[hour] += calls
            estimate += CALLS_WEIGHT * (calls - estimate)
            if task in last_success:
                result.intervals.append((at - last_success[task]) / 60)
            last_success[task] = at
            nxt = next_run_time(now, policy, rng, interval)
        heapq.heappush(due, ((nxt - START).total_seconds(), task))
    return result


def main() -> None:
    """``python -m inlet.sync.simulate [--tasks N] [--hours H] [--budget B] [--calls-per-run C]``."""
    import argparse

    from inlet.partners.registry import load_registry

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partner", default="dexcom")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument("--budget", type=int, default=60_000, help="the partner's requests per hour")
    parser.add_argument("--calls-per-run", type=float, default=3.67, help="measured: bench/sync.py")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    partner = load_registry({}).get(args.partner)
    if partner is None:
        raise SystemExit(f"no partner {args.partner!r}")
    result = simulate(
        partner.policy,
        tasks=args.tasks,
        hours=args.hours,
        requests_per_hour=args.budget,
        calls_per_run=args.calls_per_run,
        seed=args.seed,
    )
    print(result.report())


if __name__ == "__main__":
    main()

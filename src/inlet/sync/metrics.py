"""Prometheus metrics of the sync engine (names prefixed ``inlet_``), on the process's default registry.

Counters and histograms are the process's own (the worker's runs); :class:`DatabaseCollector` adds what
only the database knows, at scrape time: the queue lag (now minus the oldest due, unleased run: how far
behind every worker together is) and the data sources per partner and state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from inlet.db.schema import data_sources, sync_tasks
from inlet.sync.leases import db_now, oldest_due
from inlet.sync.stall import STALL_CODES

RUNS = Counter(
    "inlet_sync_runs",
    "Sync runs by partner and outcome (success or the failure class)",
    ["partner", "outcome"],
)
RUN_SECONDS = Histogram(
    "inlet_sync_run_seconds",
    "Duration of a sync run",
    ["partner"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
RECORDS = Counter(
    "inlet_sync_records",
    "Partner records by what happened to them (stored, updated, unchanged, skipped, deleted)",
    ["partner", "result"],
)
PARTNER_CALLS = Counter(
    "inlet_partner_requests",
    "Requests to partner APIs by endpoint and status",
    ["partner", "endpoint", "status"],
)
PARTNER_LATENCY = Histogram(
    "inlet_partner_request_seconds",
    "Latency of partner API requests",
    ["partner"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped (shared by every worker process)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        lag = GaugeMetricFamily(
            "inlet_sync_queue_lag_seconds", "Now minus the oldest due, unclaimed sync run"
        )
        tasks = GaugeMetricFamily("inlet_sync_tasks", "Sync tasks per partner", labels=["partner"])
        sources = GaugeMetricFamily(
            "inlet_data_sources", "Data sources per partner and state", labels=["partner", "state"]
        )
        stalled = GaugeMetricFamily(
            "inlet_sources_stalled",
            "Data sources in error because no sync succeeded for INLET_SYNC_STALL_HOURS or internal "
            "failures repeated",
            labels=["partner"],
        )
        with self.engine.connect() as conn:
            now = db_now(conn)
            oldest = oldest_due(conn, now)
            lag.add_metric([], 0.0 if oldest is None else max(0.0, (now - oldest) / 1e6))
            for name, count in conn.execute(
                select(sync_tasks.c.provider_name, func.count()).group_by(sync_tasks.c.provider_name)
            ):
                tasks.add_metric([name], count)
            for name, state, count in conn.execute(
                select(data_sources.c.provider_name, data_sources.c.state, func.count()).group_by(
                    data_sources.c.provider_name, data_sources.c.state
                )
            ):
                sources.add_metric([name, state], count)
            s = data_sources.c
            for name, count in conn.execute(
                select(s.provider_name, func.count())
                .where(s.state == "error", s.error["code"].as_string().in_(STALL_CODES))
                .group_by(s.provider_name)
            ):
                stalled.add_metric([name], count)
        yield lag
        yield tasks
        yield sources
        yield stalled


_registries: dict[int, CollectorRegistry] = {}


def database_registry(engine: Engine) -> CollectorRegistry:
    """A registry holding the :class:`DatabaseCollector` of ``engine`` (one per engine)."""
    registry = _registries.get(id(engine))
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DatabaseCollector(engine))
        _registries[id(engine)] = registry
    return registry

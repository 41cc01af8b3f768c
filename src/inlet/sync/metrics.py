"""Prometheus metrics of the sync engine (names prefixed ``inlet_``), on the process's default registry.

Counters and histograms are the process's own (the worker's runs); :class:`DatabaseCollector` adds what
only the database knows: the queue lag (now minus the oldest due, unleased run: how far behind every
worker together is) and the data sources per partner and state. Those figures are read at most once per
:data:`DATABASE_FIGURES_SECONDS` whatever the scrape rate, so scraping cannot be used to load the
database.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
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


DATABASE_FIGURES_SECONDS = 15.0


class DatabaseCollector(Collector):
    """Gauges read from the database (shared by every worker process), at most once per
    :data:`DATABASE_FIGURES_SECONDS`; scrapes in between get the figures last read."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._families: list[Any] = []

    def collect(self) -> Iterator[Any]:
        with self._lock:  # concurrent scrapes wait for one read instead of each running the queries
            now = self.clock()
            if self._read_at is None or now - self._read_at >= DATABASE_FIGURES_SECONDS:
                self._families = self._read()
                self._read_at = now
            families = list(self._families)
        yield from families

    def _read(self) -> list[Any]:
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
        return [lag, tasks, sources, stalled]


class _ProcessCollector(Collector):
    """This process's default registry (counters, histograms, process and GC figures) as one collector,
    so that one registry serves them with the database figures."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


_collectors: weakref.WeakKeyDictionary[Engine, DatabaseCollector] = weakref.WeakKeyDictionary()
_collectors_lock = threading.Lock()


def database_collector(engine: Engine) -> DatabaseCollector:
    """The :class:`DatabaseCollector` of ``engine`` (one per engine, so every scrape of this process
    shares its cache)."""
    with _collectors_lock:
        collector = _collectors.get(engine)
        if collector is None:
            collector = _collectors[engine] = DatabaseCollector(engine)
        return collector


def database_registry(engine: Engine) -> CollectorRegistry:
    """A registry with only the database figures of ``engine``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(database_collector(engine))
    return registry


def serving_registry(engine: Engine) -> CollectorRegistry:
    """What ``/metrics`` serves: this process's figures and the database's (cached)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessCollector())
    registry.register(database_collector(engine))
    return registry

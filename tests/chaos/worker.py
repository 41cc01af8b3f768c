"""A chaos-run worker process: ``inlet worker`` with the simulators' compressed clock injected.

``python -m tests.chaos.worker --concurrency N``, started by ``tests/chaos/run.py`` with the clock's
numbers in the environment (:mod:`tests.chaos.clock`). It is the production worker
(:func:`inlet.sync.service.build_worker` and :func:`inlet.sync.service.housekeeping`, the same
settings, logging and signals as ``inlet worker``) with time injected the way the in-process tests
inject it, and nothing else changed:

- the worker's and the runner's ``clock`` (claims, leases, due-ness, schedules, budget windows, a
  run's ``now``) and the housekeeping's (stalls) read the database's time, compressed;
- ``services.partners.clock`` (a token's ``expires_at``) is the same compressed clock;
- lengths the worker measures in real time are scaled so they keep their real meaning: the lease is
  ``INLET_SYNC_LEASE_SECONDS`` real seconds (``factor`` times as many simulated ones), its heartbeat
  beats every third of that in real time, and housekeeping runs every simulated hour.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade
from inlet.logs import configure_logging
from inlet.services import create_services
from inlet.settings import load_settings
from inlet.sync.service import build_worker, housekeeping
from tests.chaos.clock import CompressedClock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.worker")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    clock = CompressedClock.from_env()
    factor = clock.factor
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = create_db_engine(
        settings.resolved_database_url(), pool_size=args.concurrency + 2, pre_ping=False
    )
    try:
        upgrade(engine)
        services = create_services(settings, engine)
        services.partners.clock = clock

        async def scaled_sleep(seconds: float) -> None:
            await asyncio.sleep(seconds / factor)  # the heartbeat: simulated seconds -> real ones

        worker = build_worker(
            services,
            concurrency=args.concurrency,
            clock=clock.db,
            lease_seconds=settings.sync_lease_seconds * factor,
            sleep=scaled_sleep,
            poll_seconds=1.0,
        )

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            chores = asyncio.ensure_future(
                housekeeping(services, stop, every=max(1.0, 3600 / factor), clock=clock.db)
            )
            await worker.run_forever(stop)
            await chores

        asyncio.run(run())
        worker.close()
    finally:
        engine.dispose()
    print(worker.stats.summary())


if __name__ == "__main__":
    main()

"""A sync worker in its own process (for the ``kill -9`` test): ``python -m tests.sync.worker_process
LEASE_SECONDS``. Configured like ``inlet worker`` from ``INLET_*`` variables; prints ``started`` once
it runs, then runs every due task once."""

from __future__ import annotations

import asyncio
import sys

from inlet.db.engine import create_db_engine
from inlet.services import create_services
from inlet.settings import load_settings
from inlet.sync.service import build_worker


def main() -> None:
    lease_seconds = float(sys.argv[1])
    settings = load_settings()
    services = create_services(settings, create_db_engine(settings.resolved_database_url()))
    worker = build_worker(services, concurrency=1, lease_seconds=lease_seconds, owner="doomed-worker")
    print("started", flush=True)
    asyncio.run(worker.run_once())
    worker.close()
    print(worker.stats.summary(), flush=True)


if __name__ == "__main__":
    main()

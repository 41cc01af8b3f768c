"""``GET /status``: this process's health for operators and load balancers.

Unauthenticated, like ``/info``, so it says nothing about anyone: no secrets, no counts of people.
Whether the database answers, and (for ``inlet serve --worker`` and ``inlet demo``) whether this
process's sync worker is running and when it last completed a run, so a worker that stopped is seen.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from inlet import __version__

router = APIRouter(tags=["info"])


def _database_answers(engine: Any) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """``{"version", "database": {"ok"}, "worker": {"enabled", "running", "lastCompletedRun", ...}}``."""
    services = request.app.state.services
    worker = getattr(request.app.state, "worker_status", None)
    database = await asyncio.to_thread(_database_answers, services.engine)
    return {
        "version": __version__,
        "database": {"ok": database},
        "worker": worker.public() if worker is not None else {"enabled": False, "running": False},
    }

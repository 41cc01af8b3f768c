"""No silent stop: a source whose syncs have not succeeded for ``INLET_SYNC_STALL_HOURS`` goes to
``error`` with a plain reason, and the person (and their clinics) are told, as for a revoked grant.

A run can fail for days without anything final happening (a partner answering 5xx, a budget never
renewing, a bug): the source would stay ``connected`` while nothing arrives. :func:`mark_stalled`
(run by every worker process's housekeeping) finds connected sources whose task has not succeeded
since the cutoff (nor stored data, nor been connected since) and moves each to ``error`` through
:func:`inlet.partners.lifecycle.fail`, fenced by the provider session it saw, so a reconnect made
meanwhile is never overwritten and each stall is told once. ``inlet_sources_stalled`` (metrics.py)
counts the sources in ``error`` for this reason or for repeated internal failures.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from inlet.db.schema import data_sources, sync_tasks
from inlet.partners import lifecycle
from inlet.partners.states import CONNECTED
from inlet.sync.leases import db_now

if TYPE_CHECKING:
    from inlet.services import Services

log = logging.getLogger("inlet.sync")
_US = 1_000_000
STALLED = "stalled"
STALL_CODES = (STALLED, "internal")  # the error codes inlet_sources_stalled counts
BATCH = 500


def stall_error(hours: float, last_error: dict[str, Any] | None) -> dict[str, Any]:
    """The reason shown on the profile and emailed: plain words, the last failure's class."""
    shown = f"{hours:g} hours"
    detail = f"no sync has succeeded for {shown}"
    if isinstance(last_error, dict) and last_error.get("detail"):
        detail += f"; the last attempt: {last_error['detail']}"
    return {"code": STALLED, "title": "Inlet has not been able to sync this account", "detail": detail}


def mark_stalled(services: Services, now: int | None = None) -> int:
    """Move every stalled connected source to ``error`` and tell its people; how many moved."""
    from inlet.sync.runner import tell_people

    hours = float(services.settings.sync_stall_hours)
    s, t = data_sources.c, sync_tasks.c
    moved = 0
    emails: list[int] = []
    with services.engine.begin() as conn:
        now = db_now(conn) if now is None else now
        cutoff = now - int(hours * 3600 * _US)
        rows = conn.execute(
            select(s.id, s.user_id, s.provider_name, s.provider_session_id, t.last_error)
            .select_from(data_sources.join(sync_tasks, t.data_source_id == s.id))
            .where(
                s.state == CONNECTED,
                s.provider_session_id.is_not(None),
                or_(t.last_success_time.is_(None), t.last_success_time < cutoff),
                func.coalesce(s.modified_time, s.created_time) < cutoff,
            )
            .limit(BATCH)
        ).all()
        for row in rows:
            partner = services.partners.registry.get(row.provider_name)
            if partner is None:
                continue  # a partner no longer configured is not offered: nothing to reconnect to
            error = stall_error(hours, row.last_error)
            if lifecycle.fail(conn, row.id, row.provider_session_id, error, now):
                emails += tell_people(conn, services, partner, row.user_id, error)
                moved += 1
                log.warning("data source stalled", extra={"partner": partner.slug, "source": row.id})
    services.notifier.deliver(services.engine, emails)  # after the commit (transactional outbox)
    return moved

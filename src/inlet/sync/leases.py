"""Sync task leases: claim due tasks, renew, complete fenced by owner and generation, reclaim expired.

One row of ``sync_tasks`` per user and partner (created by the partner connect flow). A worker
*claims* a task by writing its ``lease_owner``, a ``lease_expires_time`` and ``lease_generation + 1``.
A task is claimable when it is due (``next_run_time <= now``) and free or its lease has expired, so a
crashed worker's tasks are reclaimed by whoever claims next. Completion and renewal are *fenced*:
they only apply when both the owner and the generation still match, so a worker whose lease expired
and was reclaimed cannot overwrite the new holder's schedule.

Concurrency: on PostgreSQL the candidates are selected ``FOR UPDATE SKIP LOCKED`` (two claimers never
wait for, nor get, the same row); on SQLite every write transaction begins ``BEGIN IMMEDIATE``
(:mod:`inlet.db.engine`), so claims are serialised by the single writer lock.

Time: lease expiry and due-ness are judged by the database's clock (:func:`db_now`), so workers on
hosts with skewed clocks agree. Every function takes ``now`` (microseconds since the epoch) to
override it; tests inject it instead of sleeping.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, and_, bindparam, func, or_, select, text, update

from inlet.db.schema import sync_tasks
from inlet.model.timeutil import US

DbClock = Callable[[Connection], int]

_PG_NOW = text("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)")
_SQLITE_NOW = text("SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000000.0) AS INTEGER)")


def db_now(conn: Connection) -> int:
    """The database server's current time in microseconds since the Unix epoch (SQLite: millisecond
    resolution)."""
    query = _PG_NOW if conn.dialect.name == "postgresql" else _SQLITE_NOW
    value = conn.execute(query).scalar_one()
    return int(value)


@dataclass(frozen=True)
class Lease:
    """A claimed task: what the holder needs to run it and to complete it (owner + generation)."""

    task_id: str
    data_source_id: str
    user_id: str
    provider_name: str
    owner: str
    generation: int
    expires_time: int  # microseconds
    next_run_time: int  # the due time it was claimed at (microseconds)
    failure_count: int


def _lease(row: Any) -> Lease:
    return Lease(
        task_id=row.id,
        data_source_id=row.data_source_id,
        user_id=row.user_id,
        provider_name=row.provider_name,
        owner=row.lease_owner,
        generation=row.lease_generation,
        expires_time=row.lease_expires_time,
        next_run_time=row.next_run_time,
        failure_count=row.failure_count,
    )


def claim_due(
    conn: Connection,
    owner: str,
    *,
    limit: int,
    lease_seconds: float,
    now: int | None = None,
    due_by: int | None = None,
    providers: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
) -> list[Lease]:
    """Claim up to ``limit`` due tasks for ``owner``, oldest due first, in the caller's transaction
    (commit it promptly: on PostgreSQL the claimed rows stay locked until then).

    ``due_by`` (default ``now``) bounds ``next_run_time``; ``exclude`` skips task ids (``--once``
    passes the ones it already ran)."""
    if limit <= 0:
        return []
    now = db_now(conn) if now is None else now
    parameters: dict[str, Any] = {
        "owner": owner,
        "limit": limit,
        "now": now,
        "due_by": now if due_by is None else due_by,
        "expires": now + int(lease_seconds * US),
        "exclude": list(exclude),
    }
    if providers is not None:
        parameters["providers"] = list(providers)
    claimed = conn.execute(_claim_statement(providers is not None), parameters).all()
    return sorted((_lease(row) for row in claimed), key=lambda lease: (lease.next_run_time, lease.task_id))


@functools.cache
def _claim_statement(by_provider: bool) -> Any:
    """The claim, built once (building it cost more CPU than the database spends running it): one
    statement, the due rows locked (skipping those another worker is claiming) and leased."""
    t = sync_tasks.c
    now = bindparam("now", type_=BigInteger)
    conditions = [
        t.next_run_time <= bindparam("due_by", type_=BigInteger),
        or_(t.lease_owner.is_(None), t.lease_expires_time.is_(None), t.lease_expires_time <= now),
        t.id.not_in(bindparam("exclude", expanding=True)),
    ]
    if by_provider:
        conditions.append(t.provider_name.in_(bindparam("providers", expanding=True)))
    candidates = (
        select(t.id)
        .where(and_(*conditions))
        .order_by(t.next_run_time, t.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    return (
        update(sync_tasks)
        .where(t.id.in_(candidates.scalar_subquery()))
        .values(
            lease_owner=bindparam("owner"),
            lease_expires_time=bindparam("expires", type_=BigInteger),
            lease_generation=t.lease_generation + 1,
            last_run_time=now,
            modified_time=now,
        )
        .returning(*sync_tasks.c)
    )


# The fence of every write a lease holder makes: the task's row only while its lease is still the
# holder's (owner and generation), as parameters (:func:`fence_parameters`), so each statement using
# it is built and compiled once.
HELD = and_(
    sync_tasks.c.id == bindparam("fence_task"),
    sync_tasks.c.lease_owner == bindparam("fence_owner"),
    sync_tasks.c.lease_generation == bindparam("fence_generation"),
)


def fence_parameters(lease: Lease) -> dict[str, Any]:
    """The values of :data:`HELD` for ``lease``."""
    return {"fence_task": lease.task_id, "fence_owner": lease.owner, "fence_generation": lease.generation}


_RENEW = update(sync_tasks).where(HELD).values(lease_expires_time=bindparam("expires", type_=BigInteger))


def renew(conn: Connection, lease: Lease, *, lease_seconds: float, now: int | None = None) -> Lease | None:
    """Extend a lease still held by ``lease.owner`` at ``lease.generation``; ``None`` when it was lost
    (reclaimed by another worker after expiring, or the task was deleted by a disconnect). A lease that
    expired but was not yet reclaimed is still ours and is renewed."""
    now = db_now(conn) if now is None else now
    expires = now + int(lease_seconds * US)
    result = conn.execute(_RENEW, {**fence_parameters(lease), "expires": expires})
    if result.rowcount != 1:
        return None
    return replace(lease, expires_time=expires)


def complete(
    conn: Connection,
    lease: Lease,
    *,
    next_run_time: int,
    outcome: str,
    error: dict[str, Any] | None = None,
    now: int | None = None,
    effective_interval: dict[str, float] | None = None,
) -> bool:
    """Release the lease and schedule the next run, if ``lease`` is still the task's current lease.

    ``outcome``: ``success`` (failure count reset, ``last_success_time`` set, error cleared),
    ``failure`` (failure count + 1, ``error`` recorded) or ``skipped`` (nothing ran: counters and
    error untouched). Returns ``False``, changing nothing, when the lease was lost (a stale owner)."""
    if outcome not in ("success", "failure", "skipped"):
        raise ValueError(f"unknown outcome {outcome!r}")
    now = db_now(conn) if now is None else now
    parameters: dict[str, Any] = {**fence_parameters(lease), "next_run": next_run_time, "now": now}
    if effective_interval is not None:
        parameters["interval"] = effective_interval
    if outcome == "failure":
        parameters["error"] = error
    result = conn.execute(_complete_statement(outcome, effective_interval is not None), parameters)
    return result.rowcount == 1


@functools.cache
def _complete_statement(outcome: str, interval: bool) -> Any:
    """The fenced completion for an outcome, built once (every run sends one): its values are
    parameters, so SQLAlchemy neither builds nor hashes it per run."""
    t = sync_tasks.c
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_time": None,
        "next_run_time": bindparam("next_run", type_=BigInteger),
        "modified_time": bindparam("now", type_=BigInteger),
    }
    if interval:
        values["effective_interval"] = bindparam("interval", type_=t.effective_interval.type)
    if outcome == "success":
        values.update(failure_count=0, last_success_time=bindparam("now", type_=BigInteger), last_error=None)
    elif outcome == "failure":
        values.update(
            failure_count=t.failure_count + 1, last_error=bindparam("error", type_=t.last_error.type)
        )
    return update(sync_tasks).where(HELD).values(**values)


def count_tasks(conn: Connection, provider_name: str) -> int:
    """The partner's tasks (one per connected person): the population its budget is shared by."""
    query = select(func.count()).select_from(sync_tasks).where(sync_tasks.c.provider_name == provider_name)
    return int(conn.execute(query).scalar_one())


def oldest_due(conn: Connection, now: int | None = None) -> int | None:
    """The ``next_run_time`` of the oldest due, unleased task (queue lag = now minus this)."""
    now = db_now(conn) if now is None else now
    t = sync_tasks.c
    query = select(func.min(t.next_run_time)).where(
        t.next_run_time <= now,
        or_(t.lease_owner.is_(None), t.lease_expires_time <= now),
    )
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else int(value)

"""The one owner of a data source's state: its transitions, and its typed sync state.

A data source is ``connected``, ``error`` or ``disconnected`` (the clinic API's pending connection
requests live beside it, in ``clinic_requests``, and end in a connect). Every change of ``state`` goes
through one function of this module:

- :func:`connect`: any state -> ``connected`` under a new provider session; a different partner
  account than before resets the data set, the times and the sync state (:meth:`SyncState.reset`);
- :func:`disconnect`: any state -> ``disconnected`` (the session is gone);
- :func:`fail`: ``connected`` -> ``error`` with a reason, *fenced*: only while the source still has
  the provider session the failure was decided under and, for a sync run, while the run's lease is
  still the task's. A run that outlived a reconnect (a new session) or lost its lease changes nothing,
  so a stale run can never mark a newer connection ``error``.

Each function takes the caller's connection and never commits (the caller's transaction decides), and
each bumps ``revision``. The sync state (``data_sources.sync_state``) is read and written only as a
:class:`SyncState`: versioned JSON, so a later shape can upgrade an older one on load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, exists, select, update

from inlet.db.schema import data_sources, sync_tasks
from inlet.partners.states import CONNECTED, DISCONNECTED, ERROR

SYNC_STATE_VERSION = 1


@dataclass
class SyncState:
    """What the sync engine remembers of a source between runs.

    ``streams``: the adapter's watermarks (``{"egvs": "2026-...Z", "lastSyncTime": ...}``);
    ``counters``: totals shown on the data source (runs, calls, records, skipped...);
    ``auth_failures`` / ``internal_failures``: such failures in a row (a success resets both)."""

    streams: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    auth_failures: int = 0
    internal_failures: int = 0
    version: int = SYNC_STATE_VERSION

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> SyncState:
        """The stored JSON (any version so far; ``None`` for a new source) as a :class:`SyncState`."""
        raw = raw or {}
        streams = raw.get("streams")
        counters = raw.get("counters")
        return cls(
            streams=dict(streams) if isinstance(streams, Mapping) else {},
            counters={k: int(v) for k, v in counters.items()} if isinstance(counters, Mapping) else {},
            auth_failures=int(raw.get("authFailures") or 0),
            internal_failures=int(raw.get("internalFailures") or 0),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "version": SYNC_STATE_VERSION,
            "streams": dict(self.streams),
            "counters": dict(self.counters),
            "authFailures": self.auth_failures,
            "internalFailures": self.internal_failures,
        }

    def reset(self) -> SyncState:
        """The state of a source connected to a different partner account: nothing of the old
        account's watermarks, counts or failures (its history must be fetched from the start)."""
        return SyncState()

    def count(self, **amounts: int) -> None:
        for key, value in amounts.items():
            self.counters[key] = self.counters.get(key, 0) + value


@dataclass(frozen=True)
class RunFence:
    """The sync task lease a decision was made under (a run's ``Lease``: task, owner, generation)."""

    task_id: str
    owner: str
    generation: int


def connect(
    conn: Connection,
    source: Any,
    session_id: str,
    external_id: str | None,
    now: int,
) -> None:
    """``source`` (a :class:`inlet.partners.service.DataSource`) -> ``connected`` under ``session_id``.

    When both the old and the new partner account are known and differ, the new account's history
    is its own: the data set, the data times and the sync state (:meth:`SyncState.reset`) start over."""
    values: dict[str, Any] = {
        "provider_session_id": session_id,
        "state": CONNECTED,
        "error": None,
        "modified_time": now,
        "revision": data_sources.c.revision + 1,
    }
    if external_id is not None:
        values["provider_external_id"] = external_id
        if source.provider_external_id not in (None, external_id):
            values.update(
                data_set_id=None,
                earliest_data_time=None,
                latest_data_time=None,
                last_import_time=None,
                sync_state=SyncState.load(source.sync_state).reset().dump(),
            )
    conn.execute(update(data_sources).where(data_sources.c.id == source.id).values(**values))


def disconnect(conn: Connection, source_id: str, now: int) -> None:
    """-> ``disconnected``: the provider session is gone (the caller deleted it)."""
    conn.execute(
        update(data_sources)
        .where(data_sources.c.id == source_id)
        .values(
            state=DISCONNECTED,
            provider_session_id=None,
            error=None,
            modified_time=now,
            revision=data_sources.c.revision + 1,
        )
    )


def fail(
    conn: Connection,
    source_id: str,
    session_id: str,
    error: Mapping[str, Any],
    now: int,
    fence: RunFence | None = None,
) -> bool:
    """``connected`` -> ``error`` with ``error`` (``{code, title, detail}``, shown on the profile),
    only while the source still holds ``session_id`` and (given a ``fence``) the run's lease is still
    the task's. Whether it changed: the caller tells people only when it did (once per event)."""
    s = data_sources.c
    conditions = [s.id == source_id, s.state == CONNECTED, s.provider_session_id == session_id]
    if fence is not None:
        t = sync_tasks.c
        conditions.append(
            exists(
                select(t.id).where(
                    t.id == fence.task_id,
                    t.lease_owner == fence.owner,
                    t.lease_generation == fence.generation,
                )
            )
        )
    changed = conn.execute(
        update(data_sources)
        .where(*conditions)
        .values(state=ERROR, error=dict(error), modified_time=now, revision=s.revision + 1)
    )
    return changed.rowcount == 1

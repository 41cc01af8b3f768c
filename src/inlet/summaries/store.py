"""Summaries in the database: marking them outdated, recomputing them from hourly buckets, reading.

Every function takes the caller's connection and never commits, so marking a summary outdated is
part of the transaction that stores (or deletes, or replaces) the data: either both happen or
neither.

**Incremental.** ``outdated_from`` keeps the earliest data time changed since the last computation.
A recomputation rebuilds only the buckets from that hour on (from the bucket just before it, it
takes each device's last counted reading, which is all the duplicate rule needs), keeps buckets for
the 60 days before the newest data (the 30-day period and the one before it) and then sums periods
from the buckets, so it never reads a person's older history. A from-scratch computation is the
same with ``outdated_from`` at the start of those 60 days.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from inlet.db.schema import device_data, summaries, summary_buckets, summary_periods
from inlet.model.timeutil import format_utc, from_micros
from inlet.summaries import compute as k
from inlet.summaries.patients import clinic_periods_json

DATA_ADDED = "DATA_ADDED"
UPLOAD_COMPLETED = "UPLOAD_COMPLETED"
DATA_DELETED = "DATA_DELETED"
SCHEMA_MIGRATION = "SCHEMA_MIGRATION"
TWO_YEARS_US = 730 * k.DAY_US
SUMMARY_TYPES_OF = {"cbg": (k.CGM, k.CON), "smbg": (k.BGM, k.CON)}


def _upsert_ignore(conn: Connection, table: Any, values: Sequence[dict[str, Any]]) -> None:
    if not values:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(values))


def mark_outdated(conn: Connection, user_id: str, earliest: Mapping[str, int], reason: str, now: int) -> None:
    """Mark ``user_id``'s summaries outdated: ``earliest`` maps a datum type (cbg, smbg) to the
    earliest data time that changed. ``outdated_since`` is kept when already set; the reason is added
    once; ``outdated_from`` moves back to the earliest change."""
    changed: dict[str, int] = {}
    for datum_type, time in earliest.items():
        for kind in SUMMARY_TYPES_OF.get(datum_type, ()):
            changed[kind] = min(time, changed.get(kind, time))
    if not changed:
        return
    upload = reason == UPLOAD_COMPLETED
    rows = [
        {
            "user_id": user_id,
            "type": kind,
            "outdated_since": now,
            "outdated_reasons": [reason],
            "outdated_from": start,
            **({"last_upload": now} if upload else {}),
        }
        for kind, start in sorted(changed.items())
    ]
    conn.execute(_mark_statement(conn.dialect.name == "postgresql", upload), rows)


@functools.cache
def _mark_statement(postgres: bool, upload: bool) -> Any:
    """The upsert :func:`mark_outdated` sends (one statement, however many rows: a partner sync marks
    on every batch): each row inserted already outdated, or its marks merged into the existing row,
    which the upsert locks as the SELECT ... FOR UPDATE did. Built once per dialect, so SQLAlchemy
    compiles it once; the rows (and the reason, each row's one-element ``outdated_reasons``) are its
    parameters."""
    statement = (postgresql if postgres else sqlite).insert(summaries)
    s, new = summaries.c, statement.excluded
    if postgres:
        # SQL NULL and JSON null (a computed summary's) alike: no reasons yet
        array = func.jsonb_typeof(s.outdated_reasons) == "array"
        reasons = case((array, s.outdated_reasons), else_=literal([], postgresql.JSONB))
        listed: Any = reasons.op("@>")(new.outdated_reasons)
        added: Any = reasons.op("||")(new.outdated_reasons)
        earlier: Any = func.least(s.outdated_from, new.outdated_from)
    else:
        reason = func.json_extract(new.outdated_reasons, "$[0]")
        reasons = case((func.json_type(s.outdated_reasons) == "array", s.outdated_reasons), else_="[]")
        # the reasons are upper-case names: the quoted name occurs in the array's text iff listed
        listed = func.instr(reasons, func.json_quote(reason)) > 0
        added = func.json_insert(reasons, "$[#]", reason)
        earlier = func.min(s.outdated_from, new.outdated_from)
    values: dict[str, Any] = {
        "outdated_since": func.coalesce(s.outdated_since, new.outdated_since),
        "outdated_reasons": case((listed, s.outdated_reasons), else_=added),
        "outdated_from": func.coalesce(earlier, new.outdated_from),
    }
    if upload:
        values["last_upload"] = new.last_upload
    return statement.on_conflict_do_update(index_elements=[s.user_id, s.type], set_=values)


def earliest_by_type(times: Iterable[tuple[str, int]], now: int) -> dict[str, int]:
    """The earliest time per summary datum type among ``(type, micros)``, ignoring what Tidepool
    ignores too: data more than 2 years old or more than a day in the future."""
    out: dict[str, int] = {}
    for datum_type, time in times:
        if datum_type in SUMMARY_TYPES_OF and now - TWO_YEARS_US <= time <= now + k.DAY_US:
            out[datum_type] = min(time, out.get(datum_type, time))
    return out


def earliest_in(conn: Connection, condition: Any, now: int) -> dict[str, int]:
    """The earliest cbg and smbg time among the rows ``condition`` selects (before they change)."""
    d = device_data.c
    rows = conn.execute(
        select(d.type, func.min(d.time))
        .where(condition, d.type.in_(tuple(SUMMARY_TYPES_OF)))
        .group_by(d.type)
    ).all()
    return earliest_by_type(((t, int(m)) for t, m in rows if m is not None), now)


# ---- computing ------------------------------------------------------------------------------------


def _readings(conn: Connection, user_id: str, kind: str, start: int, end: int) -> list[k.Reading]:
    """Active readings of one kind in ``[start, end)`` (superseded and tombstoned rows are inactive)."""
    d = device_data.c
    rows = conn.execute(
        select(d.time, d.device_id, d.doc["value"].as_float(), d.doc["sampleInterval"].as_float())
        .where(
            d.user_id == user_id,
            d.type == k.DATUM_TYPE[kind],
            d.active.is_(True),
            d.time >= start,
            d.time < end,
        )
        .order_by(d.time, d.pk)
    ).all()
    continuous = kind == k.CGM
    out = []
    for time, device, value, interval in rows:
        if value is None:
            continue
        weight = k.interval_ms(interval, device) if continuous else 0
        out.append(k.Reading(int(time), float(value), device or "", weight))
    return out


def _data_bounds(conn: Connection, user_id: str, kind: str, now: int) -> tuple[int | None, int | None]:
    d = device_data.c
    types = ("cbg", "smbg") if kind == k.CON else (k.DATUM_TYPE[kind],)
    row = conn.execute(
        select(func.min(d.time), func.max(d.time)).where(
            d.user_id == user_id, d.type.in_(types), d.active.is_(True), d.time <= now + k.DAY_US
        )
    ).one()
    return (int(row[0]) if row[0] is not None else None, int(row[1]) if row[1] is not None else None)


def _load_buckets(conn: Connection, user_id: str, kind: str, start: int) -> dict[int, dict[str, Any]]:
    b = summary_buckets.c
    rows = conn.execute(
        select(b.hour, b.doc).where(b.user_id == user_id, b.type == kind, b.hour >= start).order_by(b.hour)
    )
    return {int(hour): doc for hour, doc in rows}


def _rebuild_buckets(conn: Connection, user_id: str, kind: str, window: int, end: int, start: int) -> None:
    """Bring the stored buckets of one kind (cgm, bgm) to ``[window, end)``, rebuilding the hours
    from ``start`` on and dropping those before ``window``."""
    b = summary_buckets.c
    conn.execute(
        delete(summary_buckets).where(
            b.user_id == user_id, b.type == kind, (b.hour >= start) | (b.hour < window)
        )
    )
    if start >= end:
        return
    tail = None
    if kind == k.CGM and start > window:
        before = conn.execute(
            select(b.doc).where(b.user_id == user_id, b.type == kind, b.hour == start - k.HOUR_US)
        ).scalar()
        tail = (before or {}).get("tail")
    readings = _readings(conn, user_id, kind, start, end)
    buckets = k.build_buckets(readings, continuous=kind == k.CGM, tail=tail)
    if buckets:
        conn.execute(
            insert(summary_buckets),
            [
                {"user_id": user_id, "type": kind, "hour": hour, "doc": doc}
                for hour, doc in sorted(buckets.items())
            ],
        )


def _rebuild_from(row: Any, window: int, end: int, full: bool) -> int:
    """The first hour to rebuild: everything when asked, never computed, or when the window moved
    back (the newest data was deleted); else the hour of the earliest change (``end``: none)."""
    if full or row.bucket_start is None or row.bucket_start > window:
        return window
    if row.outdated_from is None:
        return end
    return max(window, k.hour_of(int(row.outdated_from)))


def recompute(conn: Connection, user_id: str, now: int, *, full: bool = False) -> None:
    """Recompute ``user_id``'s three summaries (incrementally unless ``full``) and mark them current."""
    s = summaries.c
    _upsert_ignore(conn, summaries, [{"user_id": user_id, "type": kind} for kind in k.TYPES])
    query = select(summaries).where(s.user_id == user_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    state = {row.type: row for row in conn.execute(query).all()}
    computed: dict[str, tuple[int, int, dict[int, dict[str, Any]]] | None] = {}
    for kind in (k.CGM, k.BGM):
        first, last = _data_bounds(conn, user_id, kind, now)
        if first is None or last is None:
            conn.execute(
                delete(summary_buckets).where(
                    summary_buckets.c.user_id == user_id, summary_buckets.c.type == kind
                )
            )
            computed[kind] = None
            continue
        end = k.hour_of(last) + k.HOUR_US
        window = end - k.BUCKET_DAYS * k.DAY_US
        _rebuild_buckets(conn, user_id, kind, window, end, _rebuild_from(state[kind], window, end, full))
        computed[kind] = (first, last, _load_buckets(conn, user_id, kind, window))
    parts = [x for x in (computed[k.CGM], computed[k.BGM]) if x is not None]
    computed[k.CON] = (
        (min(x[0] for x in parts), max(x[1] for x in parts), k.combine(*(x[2] for x in parts)))
        if parts
        else None
    )
    for kind in k.TYPES:
        row = state[kind]
        reasons = list(row.outdated_reasons or []) or ([SCHEMA_MIGRATION] if full else [])
        found = computed[kind]
        values: dict[str, Any] = {
            "outdated_since": None,
            "outdated_reasons": None,
            "outdated_from": None,
            "last_updated": now,
            "last_updated_reasons": reasons,
        }
        conn.execute(
            delete(summary_periods).where(
                summary_periods.c.user_id == user_id, summary_periods.c.type == kind
            )
        )
        if found is None:
            values.update(first_data=None, last_data=None, bucket_start=None, doc=None, clinic_periods=None)
        else:
            first, last, buckets = found
            end = k.hour_of(last) + k.HOUR_US
            periods = k.periods(buckets, last, kind)
            values.update(
                first_data=first,
                last_data=last,
                bucket_start=end - k.BUCKET_DAYS * k.DAY_US,
                doc={"periods": periods},
                clinic_periods=clinic_periods_json(periods, kind) if kind != k.CON else None,
            )
            if kind != k.CON:
                conn.execute(
                    insert(summary_periods),
                    [
                        {
                            "user_id": user_id,
                            "type": kind,
                            "period": name,
                            "last_data": last,
                            **k.flat_values(p, kind),
                        }
                        for name, p in periods.items()
                    ],
                )
        conn.execute(update(summaries).where(s.user_id == user_id, s.type == kind).values(**values))


def outdated_users(conn: Connection, limit: int = 250) -> list[str]:
    """The people whose summaries went outdated first (Tidepool's order), at most ``limit``."""
    s = summaries.c
    rows = conn.execute(
        select(s.user_id, func.min(s.outdated_since).label("since"))
        .where(s.outdated_since.is_not(None))
        .group_by(s.user_id)
        .order_by("since", s.user_id)
        .limit(limit)
    )
    return [row.user_id for row in rows]


# ---- reading --------------------------------------------------------------------------------------


def _time(micros: int | None) -> str | None:
    return format_utc(from_micros(micros).astimezone(UTC)) if micros is not None else None


def platform_summary(conn: Connection, user_id: str, kind: str) -> dict[str, Any] | None:
    """The platform's summary document, or None when the person has no data of that kind."""
    row = conn.execute(
        select(summaries).where(summaries.c.user_id == user_id, summaries.c.type == kind)
    ).first()
    if row is None or row.last_data is None:
        return None
    dates: dict[str, Any] = {
        "lastUpdatedDate": _time(row.last_updated),
        "lastUpdatedReason": list(row.last_updated_reasons or []),
        "firstData": _time(row.first_data),
        "lastData": _time(row.last_data),
    }
    if row.last_upload is not None:
        dates["lastUploadDate"] = _time(row.last_upload)
    if row.outdated_since is not None:
        dates["outdatedSince"] = _time(row.outdated_since)
        dates["outdatedReason"] = list(row.outdated_reasons or [])
    return {
        "id": f"{user_id}-{kind}",
        "type": kind,
        "userId": user_id,
        "config": dict(k.CONFIG),
        "dates": dates,
        "periods": (row.doc or {}).get("periods", {}),
    }


def summary_exists(conn: Connection, user_id: str) -> bool:
    return (
        conn.execute(select(summaries.c.user_id).where(summaries.c.user_id == user_id).limit(1)).first()
        is not None
    )

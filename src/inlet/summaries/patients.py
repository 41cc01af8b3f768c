"""The clinic's patient list with summaries: one indexed query filters, sorts and pages.

Each patient row is joined (by primary key) to its summary period rows of the chosen period (cgm and
bgm), whose every clinic field is a column, so ``cgm.timeInVeryLowPercent=>0.01`` is a plain column
comparison and ``sort=-timeInTargetPercent`` a plain ORDER BY, the same on SQLite and PostgreSQL. A
field a patient lacks (no data, or a period that does not qualify) is NULL: it never matches a filter
and sorts last either way. The page's summaries are then read for its patients only, with every
period as Tidepool's list answers them (its patients carry their whole summary; ``period`` chooses
what filters and sorts look at, not what is returned). The updater serializes each person's flat
periods once (``summaries.clinic_periods``), so the API copies them into its answer as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, exists, func, select
from sqlalchemy.sql import ColumnElement

from inlet.accounts import clinics as c
from inlet.db.schema import (
    SUMMARY_FIELDS,
    clinic_patient_tags,
    clinic_patients,
    clinic_reviews,
    summaries,
    summary_periods,
)
from inlet.model.timeutil import format_utc, from_micros
from inlet.summaries import compute as k

FILTER_VALUE = re.compile(r"^(>=|>|<=|<)([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$")
BGM_FIELDS = tuple(f for f in SUMMARY_FIELDS if "Minutes" not in f and not f.startswith("timeCGMUse"))
FIELDS = {k.CGM: SUMMARY_FIELDS, k.BGM: BGM_FIELDS}
INTEGER_FIELDS = {f for f in SUMMARY_FIELDS if f.endswith("Records")} | {"hoursWithData", "daysWithData"}
PATIENT_SORTS = ("fullName", "birthDate", "email", "mrn", "createdTime", "updatedTime")
SORTABLE = (*SUMMARY_FIELDS, "lastData", "lastReviewed", *PATIENT_SORTS)


PERIOD_ALIASES = {kind: summary_periods.alias(f"sp_{kind}") for kind in FIELDS}
"""The period rows joined to each patient, one alias per kind (built once: building an alias of a
78-column table costs more than the query it is used in)."""


@dataclass(frozen=True, slots=True)
class Filter:
    kind: str  # cgm, bgm
    name: str  # a summary field, lastDataFrom or lastDataTo
    op: str
    value: float


@dataclass(slots=True)
class PatientQuery:
    clinic_id: str
    period: str = "14d"
    sort_type: str = k.CGM
    sort: str | None = None
    search: str | None = None
    tags: Sequence[str] = ()
    filters: Sequence[Filter] = ()
    offset: int = 0
    limit: int = 10
    last_reviewed: int | None = None  # microseconds: last reviewed at or before (never reviewed: no)
    extra: list[ColumnElement[bool]] = field(default_factory=list)


class BadParameter(ValueError):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name
        self.detail = detail


def parse_filters(params: Mapping[str, str], parse_time: Any) -> list[Filter]:
    """``cgm.<field>=<op><number>`` / ``bgm.<field>=...`` and ``cgm.lastDataFrom``/``To`` (RFC 3339)."""
    found = []
    for key, value in params.items():
        kind, dot, name = key.partition(".")
        if not dot or kind not in FIELDS:
            continue
        if name in ("lastDataFrom", "lastDataTo"):
            micros = parse_time(value)
            if micros is None:
                raise BadParameter(key, f"{key} must be an RFC 3339 time")
            found.append(Filter(kind, name, ">=" if name == "lastDataFrom" else "<", float(micros)))
            continue
        if name not in FIELDS[kind]:
            raise BadParameter(key, f"{key} is not a {kind} summary field")
        match = FILTER_VALUE.match(value)
        if match is None:
            raise BadParameter(key, f"{key} must match ^(>=|>|<=|<)[+-]?number$")
        found.append(Filter(kind, name, match.group(1), float(match.group(2))))
    return found


def _compare(column: Any, op: str, value: float) -> ColumnElement[bool]:
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    return column < value  # type: ignore[no-any-return]


def _last_reviewed() -> Any:
    r = clinic_reviews.c
    return (
        select(func.max(r.time))
        .where(r.clinic_id == clinic_patients.c.clinic_id, r.user_id == clinic_patients.c.user_id)
        .scalar_subquery()
    )


def list_patients(
    conn: Connection, query: PatientQuery, *, raw: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """A page of the clinic's patients, each with ``summary: {cgmStats, bgmStats}``, ``tags``,
    ``reviews`` and ``lastReviewed``, and how many match in all. ``raw``: each stats object's
    ``periods`` is the stored JSON as an ``orjson.Fragment`` (for an answer, not for reading)."""
    cp = clinic_patients.c
    periods = PERIOD_ALIASES
    filtered = {f.kind for f in query.filters}
    sorted_by = set()
    if query.sort and query.sort[1:] not in (*PATIENT_SORTS, "lastReviewed"):
        sorted_by.add(query.sort_type)

    def joined(kinds: set[str]) -> Any:
        """The patients with the period rows of ``kinds`` (joins nothing else needs are left out)."""
        source: Any = clinic_patients
        for kind in sorted(kinds):
            alias = periods[kind]
            source = source.outerjoin(
                alias,
                and_(alias.c.user_id == cp.user_id, alias.c.type == kind, alias.c.period == query.period),
            )
        return source

    conditions: list[ColumnElement[bool]] = [cp.clinic_id == query.clinic_id, *query.extra]
    if query.search:
        pattern = f"%{c._escape_like(query.search.lower())}%"
        conditions.append(
            func.lower(cp.doc["fullName"].as_string()).like(pattern, escape="\\")
            | func.lower(cp.doc["email"].as_string()).like(pattern, escape="\\")
            | func.lower(cp.doc["mrn"].as_string()).like(pattern, escape="\\")
        )
    t = clinic_patient_tags.c
    for tag in query.tags:
        conditions.append(
            exists().where(t.clinic_id == cp.clinic_id, t.user_id == cp.user_id, t.tag_id == tag)
        )
    if query.last_reviewed is not None:
        # Tidepool's ``reviews.0.time <= lastReviewed``: the newest review, and only the reviewed.
        conditions.append(_last_reviewed() <= query.last_reviewed)
    for f in query.filters:
        alias = periods[f.kind]
        target = alias.c.last_data if f.name.startswith("lastData") else alias.c[f.name]
        conditions.append(_compare(target, f.op, f.value))
    where = and_(*conditions)
    order: list[Any] = []
    if query.sort:
        descending, name = query.sort[0] == "-", query.sort[1:]
        alias = periods[query.sort_type]
        column: Any
        if name == "lastData":
            column = alias.c.last_data
        elif name == "lastReviewed":
            column = _last_reviewed()
        elif name in ("createdTime", "updatedTime"):
            column = cp.created_time if name == "createdTime" else cp.updated_time
        elif name in PATIENT_SORTS:
            column = func.lower(cp.doc[name].as_string())
        else:
            column = alias.c[name]
        order.append((column.desc() if descending else column.asc()).nulls_last())
    order += [cp.created_time, cp.user_id]
    # The page's ids first (a sort that carries only keys), then its records by primary key. The
    # count: for a narrowed list (filters, search, tags) a window over the page's own scan, which
    # counting again would repeat; for the whole clinic its own statement, an index-only count
    # (a window there costs the page scan a third more). The outer joins are on unique keys, so
    # they add no rows either way; a page past the end has no row to carry the window and counts
    # separately.
    narrowed = bool(query.filters or query.search or query.tags or query.last_reviewed is not None)
    columns: list[Any] = [cp.user_id]
    if narrowed:
        columns.append(func.count().over().label("total"))
    page = conn.execute(
        select(*columns)
        .select_from(joined(filtered | sorted_by))
        .where(where)
        .order_by(*order)
        .offset(query.offset)
        .limit(query.limit)
    ).all()
    page_ids = [row.user_id for row in page]
    if narrowed and page:
        count = int(page[0].total)
    else:
        count = int(
            conn.execute(select(func.count()).select_from(joined(filtered)).where(where)).scalar_one()
        )
    found = (
        {
            row.user_id: c.Patient.from_row(row)
            for row in conn.execute(
                select(clinic_patients).where(cp.clinic_id == query.clinic_id, cp.user_id.in_(page_ids))
            )
        }
        if page_ids
        else {}
    )
    patients = [found[user_id] for user_id in page_ids if user_id in found]
    stats = page_summaries(conn, [p.user_id for p in patients], raw=raw)
    reviews = page_reviews(conn, query.clinic_id, [p.user_id for p in patients])
    out = []
    for patient in patients:
        body = patient.public()
        body["summary"] = stats.get(patient.user_id, {})
        body["reviews"] = reviews.get(patient.user_id, [])
        if body["reviews"]:
            body["lastReviewed"] = body["reviews"][0]
        out.append(body)
    return out, count


def _time(micros: int | None) -> str | None:
    return format_utc(from_micros(micros)) if micros is not None else None


def _layout(kind: str) -> list[tuple[str, str, str, bool]]:
    """Per field of ``kind``: its name, ``has<Name>``, ``<name>Delta`` and whether it is a count."""
    return [
        (name, f"has{name[0].upper()}{name[1:]}", f"{name}Delta", name in INTEGER_FIELDS)
        for name in FIELDS[kind]
    ]


LAYOUT = {kind: _layout(kind) for kind in FIELDS}


def flat_from_columns(m: Any, kind: str) -> dict[str, Any]:
    """A period row in the clinic's flat names: ``<name>``, ``has<Name>``, ``<name>Delta``."""
    out: dict[str, Any] = {}
    for name, has, delta_name, integer in LAYOUT[kind]:
        value, delta = m[name], m[delta_name]
        out[has] = value is not None
        if value is not None:
            out[name] = int(value) if integer else value
        if delta is not None:
            out[delta_name] = int(delta) if integer else delta
    return out


def clinic_periods_json(periods: Mapping[str, Mapping[str, Any]], kind: str) -> str:
    """Every period of a summary in the clinic's flat names, as the JSON text the list answers (what
    the updater stores in ``summaries.clinic_periods``)."""
    return orjson.dumps(
        {name: flat_from_columns(k.flat_values(period, kind), kind) for name, period in periods.items()}
    ).decode()


def page_summaries(
    conn: Connection, user_ids: Sequence[str], *, raw: bool = False
) -> dict[str, dict[str, Any]]:
    """``{user: {cgmStats, bgmStats}}`` for a page of patients: dates, config and every period
    (Tidepool's list carries the whole summary). The periods come from the JSON the updater stored;
    a summary computed before it stored them (migration 0023) is built from its period rows."""
    if not user_ids:
        return {}
    s = summaries.c
    out: dict[str, dict[str, Any]] = {}
    missing: dict[tuple[str, str], dict[str, Any]] = {}
    for row in conn.execute(
        select(
            s.user_id,
            s.type,
            s.last_data,
            s.first_data,
            s.last_updated,
            s.last_upload,
            s.outdated_since,
            s.clinic_periods,
        ).where(s.user_id.in_(user_ids), s.type.in_(tuple(FIELDS)), s.last_data.is_not(None))
    ):
        dates = {
            "lastData": _time(row.last_data),
            "firstData": _time(row.first_data),
            "lastUpdatedDate": _time(row.last_updated),
        }
        if row.last_upload is not None:
            dates["lastUploadDate"] = _time(row.last_upload)
        if row.outdated_since is not None:
            dates["outdatedSince"] = _time(row.outdated_since)
        stats: dict[str, Any] = {"dates": dates, "config": dict(k.CONFIG)}
        if row.clinic_periods is None:
            stats["periods"] = missing[(row.user_id, row.type)] = {}
        elif raw:
            stats["periods"] = orjson.Fragment(row.clinic_periods)
        else:
            stats["periods"] = orjson.loads(row.clinic_periods)
        out.setdefault(row.user_id, {})[f"{row.type}Stats"] = stats
    if missing:
        p = summary_periods.c
        for row in conn.execute(
            select(summary_periods)
            .where(p.user_id.in_(sorted({user for user, _ in missing})))
            .order_by(p.user_id, p.type, p.last_data)
        ):
            target = missing.get((row.user_id, row.type))
            if target is not None:
                target[row.period] = flat_from_columns(row._mapping, row.type)
        for target in missing.values():  # the periods' order, as the updater writes them
            ordered = {name: target[name] for name in k.PERIODS if name in target}
            target.clear()
            target.update(ordered)
    return out


def page_reviews(
    conn: Connection, clinic_id: str, user_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The page's reviews, newest first (at most two each, as Tidepool keeps)."""
    if not user_ids:
        return {}
    r = clinic_reviews.c
    out: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(
        select(r.user_id, r.clinician_id, r.time)
        .where(r.clinic_id == clinic_id, r.user_id.in_(user_ids))
        .order_by(r.user_id, r.time.desc(), r.id.desc())
    ):
        items = out.setdefault(row.user_id, [])
        if len(items) < 2:
            items.append({"clinicianId": row.clinician_id, "time": _time(row.time)})
    return out

"""The read side of device data: ``GET /data/:userId`` (tide-whisperer compatible) and the data set list.

Only active data is ever served. ``device_data.doc`` holds exactly what is served (no storage-only
field), so the read path streams the stored JSON text without decoding it: ``doc::text`` on
PostgreSQL (no JSONB re-serialization in Python), the stored text on SQLite. Rows come in time order
from the ``(user_id, time)`` / ``(user_id, type, time)`` indexes through a server-side cursor, so memory
stays flat however many years a user has.

Upload records (``type: "upload"``) live in ``data_sets``; they are merged into the stream in time
order when the query asks for uploads (no ``type`` filter, or ``type`` includes ``upload``). A data set
is "visible" (Tidepool's ``_active``) when it is not deleted and is either closed or continuous.

Filters (see :class:`DataQuery`):

- ``type``, ``subType``: comma lists; a datum matches when its ``type`` (``subType`` field) is one of
  them. As in tide-whisperer, a ``subType`` filter also drops data that has no ``subType``.
- ``startDate``, ``endDate``: inclusive bounds on ``time``.
- ``uploadId``, ``deviceId``: equality. With ``uploadId`` no source-based filter applies (cloud CGM,
  Medtronic), as in tide-whisperer.
- ``latest``: the newest datum of each type (each requested type, or every known type).
- ``sampleIntervalMinimum`` (ms): cbg data whose ``sampleInterval`` is below it is left out; cbg without
  ``sampleInterval`` and other types are kept. Absent: no filter.
- ``dosingDecision.reason``: comma list; dosingDecision data is kept only when its ``reason`` is one of
  them; other types are unaffected.
- Cloud CGM overlap (``cbgFilter``, legacy ``dexcom``): see :func:`cloud_spans`. On by default; off with
  ``cbgFilter=false`` or ``dexcom=true``.
- Legacy ``medtronic``: tide-whisperer's rule. When the user has Medtronic data from Loop
  (``origin.payload.device.manufacturer == "Medtronic"``) after 2017-09-01 and ``medtronic`` is not
  true, basal, bolus and cbg from direct uploads of loopable Medtronic pumps (models 523, 523K, 554,
  723, 723K, 754) after that date are hidden: Loop reports the same deliveries.
- Legacy ``carelink``: accepted and validated. tide-whisperer hides data with ``source: "carelink"``;
  Inlet's data model has no ``source`` field, so no stored datum can match and the flag changes nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    cast,
    not_,
    or_,
    select,
    type_coerce,
    union_all,
)

from inlet.db.schema import data_sets, device_data
from inlet.model.parse import type_names
from inlet.model.timeutil import parse_rfc3339, to_micros

d = device_data
ds = data_sets

CLOUD_CLIENT_NAME_PREFIXES = ("org.tidepool.oauth.", "org.inlet.partner.")
"""A data set is a *cloud* data set when its ``client.name`` starts with one of these: Tidepool's
partner fetches create continuous sets named ``org.tidepool.oauth.<provider>.fetch``; Inlet's own
partner sync names its sets ``org.inlet.partner.<slug>``. (When the data sources table lands, its
``dataSetIds`` become the authority.)"""

MEDTRONIC_LOOP_BOUNDARY = to_micros(datetime(2017, 9, 1, tzinfo=UTC))
LOOPABLE_MEDTRONIC_MODELS = ("523", "523K", "554", "723", "723K", "754")
HIDDEN_FIELDS = frozenset(
    {
        "_id",
        "_userId",
        "_groupId",
        "_version",
        "_active",
        "_schemaVersion",
        "createdTime",
        "modifiedTime",
        "provenance",
    }
)
"""Fields the read API never serves (tide-whisperer's projection plus ``provenance``)."""

_BOOL_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_BOOL_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INT64_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
_FETCH = 2000


class InvalidParameter(ValueError):
    """A query parameter that cannot be read; ``parameter`` names it."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.parameter = parameter


def parse_go_bool(value: str) -> bool | None:
    """Go's ``strconv.ParseBool``: the spellings tide-whisperer and the platform accept."""
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    return None


def parse_query_time(value: str) -> datetime | None:
    """An RFC 3339 time, read leniently: the platform client does not URL-encode query values, so a
    ``+02:00`` offset arrives as `` 02:00``; a lower-case ``t``/``z`` and surrounding blanks are fine."""
    text = value.strip()
    if len(text) > 6 and text[-6] == " " and text[-3] == ":":
        text = text[:-6] + "+" + text[-5:]
    if " " in text and "T" not in text and "t" not in text:
        text = text.replace(" ", "T", 1)
    return parse_rfc3339(text)


def split_list(value: str | None) -> list[str] | None:
    """A comma list without empty items; ``None`` when nothing is left (no filter)."""
    if value is None:
        return None
    items = [item for item in (part.strip() for part in value.split(",")) if item]
    return items or None


@dataclass(slots=True)
class DataQuery:
    """What ``GET /data/:userId`` asks for, parsed and validated."""

    user_id: str
    types: list[str] | None = None
    sub_types: list[str] | None = None
    start: int | None = None
    end: int | None = None
    upload_id: str | None = None
    device_id: str | None = None
    latest: bool = False
    cloud_filter: bool = True
    sample_interval_minimum: int | None = None
    reasons: list[str] | None = None
    medtronic: bool | None = None
    carelink: bool | None = None

    @classmethod
    def from_params(cls, user_id: str, params: Mapping[str, list[str]]) -> DataQuery:
        """Parse query parameters (name -> every value given); raises :class:`InvalidParameter`."""

        for name, values in params.items():
            if any("\x00" in value for value in values):
                raise InvalidParameter(name, f"{name} contains a NUL character")

        def last(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        def first(name: str) -> str | None:
            values = params.get(name)
            return values[0] if values else None

        def flag(name: str) -> bool | None:
            value = last(name)
            if value is None:
                return None
            parsed = parse_go_bool(value)
            if parsed is None:
                raise InvalidParameter(name, f"{name} parameter not valid")
            return parsed

        def when(name: str) -> int | None:
            value = first(name)
            if value is None or value == "":
                return None
            parsed = parse_query_time(value)
            if parsed is None:
                raise InvalidParameter(name, f"{name} is not an RFC 3339 time")
            try:
                return to_micros(parsed)
            except (OverflowError, ValueError) as error:
                raise InvalidParameter(name, f"{name} is out of range") from error

        query = cls(user_id=user_id)
        query.types = split_list(first("type"))
        query.sub_types = split_list(first("subType"))
        query.start = when("startDate")
        query.end = when("endDate")
        query.upload_id = first("uploadId") or None
        query.device_id = first("deviceId") or None
        query.latest = bool(flag("latest"))
        query.reasons = split_list(first("dosingDecision.reason"))
        query.carelink = flag("carelink")
        query.medtronic = flag("medtronic")
        dexcom = flag("dexcom")
        cbg_filter = flag("cbgFilter")
        query.cloud_filter = cbg_filter is not False and dexcom is not True
        minimum = first("sampleIntervalMinimum")
        if minimum is not None and minimum.strip() != "":
            try:
                value = int(minimum.strip())
            except ValueError as error:
                raise InvalidParameter(
                    "sampleIntervalMinimum", "sampleIntervalMinimum is not an integer"
                ) from error
            query.sample_interval_minimum = max(min(value, _INT32_MAX), -_INT32_MAX)  # SQL INTEGER
        return query


@dataclass(slots=True)
class Span:
    lo: int
    hi: int


@dataclass(slots=True)
class ReadPlan:
    """A :class:`DataQuery` with its data-dependent filters resolved against the database."""

    query: DataQuery
    cloud_set_ids: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    medtronic_upload_ids: list[str] = field(default_factory=list)
    uploads: list[tuple[int, str]] = field(default_factory=list)
    """The upload records to serve, as (time, JSON), in time order."""


# ---- data sets --------------------------------------------------------------------------------------


def _doc_of(value: Any) -> dict[str, Any]:
    if isinstance(value, (str, bytes)):
        loaded = orjson.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value) if isinstance(value, dict) else {}


def list_user_data_sets(
    conn: Connection,
    user_id: str,
    *,
    client_name: str | None = None,
    device_id: str | None = None,
    deleted: bool = False,
    page: int = 0,
    size: int = 100,
) -> list[dict[str, Any]]:
    """The platform's ``ListUserDataSets``: visible sets, newest created first, one page."""
    offset = page * size
    if offset > _INT64_MAX - size:
        return []
    # visible (Tidepool's ``_active`` for upload records): closed, or continuous
    conditions = [ds.c.user_id == user_id, _visible()]
    if not deleted:
        conditions.append(ds.c.deleted_time.is_(None))
    if client_name is not None:
        conditions.append(ds.c.client_name == client_name)
    if device_id is not None:
        conditions.append(ds.c.device_id == device_id)
    query = (
        select(ds.c.doc)
        .where(*conditions)
        .order_by(ds.c.created_time.desc(), ds.c.id.desc())
        .offset(offset)
        .limit(size)
    )
    return [_doc_of(row.doc) for row in conn.execute(query)]


def _visible() -> ColumnElement[bool]:
    """Tidepool's ``_active`` for an upload record: closed, or continuous."""
    return or_(ds.c.state == "closed", ds.c.data_set_type == "continuous")


def _wants_uploads(query: DataQuery) -> bool:
    # upload records have no subType, so a subType filter leaves them out
    return (query.types is None or "upload" in query.types) and query.sub_types is None


def upload_records(conn: Connection, query: DataQuery) -> list[tuple[int, str]]:
    """The visible upload records that pass the query, as (time, JSON) in time order: one query on
    ``(user_id, time)``, so a window of 14 days reads the records of those 14 days, not every one."""
    if not _wants_uploads(query):
        return []
    where = [ds.c.user_id == query.user_id, ds.c.deleted_time.is_(None), _visible()]
    if query.upload_id is not None:
        where.append(ds.c.id == query.upload_id)
    if query.device_id is not None:
        where.append(ds.c.device_id == query.device_id)
    if query.start is not None:
        where.append(ds.c.time >= query.start)
    if query.end is not None:
        where.append(ds.c.time <= query.end)
    statement = select(ds.c.time, ds.c.doc).where(*where)
    if query.latest:
        statement = statement.order_by(ds.c.time.desc(), ds.c.id.desc()).limit(1)
    else:
        statement = statement.order_by(ds.c.time, ds.c.id)
    out: list[tuple[int, str]] = []
    for row in conn.execute(statement):
        doc = _doc_of(row.doc)
        for key in HIDDEN_FIELDS.intersection(doc):
            del doc[key]
        out.append((row.time, orjson.dumps(doc).decode()))
    out.sort(key=itemgetter(0))
    return out


# ---- resolving the data-dependent filters ---------------------------------------------------------


def cloud_spans(conn: Connection, user_id: str) -> tuple[list[str], list[Span]]:
    """The user's cloud CGM data sets and the time spans their cbg covers, in one statement.

    A cloud set is a data set named by :data:`CLOUD_CLIENT_NAME_PREFIXES` (not deleted; the ``cloud``
    column, set when the set is created); its span is [earliest, latest] of its active cbg, two
    index seeks on ``(data_set_id, type, time)``. Within a span, cbg of every *other* data set is
    hidden at read time (stored, never deleted): the same sensor seen through a pump or receiver
    upload and through the partner cloud is shown once, from the cloud. This is tide-whisperer's
    Dexcom rule (one span per data source, from its earliestDataTime to latestDataTime) applied to
    every cloud CGM source. A cloud set without cbg has no span and hides nothing.
    """

    def end(ascending: bool) -> Any:
        order = d.c.time.asc() if ascending else d.c.time.desc()
        return (
            select(d.c.time)
            .where(
                d.c.user_id == user_id,
                d.c.data_set_id == ds.c.id,
                d.c.type == "cbg",
                d.c.active.is_(True),
            )
            .order_by(order)
            .limit(1)
            .scalar_subquery()
        )

    rows = conn.execute(
        select(ds.c.id, end(True).label("lo"), end(False).label("hi"))
        .where(ds.c.user_id == user_id, ds.c.cloud.is_(True), ds.c.deleted_time.is_(None))
        .order_by(ds.c.id)
    ).all()
    ids = [row.id for row in rows]
    spans = [Span(row.lo, row.hi if row.hi is not None else row.lo) for row in rows if row.lo is not None]
    return ids, spans


def medtronic_upload_ids(conn: Connection, query: DataQuery) -> list[str]:
    """tide-whisperer's Medtronic rule: ids of direct uploads of loopable Medtronic pumps after the
    boundary, when the user also has Medtronic data from Loop after it (else none). One query on
    ``(user_id, device_model)``, and the Loop check only when there are such uploads."""
    if query.medtronic is True:
        return []
    candidates = list(
        conn.execute(
            select(ds.c.id).where(
                ds.c.user_id == query.user_id,
                ds.c.device_model.in_(LOOPABLE_MEDTRONIC_MODELS),
                ds.c.deleted_time.is_(None),
                _visible(),
                ds.c.time >= MEDTRONIC_LOOP_BOUNDARY,
            )
        ).scalars()
    )
    if not candidates:
        return []
    if query.medtronic is None:
        manufacturer = d.c.doc[("origin", "payload", "device", "manufacturer")].as_string()
        has_loop = conn.execute(
            select(d.c.pk)
            .where(
                d.c.user_id == query.user_id,
                d.c.active.is_(True),
                d.c.time >= MEDTRONIC_LOOP_BOUNDARY,
                d.c.origin_id.is_not(None),
                manufacturer == "Medtronic",
            )
            .limit(1)
        ).first()
        if has_loop is None:
            return []
    return candidates


def prepare(conn: Connection, query: DataQuery) -> ReadPlan:
    """Resolve the data-dependent filters and the upload records: at most four indexed queries
    whatever the number of the user's data sets (upload records of the window, cloud spans, the
    loopable Medtronic uploads and, only when there are some, the Loop check)."""
    plan = ReadPlan(query)
    by_source = query.upload_id is None
    cloud = by_source and query.cloud_filter and (query.types is None or "cbg" in query.types)
    medtronic = by_source and (query.types is None or bool({"basal", "bolus", "cbg"} & set(query.types)))
    plan.uploads = upload_records(conn, query)
    if cloud:
        plan.cloud_set_ids, spans = cloud_spans(conn, query.user_id)
        plan.spans = [
            s
            for s in spans
            if (query.start is None or s.hi >= query.start) and (query.end is None or s.lo <= query.end)
        ]
    if medtronic:
        plan.medtronic_upload_ids = medtronic_upload_ids(conn, query)
    return plan


# ---- the device data query -----------------------------------------------------------------------


def _doc_text(conn: Connection) -> ColumnElement[Any]:
    """The stored JSON as ``str`` on both drivers: ``doc::text`` on PostgreSQL (psycopg would decode
    JSONB into Python objects), the stored text itself on SQLite."""
    if conn.dialect.name == "postgresql":
        return cast(d.c.doc, Text).label("doc")
    return type_coerce(d.c.doc, Text).label("doc")


def conditions(plan: ReadPlan) -> list[ColumnElement[bool]]:
    q = plan.query
    where: list[ColumnElement[bool]] = [d.c.user_id == q.user_id, d.c.active.is_(True)]
    if q.types is not None:
        where.append(d.c.type.in_(q.types))
    if q.sub_types is not None:
        # the datum's own ``subType`` field (the indexed sub_type column also holds basal's deliveryType)
        where.append(d.c.doc["subType"].as_string().in_(q.sub_types))
    if q.start is not None:
        where.append(d.c.time >= q.start)
    if q.end is not None:
        where.append(d.c.time <= q.end)
    if q.device_id is not None:
        where.append(d.c.device_id == q.device_id)
    if q.upload_id is not None:
        where.append(d.c.data_set_id == q.upload_id)
    if q.sample_interval_minimum is not None:
        interval = d.c.doc["sampleInterval"].as_integer()
        where.append(or_(d.c.type != "cbg", interval.is_(None), interval >= q.sample_interval_minimum))
    if q.reasons is not None:
        where.append(or_(d.c.type != "dosingDecision", d.c.doc["reason"].as_string().in_(q.reasons)))
    for span in plan.spans:
        hidden = and_(
            d.c.type == "cbg",
            d.c.data_set_id.not_in(plan.cloud_set_ids),
            d.c.time >= span.lo,
            d.c.time <= span.hi,
        )
        where.append(not_(hidden))
    if plan.medtronic_upload_ids:
        where.append(
            not_(
                and_(
                    d.c.time >= MEDTRONIC_LOOP_BOUNDARY,
                    d.c.type.in_(("basal", "bolus", "cbg")),
                    d.c.data_set_id.in_(plan.medtronic_upload_ids),
                )
            )
        )
    return where


PAGE = 5000
"""Rows fetched per query. A read fetches a page, gives the connection back, then sends it: a slow
client never pins a pooled connection (or SQLite's WAL snapshot). The next page starts after the
last row's (time, pk), so every page is one range scan of the ``(user_id, time)`` index."""

Key = tuple[int, int]


def device_data_query(
    conn: Connection, plan: ReadPlan, after: Key | None = None, limit: int | None = None
) -> Select[Any]:
    """Matching data (a page of ``limit`` rows after ``after``, or all of it), in (time, pk) order:
    the ``(user_id, time)`` index gives the order; pk breaks ties so that pages neither skip nor
    repeat a row."""
    where = conditions(plan)
    if after is not None:
        time, pk = after
        where.append(d.c.time >= time)
        where.append(or_(d.c.time > time, d.c.pk > pk))
    return select(d.c.time, d.c.pk, _doc_text(conn)).where(*where).order_by(d.c.time, d.c.pk).limit(limit)


def latest_rows(conn: Connection, plan: ReadPlan) -> list[tuple[int, str]]:
    """The newest matching datum of each type, in one statement: a ``UNION ALL`` of one index seek on
    ``(user_id, type, time)`` per type (a round trip per type would cost more than the seeks)."""
    q = plan.query
    types = [
        name for name in dict.fromkeys(q.types if q.types is not None else type_names()) if name != "upload"
    ]
    if not types:
        return []
    where = conditions(plan)
    parts = [
        select(
            select(d.c.time, _doc_text(conn))
            .where(*where, d.c.type == name)
            # (type, time) descending is the (user_id, type, time) index read backwards: ordering by
            # time alone lets PostgreSQL walk (user_id, time) and scan every row of a type the user
            # has none of
            .order_by(d.c.type.desc(), d.c.time.desc())
            .limit(1)
            .subquery()
        )
        for name in types
    ]
    found = [(row[0], row[1]) for row in conn.execute(union_all(*parts))]
    found.sort(key=itemgetter(0))
    return found


@dataclass(slots=True)
class Page:
    """Rows ``(time, doc text)`` of one query, and where the next page starts (``None``: no more)."""

    rows: list[tuple[int, str]]
    after: Key | None


def fetch_page(conn: Connection, plan: ReadPlan, after: Key | None = None, limit: int = PAGE) -> Page:
    """One page of the response's device data (or, for ``latest``, all of it)."""
    if plan.query.latest:
        return Page(latest_rows(conn, plan), None)
    statement = device_data_query(conn, plan, after, limit)
    if conn.dialect.name == "sqlite":
        # the columns need no conversion: read the driver's cursor (SQLAlchemy rows would double the
        # cost of a large read)
        result = conn.execute(statement)
        try:
            raw = result.cursor.fetchall()
        finally:
            result.close()
    else:
        raw = conn.execute(statement).all()
    if len(raw) < limit:
        return Page([(row[0], row[2]) for row in raw], None)
    return Page([(row[0], row[2]) for row in raw], (raw[-1][0], raw[-1][1]))


def stream_json(
    connect: Callable[[], Connection], plan: ReadPlan, first: Page, limit: int = PAGE
) -> Iterator[bytes]:
    """The response body: a JSON array of every matching datum and upload record, in time order,
    one chunk per page. ``first`` was fetched on the request's connection; each further page takes
    a connection from ``connect`` only while it fetches.

    The stored JSON text goes out as it is: a page is joined and encoded at once, so the cost per
    datum stays close to the driver's own."""
    uploads = plan.uploads
    pending = 0
    opening = b"[\n"
    page: Page | None = first
    while page is not None:
        part = page.rows
        if part:
            last = part[-1][0]
            if pending < len(uploads) and uploads[pending][0] <= last:
                cut = pending
                while cut < len(uploads) and uploads[cut][0] <= last:
                    cut += 1
                merged = heapq.merge(uploads[pending:cut], part, key=itemgetter(0))
                texts = [item[1] for item in merged]
                pending = cut
            else:
                texts = [row[1] for row in part]
            yield opening + ",\n".join(texts).encode()
            opening = b",\n"
        if page.after is None:
            break
        with connect() as conn:
            page = fetch_page(conn, plan, page.after, limit)
    if pending < len(uploads):
        yield opening + ",\n".join(item[1] for item in uploads[pending:]).encode()
        opening = b",\n"
    yield b"[]" if opening == b"[\n" else b"\n]"


__all__ = [
    "CLOUD_CLIENT_NAME_PREFIXES",
    "DataQuery",
    "InvalidParameter",
    "ReadPlan",
    "cloud_spans",
    "fetch_page",
    "list_user_data_sets",
    "parse_go_bool",
    "parse_query_time",
    "prepare",
    "stream_json",
]

"""Reading the export's documents: exactly what ``GET /data/:userId`` serves for the window.

The read goes through the read API's own query (:mod:`inlet.data.queries`: active data, its cloud CGM
overlap and Medtronic rules, upload records merged in time order), in batches from a server-side
cursor on PostgreSQL and the driver's cursor on SQLite, so a many-year export keeps memory flat.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, select

from inlet.accounts.service import AccountService
from inlet.data import queries
from inlet.db.engine import read_only
from inlet.db.schema import device_data
from inlet.exports.units import MMOLL, in_units
from inlet.exports.xlsx import write_workbook

FETCH = 2000


def plan_for(conn: Connection, user_id: str, start: int | None, end: int | None) -> queries.ReadPlan:
    """The read of ``GET /data/:userId?startDate&endDate`` (micros, inclusive), resolved."""
    return queries.prepare(conn, queries.DataQuery(user_id=user_id, start=start, end=end))


def count(conn: Connection, plan: queries.ReadPlan) -> int:
    """How many documents the export holds (for a progress bar)."""
    total = conn.execute(
        select(func.count()).select_from(device_data).where(*queries.conditions(plan))
    ).scalar_one()
    return int(total) + len(plan.uploads)


def _rows(conn: Connection, plan: queries.ReadPlan) -> Iterator[list[Any]]:
    statement = queries.device_data_query(conn, plan)
    if conn.dialect.name == "sqlite":
        result = conn.execute(statement)
        try:
            cursor = result.cursor
            while rows := cursor.fetchmany(FETCH):
                yield list(rows)
        finally:
            result.close()
        return
    streamed = conn.execution_options(stream_results=True, yield_per=FETCH).execute(statement)
    try:
        for part in streamed.partitions(FETCH):
            yield list(part)
    finally:
        streamed.close()


def text_batches(conn: Connection, plan: queries.ReadPlan) -> Iterator[list[str]]:
    """The documents' stored JSON text, in time order, a batch at a time, upload records merged."""
    uploads = plan.uploads
    pending = 0
    for part in _rows(conn, plan):
        if not part:
            continue
        last = part[-1][0]  # rows are (time, pk, doc): queries.device_data_query
        cut = pending
        while cut < len(uploads) and uploads[cut][0] <= last:
            cut += 1
        if cut > pending:
            merged = heapq.merge(uploads[pending:cut], [(r[0], r[2]) for r in part], key=itemgetter(0))
            yield [item[1] for item in merged]
            pending = cut
        else:
            yield [row[2] for row in part]
    if pending < len(uploads):
        yield [item[1] for item in uploads[pending:]]


def documents(conn: Connection, plan: queries.ReadPlan, bg_units: str = MMOLL) -> Iterator[dict[str, Any]]:
    """The documents, decoded, with glucose in ``bg_units``."""
    for batch in text_batches(conn, plan):
        for text in batch:
            doc = orjson.loads(text)
            if isinstance(doc, dict):
                yield in_units(doc, bg_units)


def json_chunks(
    conn: Connection,
    plan: queries.ReadPlan,
    bg_units: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The JSON export's body: a JSON array, one chunk per batch. In mmol/L it is byte for byte the
    ``GET /data`` body (the stored text as it is); in mg/dL each document is converted."""
    opening = b"[\n"
    for batch in text_batches(conn, plan):
        if bg_units == MMOLL:
            texts = batch
        else:
            texts = [orjson.dumps(in_units(orjson.loads(text), bg_units)).decode() for text in batch]
        yield opening + ",\n".join(texts).encode()
        opening = b",\n"
        if progress is not None:
            progress(len(texts))
    yield b"[]" if opening == b"[\n" else b"\n]"


class ExportFailed(Exception):
    """The export could not start (no such account, a bad window)."""


def export_to_file(
    engine: Engine,
    accounts: AccountService,
    email: str,
    fmt: str,
    out: Path,
    *,
    start: str | None = None,
    end: str | None = None,
    bg_units: str = MMOLL,
    on_total: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """``inlet export``: the person's export written to ``out``; the number of documents read.

    The same documents and writer as ``GET /export/:userId``."""
    params = {k: [v] for k, v in (("startDate", start), ("endDate", end)) if v}
    try:
        window = queries.DataQuery.from_params("", params)
    except queries.InvalidParameter as error:
        raise ExportFailed(f"{error.parameter}: {error}") from error
    with read_only(engine) as conn:
        user = accounts.find_user(conn, email)
        if user is None:
            raise ExportFailed(f"no account with the email {email}")
        plan = plan_for(conn, user.id, window.start, window.end)
        total = count(conn, plan)
        if on_total is not None:
            on_total(total)
        if fmt == "json":
            with out.open("wb") as handle:
                for chunk in json_chunks(conn, plan, bg_units, progress=progress):
                    handle.write(chunk)
            return total
        result = write_workbook(documents(conn, plan, bg_units), out, progress=progress)
        if result.error is not None:
            raise ExportFailed(f"the export failed ({result.error}); {out} holds the EXPORT ERROR sheet")
        return result.documents

"""The Excel export, written in constant memory (XlsxWriter ``constant_memory``).

Layout (Tidepool's data-tools): one sheet per data type named by the type, a bold frozen header row,
first columns ``time`` (UTC) and ``localTime`` (``time + timezoneOffset``; empty when the datum has no
offset, rather than guessing a zone) as real Excel date cells, then the datum's fields with dotted
names for nested ones. Lists that are not pump schedules are written as JSON text in one cell (one
column per array index would give a dosing decision's forecast a hundred columns). pumpSettings are
split into rows: the settings themselves, then one row per schedule entry (``schedule`` names the
field, ``scheduleName`` the named schedule, the entry's own fields follow).

Constant memory means a sheet's rows must be written in order, header first; but the header of a
sheet (its columns) is only known once every datum of the type has been seen. So the documents are
read once and spooled, flattened, to one temporary file per type while the columns are collected;
then each sheet is written from its spool. Memory holds one row and the column names.

An export without data is a workbook with a ``NO DATA`` sheet; one that fails anywhere is a workbook
with a visible ``EXPORT ERROR`` sheet instead of a truncated file (the error's kind is named; no
health value or credential is written or logged).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
import structlog
import xlsxwriter  # type: ignore[import-untyped]

from inlet.model.timeutil import parse_rfc3339

log = structlog.get_logger("inlet.exports")

NO_DATA = "NO DATA"
EXPORT_ERROR = "EXPORT ERROR"
SHEET_ORDER = (
    "cbg",
    "smbg",
    "basal",
    "bolus",
    "wizard",
    "food",
    "pumpSettings",
    "deviceEvent",
)
SCHEDULES = (
    "basalSchedules",
    "bgTargets",
    "carbRatios",
    "insulinSensitivities",
    "bgTarget",
    "carbRatio",
    "insulinSensitivity",
)
"""pumpSettings fields split into one row per entry (a dict of named lists, or a list)."""
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
PROGRESS_EVERY = 1000
MAX_ROWS = 1_048_575
"""Data rows per sheet (Excel's 1,048,576 rows, less the header); more continue on a second sheet."""


def flatten(doc: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nested objects as dotted names (``origin.payload.x``); lists as JSON text; scalars as they are."""
    flat: dict[str, Any] = {} if out is None else out
    for key, value in doc.items():
        name = prefix + key
        if isinstance(value, dict):
            if value:
                flatten(value, name + ".", flat)
        elif isinstance(value, list):
            flat[name] = orjson.dumps(value).decode()
        else:
            flat[name] = value
    return flat


def rows_of(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The sheet rows of one datum: itself, and for pumpSettings one more row per schedule entry."""
    if doc.get("type") != "pumpSettings":
        yield doc
        return
    main = {key: value for key, value in doc.items() if key not in SCHEDULES}
    yield main
    shared: dict[str, Any] = {
        key: doc[key] for key in ("id", "time", "timezoneOffset", "type", "deviceId") if key in doc
    }
    for schedule in SCHEDULES:
        value = doc.get(schedule)
        named: list[tuple[str | None, Any]]
        if isinstance(value, dict) and not any(k in value for k in ("low", "high", "target")):
            named = list(value.items())
        elif isinstance(value, dict):
            named = [(None, [value])]
        else:
            named = [(None, value)]
        for name, entries in named:
            if not isinstance(entries, list):
                continue
            for entry in entries:
                if not isinstance(entry, dict):
                    continue
                row: dict[str, Any] = {**shared, "schedule": schedule}
                if name is not None:
                    row["scheduleName"] = name
                row.update(entry)
                yield row


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    parsed = parse_rfc3339(text)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed is not None else None


@dataclass
class _Sheet:
    """One type's spool: its temporary file, its columns in order of appearance, its row count."""

    name: str
    file: IO[bytes]
    columns: dict[str, int] = field(default_factory=dict)
    rows: int = 0

    def add(self, flat: dict[str, Any]) -> None:
        for name in flat:
            if name not in self.columns:
                self.columns[name] = len(self.columns)
        self.file.write(orjson.dumps(flat))
        self.file.write(b"\n")
        self.rows += 1


@dataclass
class ExportResult:
    """What a written workbook holds: rows per sheet, and the error kind when it failed."""

    sheets: dict[str, int]
    error: str | None = None

    @property
    def documents(self) -> int:
        return sum(self.sheets.values())


def _sheet_order(names: Iterable[str]) -> list[str]:
    known = [name for name in SHEET_ORDER if name in names]
    return known + sorted(name for name in names if name not in SHEET_ORDER)


def _spool(
    docs: Iterable[dict[str, Any]],
    folder: str,
    progress: Callable[[int], None] | None,
    sheets: dict[str, _Sheet],
) -> None:
    pending = 0
    for doc in docs:
        kind = doc.get("type")
        name = kind if isinstance(kind, str) and kind else "unknown"
        sheet = sheets.get(name)
        if sheet is None:
            handle = open(os.path.join(folder, f"{len(sheets)}.jsonl"), "w+b")  # noqa: SIM115
            sheet = sheets[name] = _Sheet(name[:31], handle)
        for row in rows_of(doc):
            flat = flatten(row)
            flat.pop("time", None)
            local = None
            instant = _instant(row.get("time"))
            offset = row.get("timezoneOffset")
            if instant is not None and isinstance(offset, int) and not isinstance(offset, bool):
                local = instant + timedelta(minutes=offset)
            sheet.add({"time": instant.isoformat() if instant else None, "localTime": local, **flat})
        pending += 1
        if progress is not None and pending >= PROGRESS_EVERY:
            progress(pending)
            pending = 0
    if progress is not None and pending:
        progress(pending)


def _new_sheet(workbook: Any, title: str, columns: list[str], bold: Any) -> Any:
    """A sheet with its bold, frozen header row."""
    sheet = workbook.add_worksheet(title)
    sheet.freeze_panes(1, 0)
    for col, column in enumerate(columns):
        sheet.write_string(0, col, column, bold)
    sheet.set_column(0, 1, 20)
    return sheet


def _write_sheets(path: Path, sheets: dict[str, _Sheet], folder: str) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": folder})
    try:
        bold = workbook.add_format({"bold": True})
        dates = workbook.add_format({"num_format": DATE_FORMAT})
        if not sheets:
            sheet = workbook.add_worksheet(NO_DATA)
            sheet.write_string(0, 0, "There is no data in this period.", bold)
            return
        for name in _sheet_order(sheets):
            spool = sheets[name]
            columns = ["time", "localTime", *(c for c in spool.columns if c not in ("time", "localTime"))]
            index = {column: i for i, column in enumerate(columns)}

            part = 1
            sheet = _new_sheet(workbook, spool.name, columns, bold)
            spool.file.seek(0)
            row_number = 0
            for line in spool.file:
                row_number += 1
                if row_number > MAX_ROWS:  # Excel's limit: the type continues on "<type> (2)"
                    part += 1
                    sheet = _new_sheet(workbook, f"{spool.name[:26]} ({part})", columns, bold)
                    row_number = 1
                flat = orjson.loads(line)
                for column, value in flat.items():
                    if value is None:
                        continue
                    col = index[column]
                    if col < 2:
                        when = datetime.fromisoformat(value) if isinstance(value, str) else value
                        sheet.write_datetime(row_number, col, when, dates)
                    elif isinstance(value, bool):
                        sheet.write_boolean(row_number, col, value)
                    elif isinstance(value, int | float):
                        sheet.write_number(row_number, col, value)
                    else:
                        sheet.write_string(row_number, col, str(value))
    finally:
        workbook.close()


def _write_error(path: Path, kind: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    workbook = xlsxwriter.Workbook(str(path))
    try:
        bold = workbook.add_format({"bold": True})
        sheet = workbook.add_worksheet(EXPORT_ERROR)
        sheet.write_string(0, 0, "The export failed; this workbook holds no data.", bold)
        sheet.write_string(1, 0, f"Error: {kind}. Try again, or export a shorter period.")
        sheet.set_column(0, 0, 60)
    finally:
        workbook.close()


def write_workbook(
    docs: Iterable[dict[str, Any]],
    path: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the export of ``docs`` (already in the chosen units) to ``path``.

    Never raises for a failure of the data or the writing: the file then holds the ``EXPORT ERROR``
    sheet and the result names the error's kind."""
    folder = tempfile.mkdtemp(prefix="inlet-export-", dir=path.parent)
    sheets: dict[str, _Sheet] = {}
    try:
        _spool(docs, folder, progress, sheets)
        _write_sheets(path, sheets, folder)
        return ExportResult({name: sheet.rows for name, sheet in sheets.items()})
    except Exception as error:  # the workbook must say it failed rather than look complete
        kind = type(error).__name__
        log.warning("export failed", error_kind=kind)
        _write_error(path, kind)
        return ExportResult({}, error=kind)
    finally:
        for sheet in sheets.values():
            sheet.file.close()
        for name in os.listdir(folder):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
        with contextlib.suppress(OSError):
            os.rmdir(folder)

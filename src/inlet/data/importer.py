"""``inlet import``: load a Tidepool-format JSON export into a user's account, through the same ingest
pipeline as uploads (the data model's parse, validate, normalize; the data set's deduplicator).

The file is a JSON array of datums as Tidepool stores and exports them: storage-only fields
(``_active``, ``_version``, ``_userId``, ``createdTime``, ``_deduplicator``, ``revision``...) are
stripped, and ``upload`` records become data sets. It is read twice, streaming (memory stays flat
whatever its size): a first pass finds the upload records and counts the work, a second one feeds the
datums in batches of 1,000, each batch one transaction.

Idempotent and resumable, by deterministic ids:

- Data sets: an upload record with ``uploadId`` U becomes the data set
  ``sha256("inlet-import:<user id>:<U>")[:32]``; datums are attached by their ``uploadId``. Datums
  whose upload is not in the file (or whose upload record was refused) go into one import data set per
  user, ``sha256("inlet-import:<user id>:inlet-import")[:32]`` (``client.name`` ``org.inlet.import``).
  A second run finds these sets and reuses them; a set the user deleted since is left deleted and its
  datums are skipped.
- Datums keep their export ``id`` (the model keeps a valid client id); one without an ``id`` gets
  ``sha256(user id + its canonical JSON)[:32]``. A datum whose ``id`` the user already has (in any
  data set, any state: also archived or deleted ones, so nothing is resurrected) is skipped, and so is
  a second copy within the file. So a second run adds nothing, and a run that was interrupted
  continues where the committed batches end.
- ``normal`` sets are closed at the end of the run (their deduplicator runs and the data becomes
  visible); a closed set that receives data on a later run is reopened for it and closed again.
  ``continuous`` sets stay open, as in Tidepool.
- Datums marked ``_active: false`` in the export (archived or superseded in Tidepool) are skipped;
  so are upload records with ``_active: false`` or a ``deletedTime``.

Bad datums do not stop the rest: each is written, with its errors (JSON pointers into the file's
array: ``/<index>/<field>``), to ``<FILE>.rejected.json`` and the command exits 1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, select

from inlet import __version__
from inlet.data.errors import DataSetNotFound
from inlet.data.records import NORMAL, OPEN, DataSet
from inlet.data.service import nul_errors
from inlet.db.engine import read_only
from inlet.db.schema import device_data
from inlet.model.common import STORAGE_ONLY
from inlet.model.data_set import canonical_deduplicator, parse_data_set
from inlet.model.errors import Errors
from inlet.model.parse import Datum, parse_datum

if TYPE_CHECKING:
    from inlet.services import Services

BATCH_SIZE = 1000
IMPORT_CLIENT = "org.inlet.import"
IMPORT_KEY = "inlet-import"
_READ_CHUNK = 1 << 20
_ID_CHUNK = 500
_VALUE_END = frozenset(" \t\r\n,]")


class ImportFailed(Exception):
    """The import cannot run (unknown user, unreadable file): nothing was written."""


@dataclass
class ImportResult:
    records: int = 0
    uploads: int = 0
    data_sets_created: int = 0
    added: int = 0
    already_present: int = 0
    skipped_inactive: int = 0
    skipped_deleted_set: int = 0
    rejected: int = 0
    rejected_path: Path | None = None
    data_sets: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{self.records} records",
            f"{self.uploads} upload records",
            f"{self.data_sets_created} data sets created",
            f"{self.added} datums added",
            f"{self.already_present} already present",
        ]
        if self.skipped_inactive:
            parts.append(f"{self.skipped_inactive} inactive skipped")
        if self.skipped_deleted_set:
            parts.append(f"{self.skipped_deleted_set} skipped (data set deleted)")
        parts.append(f"{self.rejected} rejected")
        return ", ".join(parts)


Progress = Callable[[int], None]
"""Told how many records were just processed (the CLI drives a rich progress bar with it)."""


# ---- reading the file -------------------------------------------------------------------------------


def iter_json_array(path: Path, chunk_size: int = _READ_CHUNK) -> Iterator[Any]:
    """The items of the JSON array in ``path``, one at a time, without loading the whole file.

    ``NaN``/``Infinity`` (not JSON) come through as strings, so such a datum is refused by the model
    rather than stopping the file. Raises :class:`ImportFailed` when the file is not a JSON array.
    """
    decoder = json.JSONDecoder(parse_constant=lambda name: name)
    with path.open(encoding="utf-8") as handle:
        buffer = ""
        pos = 0
        eof = False

        def fill() -> bool:
            nonlocal buffer, pos, eof
            if eof:
                return False
            more = handle.read(chunk_size)
            if not more:
                eof = True
                return False
            buffer = buffer[pos:] + more
            pos = 0
            return True

        def skip_blanks() -> str:
            nonlocal pos
            while True:
                while pos < len(buffer) and buffer[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buffer):
                    return buffer[pos]
                if not fill():
                    return ""

        if skip_blanks() == "\ufeff":
            pos += 1
        if skip_blanks() != "[":
            raise ImportFailed(f"{path} is not a JSON array")
        pos += 1
        if skip_blanks() == "]":
            return
        while True:
            if skip_blanks() == "":
                raise ImportFailed(f"{path}: the JSON array is not closed")
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, pos)
                except json.JSONDecodeError as error:
                    if fill():
                        continue
                    raise ImportFailed(f"{path}: malformed JSON near character {error.pos}") from error
                except ValueError as error:  # e.g. an integer of more than 4,300 digits
                    raise ImportFailed(f"{path}: unreadable JSON value: {error}") from error
                cut = end == len(buffer) or (
                    isinstance(value, (int, float)) and buffer[end] not in _VALUE_END
                )
                if cut and fill():
                    continue  # a number cut by the end of the buffer (``12`` of ``123``): read it whole
                break
            pos = end
            yield value
            separator = skip_blanks()
            if separator == ",":
                pos += 1
            elif separator == "]":
                pos += 1
                if skip_blanks() != "":
                    raise ImportFailed(f"{path}: unexpected data after the JSON array")
                return
            else:
                raise ImportFailed(f"{path}: expected ',' or ']' in the JSON array")


# ---- records ------------------------------------------------------------------------------------------


def derived_id(user_id: str, key: str) -> str:
    return hashlib.sha256(f"inlet-import:{user_id}:{key}".encode()).hexdigest()[:32]


def _content_id(user_id: str, raw: dict[str, Any]) -> str:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{user_id}:{text}".encode()).hexdigest()[:32]


def strip_storage_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Everything but what the server sets: Tidepool's storage-only fields and any ``_``-field."""
    return {k: v for k, v in raw.items() if k not in STORAGE_ONLY and not k.startswith("_")}


def _is_inactive(raw: dict[str, Any]) -> bool:
    return raw.get("_active") is False


def _upload_key(raw: dict[str, Any]) -> str | None:
    key = raw.get("uploadId")
    if not isinstance(key, str) or not key:
        key = raw.get("id")
    return key if isinstance(key, str) and key else None


def _data_set_body(raw: dict[str, Any]) -> dict[str, Any]:
    body = strip_storage_fields(raw)
    for key in ("id", "uploadId", "state", "dataState", "byUser"):
        body.pop(key, None)
    dedup = raw.get("deduplicator") or raw.get("_deduplicator")
    name = dedup.get("name") if isinstance(dedup, dict) else None
    body.pop("deduplicator", None)
    if isinstance(name, str) and name:
        body["deduplicator"] = {"name": canonical_deduplicator(name)}
    return body


def _rejection(index: int, raw: Any, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"index": index, "datum": raw, "errors": errors}


# ---- the import -------------------------------------------------------------------------------------


@dataclass
class _Target:
    data_set: DataSet | None  # None: its data set was deleted, skip its data
    touched: bool = False


class _Run:
    def __init__(self, services: Services, user_id: str, path: Path, progress: Progress | None) -> None:
        self.services = services
        self.data = services.data
        self.user_id = user_id
        self.path = path
        self.progress = progress or (lambda _n: None)
        self.result = ImportResult()
        self.targets: dict[str, _Target] = {}  # upload key -> target
        self.import_target: _Target | None = None
        self.rejections: list[dict[str, Any]] = []

    # -- pass 1 -----------------------------------------------------------------------------------

    def scan(self) -> tuple[dict[str, tuple[int, dict[str, Any]]], bool]:
        uploads: dict[str, tuple[int, dict[str, Any]]] = {}
        referenced: set[str | None] = set()
        for index, raw in enumerate(iter_json_array(self.path)):
            self.result.records += 1
            if not isinstance(raw, dict):
                continue
            if raw.get("type") == "upload":
                self.result.uploads += 1
                key = _upload_key(raw)
                if key is not None and not _is_inactive(raw) and "deletedTime" not in raw:
                    uploads.setdefault(key, (index, raw))
                continue
            if not _is_inactive(raw):
                upload_id = raw.get("uploadId")
                referenced.add(upload_id if isinstance(upload_id, str) else None)
        orphans = any(key is None or key not in uploads for key in referenced)
        return uploads, orphans

    def prepare_sets(self, uploads: dict[str, tuple[int, dict[str, Any]]], orphans: bool) -> None:
        with self.services.engine.begin() as conn:
            for key, (index, raw) in uploads.items():
                data_set_id = derived_id(self.user_id, key)
                target = self._data_set_for(conn, data_set_id, _data_set_body(raw), index, raw)
                if target is not None:
                    self.targets[key] = target
                else:
                    orphans = True  # a refused upload record: its data goes to the import set
            if orphans:
                body = {
                    "type": "upload",
                    "dataSetType": NORMAL,
                    "client": {"name": IMPORT_CLIENT, "version": __version__},
                    "deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash"},
                }
                self.import_target = self._data_set_for(
                    conn, derived_id(self.user_id, IMPORT_KEY), body, None, None
                )

    def _data_set_for(
        self, conn: Connection, data_set_id: str, body: dict[str, Any], index: int | None, raw: Any
    ) -> _Target | None:
        try:
            existing = self.data.get_data_set(conn, data_set_id, include_deleted=True)
        except DataSetNotFound:
            existing = None
        if existing is not None:
            self.result.data_sets.append(existing.id)
            return _Target(None if existing.deleted_time is not None else existing)
        parsed, errors = parse_data_set(body)
        errors = [*errors, *nul_errors(body)]
        if parsed is None or errors:
            where = f"/{index}" if index is not None else ""
            self._reject(index if index is not None else -1, raw, [(where, err) for err in errors])
            return None
        created = self.data.create_data_set_from(
            conn, self.user_id, parsed, created_user_id=self.user_id, data_set_id=data_set_id
        )
        self.result.data_sets_created += 1
        self.result.data_sets.append(created.id)
        return _Target(created, touched=True)

    # -- pass 2 -----------------------------------------------------------------------------------

    def load(self) -> None:
        batch: list[tuple[int, dict[str, Any], dict[str, Any], _Target]] = []
        for index, raw in enumerate(iter_json_array(self.path)):
            if isinstance(raw, dict) and raw.get("type") == "upload":
                self.progress(1)
                continue
            if isinstance(raw, dict) and _is_inactive(raw):
                self.result.skipped_inactive += 1
                self.progress(1)
                continue
            if not isinstance(raw, dict):
                errs = Errors()
                parse_datum(raw, f"/{index}", errs, index)
                self._reject(index, raw, [("", err) for err in errs.items])
                self.progress(1)
                continue
            upload_id = raw.get("uploadId")
            target = self.targets.get(upload_id) if isinstance(upload_id, str) else None
            target = target or self.import_target
            if target is None or target.data_set is None:
                self.result.skipped_deleted_set += 1
                self.progress(1)
                continue
            cleaned = strip_storage_fields(raw)
            cleaned.pop("uploadId", None)
            if "id" not in cleaned:
                cleaned["id"] = _content_id(self.user_id, cleaned)
            embedded = cleaned.get("bolus")
            if cleaned.get("type") == "wizard" and isinstance(embedded, dict) and "id" not in embedded:
                cleaned["bolus"] = {**embedded, "id": _content_id(self.user_id, embedded)}
            batch.append((index, raw, cleaned, target))
            if len(batch) >= BATCH_SIZE:
                self._store(batch)
                batch = []
        if batch:
            self._store(batch)

    def _store(self, batch: list[tuple[int, dict[str, Any], dict[str, Any], _Target]]) -> None:
        parsed: list[tuple[Datum, _Target]] = []
        for index, raw, cleaned, target in batch:
            errs = Errors()
            errs.extend(nul_errors(cleaned, f"/{index}"))
            datums = [] if errs else parse_datum(cleaned, f"/{index}", errs, index)
            if errs:
                self._reject(index, raw, [("", err) for err in errs.items])
                continue
            parsed.extend((datum, target) for datum in datums)
        with self.services.engine.begin() as conn:
            present = self._present_ids(conn, [datum.doc["id"] for datum, _ in parsed])
            groups: dict[int, tuple[_Target, list[Datum]]] = {}
            for datum, target in parsed:
                datum_id = datum.doc["id"]
                if datum_id in present:
                    self.result.already_present += 1
                    continue
                present.add(datum_id)
                groups.setdefault(id(target), (target, []))[1].append(datum)
            for target, datums in groups.values():
                data_set = target.data_set
                assert data_set is not None
                if data_set.state != OPEN:
                    self.data.reopen(conn, data_set)
                target.touched = True
                # unstaged: the next batches look up every datum's id among stored rows, which
                # device_data indexes and the staging table (one index, for speed) does not
                outcome = self.data.add_datums(conn, data_set, datums, stage=False)
                self.result.added += outcome.stored
        self.progress(len(batch))

    def _present_ids(self, conn: Connection, ids: list[str]) -> set[str]:
        d = device_data
        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _ID_CHUNK):
            chunk = unique[start : start + _ID_CHUNK]
            query = select(d.c.id).where(d.c.user_id == self.user_id, d.c.id.in_(chunk))
            found.update(conn.execute(query).scalars())
        return found

    # -- the end ------------------------------------------------------------------------------------

    def close_sets(self) -> None:
        targets = [*self.targets.values(), *([self.import_target] if self.import_target else [])]
        with self.services.engine.begin() as conn:
            for target in targets:
                data_set = target.data_set
                if data_set is not None and data_set.data_set_type == NORMAL and data_set.state == OPEN:
                    self.data.close(conn, data_set)

    def _reject(self, index: int, raw: Any, errors: list[tuple[str, Any]]) -> None:
        items = []
        for prefix, err in errors:
            item = err.to_platform(400)
            item["source"] = {"pointer": prefix + err.pointer}
            items.append(item)
        self.rejections.append(_rejection(index, raw, items))
        self.result.rejected += 1

    def write_rejections(self) -> None:
        path = rejected_path(self.path)
        if self.rejections:
            self.rejections.sort(key=lambda item: item["index"])
            path.write_bytes(orjson.dumps(self.rejections, option=orjson.OPT_INDENT_2, default=str))
            self.result.rejected_path = path
        elif path.exists():
            path.unlink()  # a report from an earlier run that no longer applies


def rejected_path(path: Path) -> Path:
    """``FILE.json`` -> ``FILE.rejected.json`` (``FILE`` -> ``FILE.rejected.json``)."""
    stem = path.name[: -len(".json")] if path.name.lower().endswith(".json") else path.name
    return path.with_name(f"{stem}.rejected.json")


def run_import(
    services: Services,
    email: str,
    path: Path,
    *,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import ``path`` into the account whose username is ``email``. Raises :class:`ImportFailed`
    before writing anything when the user or the file cannot be used."""
    with read_only(services.engine) as conn:
        user = services.accounts.find_user(conn, email)
    if user is None:
        raise ImportFailed(f"no user with username {email!r}")
    if not path.is_file():
        raise ImportFailed(f"{path} is not a file")
    run = _Run(services, user.id, path, progress)
    try:
        uploads, orphans = run.scan()
    except UnicodeDecodeError as error:
        raise ImportFailed(f"{path} is not UTF-8 text") from error
    if on_total is not None:
        on_total(run.result.records)
    run.prepare_sets(uploads, orphans)
    run.load()
    run.close_sets()
    run.write_rejections()
    return run.result

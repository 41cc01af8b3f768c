"""Nightscout records into and out of a person's data, through the same pipeline as every upload.

In: each uploading device (``device`` / ``enteredBy``) has one continuous data set, client name
``org.nightscout.<app>``, deduplicator ``dataset.delete.origin``; records are mapped
(:mod:`inlet.nightscout.mapping`), validated by the model like any upload (a request with any bad
record stores nothing) and added with ``DataService.add_datums``. A record whose key is already held
by another of the person's Nightscout sets (a PUT from another app) goes to that set, so it replaces
instead of doubling. Records no type fits are kept in ``nightscout_documents``.

Out: entries and treatments come from everything the person has (``device_data``: Tidepool uploads,
partner syncs, every uploader), with the read API's cloud rule (``cbgFilter``: a reading inside the
span of a cloud CGM source, such as the Dexcom partner, is served from the cloud only) and one more
rule of our own: a cbg within 60 seconds of one already served from another data set is the same
reading seen by two uploaders and is served once (the first, newest-first, wins).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from inlet import __version__
from inlet.data.queries import DataQuery, conditions, prepare
from inlet.data.records import DataSet
from inlet.db.schema import data_sets, device_data, nightscout_documents
from inlet.model.data_set import parse_data_set
from inlet.model.parse import Datum, parse_data
from inlet.model.timeutil import parse_rfc3339, to_micros
from inlet.nightscout import mapping
from inlet.nightscout.mapping import RecordInvalid
from inlet.nightscout.sites import Site

if TYPE_CHECKING:
    from inlet.data.service import DataService

DEDUPLICATOR = "org.tidepool.deduplicator.dataset.delete.origin"
CLIENT_PREFIX = "org.nightscout."
DEFAULT_WINDOW = timedelta(days=4)
SAME_READING_US = 60_000_000
DELTA_WINDOW_US = 10 * 60_000_000
ENTRY_TYPES = ("cbg", "smbg")
TREATMENT_TYPES = ("bolus", "food", "basal", "smbg", "deviceEvent")
DATE_FIELDS = {"date", "dateString", "sysTime", "created_at", "mills", "srvModified", "srvCreated"}
US = 1_000_000
d = device_data


# ---- queries: find[field][$op]=value ----------------------------------------------------------------

_FIND = re.compile(r"^find\[([^\]]+)\](?:\[(\$[a-z]+)\])?$")


@dataclass
class Find:
    """Nightscout's ``find`` filters, ``count`` and the time window they imply."""

    terms: list[tuple[str, str, str]] = field(default_factory=list)
    start: int | None = None  # microseconds
    end: int | None = None
    has_date: bool = False

    @classmethod
    def parse(cls, params: Iterable[tuple[str, str]], now: datetime, *, default_window: bool = True) -> Find:
        found = cls()
        for name, value in params:
            match = _FIND.match(name)
            if not match:
                continue
            path, op = match.group(1), match.group(2) or "$eq"
            found.terms.append((path, op, value))
            if path in DATE_FIELDS and op in ("$gte", "$gt", "$lte", "$lt", "$eq"):
                micros = _as_micros(value)
                if micros is None:
                    continue
                found.has_date = True
                if op in ("$gte", "$gt", "$eq"):
                    found.start = max(found.start or micros, micros)
                if op in ("$lte", "$lt", "$eq"):
                    found.end = min(found.end or micros, micros)
        if default_window and not found.has_date:
            found.start = to_micros(now - DEFAULT_WINDOW)
        return found

    def value_of(self, path: str) -> str | None:
        for name, op, value in self.terms:
            if name == path and op == "$eq":
                return value
        return None

    def matches(self, record: dict[str, Any]) -> bool:
        return all(_term(record, path, op, value) for path, op, value in self.terms)


def _as_micros(value: str) -> int | None:
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        number = float(text)
        if number > 1e11:  # epoch milliseconds
            return int(number * 1000)
        return int(number * US)  # seconds (Nightscout accepts both in places)
    parsed = parse_rfc3339(text)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    return to_micros(parsed)


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _coerce(stored: Any, given: str) -> tuple[Any, Any]:
    if isinstance(stored, bool):
        return stored, given.lower() == "true"
    if isinstance(stored, (int, float)):
        try:
            return stored, float(given)
        except ValueError:
            return str(stored), given
    if isinstance(stored, str):
        a, b = _as_micros(stored) if not stored.isdigit() else None, None
        if a is not None and not given.replace(".", "").isdigit():
            b = _as_micros(given)
            if b is not None:
                return a, b
        return stored, given
    return stored, given


def _term(record: dict[str, Any], path: str, op: str, given: str) -> bool:
    stored = _get(record, path)
    if path == "id":
        stored = record.get("_id") if stored is None else stored
    if op == "$exists":
        return (stored is not None) == (given.lower() in ("true", "1", ""))
    if op == "$in" or op == "$nin":
        options = given.split("|")
        inside = stored is not None and any(_coerce(stored, o)[0] == _coerce(stored, o)[1] for o in options)
        return inside if op == "$in" else not inside
    if stored is None:
        return op == "$ne"
    if op == "$regex":
        try:
            return re.search(given, str(stored)) is not None
        except re.error:
            return False
    a, b = _coerce(stored, given)
    try:
        if op == "$eq":
            return bool(a == b)
        if op == "$ne":
            return bool(a != b)
        if op == "$gte":
            return bool(a >= b)
        if op == "$gt":
            return bool(a > b)
        if op == "$lte":
            return bool(a <= b)
        if op == "$lt":
            return bool(a < b)
    except TypeError:
        return False
    return True


# ---- in ---------------------------------------------------------------------------------------------


def _ns_sets(user_id: str) -> Any:
    s = data_sets.c
    return select(s.id).where(
        s.user_id == user_id, s.client_name.like(f"{CLIENT_PREFIX}%"), s.deleted_time.is_(None)
    )


def device_set(conn: Connection, data: DataService, user_id: str, device: str) -> DataSet:
    """The uploading device's one continuous data set, created on its first record."""
    client = f"{CLIENT_PREFIX}{mapping.app_name(device)}"
    s = data_sets.c
    row = conn.execute(
        select(s.id)
        .where(
            s.user_id == user_id,
            s.client_name == client,
            s.device_id == device,
            s.deleted_time.is_(None),
            s.data_set_type == "continuous",
        )
        .order_by(s.created_time)
        .limit(1)
    ).first()
    if row is not None:
        found: DataSet = data.get_data_set(conn, row.id)
        return found
    parsed, errors = parse_data_set(
        {
            "type": "upload",
            "dataSetType": "continuous",
            "client": {"name": client, "version": __version__},
            "deduplicator": {"name": DEDUPLICATOR},
            "deviceId": device,
            "deviceManufacturers": ["Nightscout"],
        }
    )
    assert parsed is not None, errors
    created: DataSet = data.create_data_set_from(conn, user_id, parsed)
    return created


def _owners(conn: Connection, set_ids: list[str], keys: list[str]) -> dict[str, str]:
    """Which of these data sets currently holds each key."""
    if not keys:
        return {}
    rows = conn.execute(
        select(d.c.origin_id, d.c.data_set_id).where(
            d.c.data_set_id.in_(set_ids),
            d.c.origin_id.in_(keys),
            d.c.archived_time.is_(None),
            d.c.deleted_time.is_(None),
        )
    )
    return {row.origin_id: row.data_set_id for row in rows}


def tombstone(conn: Connection, site: Site, collection: str, keys: list[str], now: int) -> int:
    """DELETE: the datums holding these keys become tombstones (every version stays for audit); the
    kept documents are marked invalid (API v3's ``isValid: false``). Returns how many records (keys)
    were deleted, as Nightscout counts them."""
    if not keys:
        return 0
    all_keys = keys + [f"{k}:carbs" for k in keys]
    current = (
        d.c.data_set_id.in_(_ns_sets(site.user_id)),
        d.c.origin_id.in_(all_keys),
        d.c.archived_time.is_(None),
        d.c.deleted_time.is_(None),
    )
    found = {
        str(key).removesuffix(":carbs")
        for key in conn.execute(select(d.c.origin_id).where(*current)).scalars()
    }
    conn.execute(
        update(device_data).where(*current).values(active=False, deleted_time=now, modified_time=now)
    )
    n = nightscout_documents.c
    valid = (n.site_id == site.site_id, n.collection == collection, n.ns_id.in_(keys), n.valid.is_(True))
    found.update(conn.execute(select(n.ns_id).where(*valid)).scalars())
    conn.execute(update(nightscout_documents).where(*valid).values(valid=False, modified_time=now))
    return len(found)


def _record_time(record: dict[str, Any], collection: str, index: int) -> int:
    fields = {
        "entries": ("date", "dateString", "sysTime"),
        "treatments": ("created_at", "date", "mills"),
        "devicestatus": ("created_at", "date", "mills"),
        "profile": ("startDate", "created_at", "mills"),
    }[collection]
    try:
        when, _ = mapping._instant(record, index, *fields)
    except RecordInvalid:
        if collection in ("devicestatus", "profile"):
            raise
        raise
    return to_micros(when)


def keep_documents(
    conn: Connection, site: Site, collection: str, records: list[dict[str, Any]], now: int
) -> None:
    """Upsert documents by (site, collection, key); a re-sent key replaces the document."""
    n = nightscout_documents.c
    for index, record in enumerate(records):
        key = mapping.record_key(record)
        when = _record_time(record, collection, index)
        existing = conn.execute(
            select(n.pk, n.created_time).where(
                n.site_id == site.site_id, n.collection == collection, n.ns_id == key
            )
        ).first()
        stamped = {**record}
        if existing is None:
            conn.execute(
                insert(nightscout_documents).values(
                    site_id=site.site_id,
                    collection=collection,
                    ns_id=key,
                    time=when,
                    doc=stamped,
                    valid=True,
                    created_time=now,
                    modified_time=now,
                )
            )
        else:
            conn.execute(
                update(nightscout_documents)
                .where(n.pk == existing.pk)
                .values(time=when, doc=stamped, valid=True, modified_time=now)
            )


def store(
    conn: Connection,
    data: DataService,
    site: Site,
    collection: str,
    records: list[dict[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Validate and store prepared records (each with its key); returns them as stored. Raises
    :class:`RecordInvalid` (nothing stored: the caller's transaction rolls back)."""
    mapper: Callable[[dict[str, Any], int], list[dict[str, Any]]] | None = {
        "entries": mapping.entry_datums,
        "treatments": mapping.treatment_datums,
    }.get(collection)
    raw: list[dict[str, Any]] = []
    owners_of: list[int] = []
    documents: list[dict[str, Any]] = []
    mapped_keys: list[str] = []
    for index, record in enumerate(records):
        datums = mapper(record, index) if mapper else []
        if collection == "profile":  # pump settings in the model, and the record kept as sent
            datums = mapping.profile_datums(record, index)
            documents.append(record)
        if datums:
            raw.extend(datums)
            owners_of.extend([index] * len(datums))
            mapped_keys.append(mapping.record_key(record))
        elif collection != "profile":
            documents.append(record)
    micros = to_micros(now)
    if raw:
        result = parse_data(raw)
        if not result.ok:
            error = result.errors[0]
            parts = error.pointer.split("/")
            index = owners_of[int(parts[1])] if len(parts) > 1 and parts[1].isdigit() else 0
            field_name = parts[2] if len(parts) > 2 else "record"
            if field_name == "value":
                field_name = {"cbg": "sgv", "smbg": "mbg"}.get(raw[int(parts[1])]["type"], "value")
            raise RecordInvalid(index, field_name, error.detail)
        groups: dict[str, list[Datum]] = {}
        sets: dict[str, DataSet] = {}
        by_device: dict[str, DataSet] = {}
        for datum in result.datums:
            device = str(datum.doc.get("deviceId"))
            if device not in by_device:
                by_device[device] = device_set(conn, data, site.user_id, device)
        # a key another of the person's Nightscout sets holds (a PUT from another app) goes there
        targets = {found.id for found in by_device.values()}
        others = [i for i in conn.execute(_ns_sets(site.user_id)).scalars() if i not in targets]
        owners = _owners(conn, others, [str(r["origin"]["id"]) for r in raw]) if others else {}
        for datum in result.datums:
            set_id = owners.get(str(datum.doc["origin"]["id"]))
            if set_id is None:
                target = by_device[str(datum.doc.get("deviceId"))]
                set_id = target.id
                sets[set_id] = target
            elif set_id not in sets:
                sets[set_id] = data.get_data_set(conn, set_id)
            groups.setdefault(set_id, []).append(datum)
        for set_id, batch in groups.items():
            data.add_datums(conn, sets[set_id], batch)
        if collection == "treatments":  # a record that was a document before and maps now
            n = nightscout_documents.c
            conn.execute(
                update(nightscout_documents)
                .where(n.site_id == site.site_id, n.collection == collection, n.ns_id.in_(mapped_keys))
                .values(valid=False, modified_time=micros)
            )
    if documents:
        if collection == "treatments":  # it mapped before and no longer does: its datums go
            tombstone_datums_only(conn, site, [mapping.record_key(r) for r in documents], micros)
        keep_documents(conn, site, collection, documents, micros)
    return records


def tombstone_datums_only(conn: Connection, site: Site, keys: list[str], now: int) -> None:
    all_keys = keys + [f"{k}:carbs" for k in keys]
    conn.execute(
        update(device_data)
        .where(
            d.c.data_set_id.in_(_ns_sets(site.user_id)),
            d.c.origin_id.in_(all_keys),
            d.c.archived_time.is_(None),
            d.c.deleted_time.is_(None),
        )
        .values(active=False, deleted_time=now, modified_time=now)
    )


# ---- out --------------------------------------------------------------------------------------------


def _plan_conditions(
    conn: Connection, user_id: str, types: list[str], start: int | None, end: int | None
) -> list[Any]:
    query = DataQuery(user_id=user_id, types=types, start=start, end=end)
    return conditions(prepare(conn, query))


def _rows_desc(conn: Connection, where: list[Any], page: int) -> Iterator[Any]:
    """Rows newest first, in pages (keyset on time), so a filter applied after conversion still
    finds ``count`` records without loading the window."""
    before: int | None = None
    columns = (d.c.time, d.c.data_set_id, d.c.doc, d.c.created_time, d.c.modified_time)
    while True:
        query = select(*columns).where(*where)
        if before is not None:
            query = query.where(d.c.time < before)
        rows = conn.execute(query.order_by(d.c.time.desc(), d.c.pk.desc()).limit(page)).all()
        yield from rows
        if len(rows) < page:
            return
        # rows at the page's last instant may continue: re-read that instant in full
        last = rows[-1].time
        rest = conn.execute(select(*columns).where(*where, d.c.time == last).order_by(d.c.pk.desc())).all()
        seen = sum(1 for r in rows if r.time == last)
        yield from rest[seen:]
        before = last


def _stamped(record: dict[str, Any], row: Any, v3: bool) -> dict[str, Any]:
    """API v3's server fields: ``identifier`` (the key), ``srvCreated``, ``srvModified`` (ms),
    ``isValid``."""
    if v3:
        record.setdefault("identifier", record.get("_id"))
        record["srvCreated"] = row.created_time // 1000
        record["srvModified"] = (row.modified_time or row.created_time) // 1000
        record["isValid"] = True
    return record


def _documents(
    conn: Connection,
    site: Site,
    collection: str,
    start: int | None,
    end: int | None,
    limit: int,
    v3: bool = False,
) -> list[tuple[int, dict[str, Any]]]:
    n = nightscout_documents.c
    query = select(n.time, n.doc, n.created_time, n.modified_time).where(
        n.site_id == site.site_id, n.collection == collection, n.valid.is_(True)
    )
    if start is not None:
        query = query.where(n.time >= start)
    if end is not None:
        query = query.where(n.time <= end)
    rows = conn.execute(query.order_by(n.time.desc()).limit(limit)).all()
    return [(row.time, _stamped(dict(row.doc), row, v3)) for row in rows]


def read_entries(
    conn: Connection, site: Site, find: Find, count: int, kind: str | None = None, *, v3: bool = False
) -> list[dict[str, Any]]:
    """Newest first, at most ``count``: sgv (with ``delta``) and mbg from every source, and the kept
    entry documents (cal and unknown types)."""
    kind = kind or find.value_of("type")
    types = {"sgv": ["cbg"], "mbg": ["smbg"]}.get(kind or "", list(ENTRY_TYPES))
    out: list[tuple[int, dict[str, Any]]] = []
    if kind in (None, "sgv", "mbg"):
        where = _plan_conditions(conn, site.user_id, types, find.start, find.end)
        # smbg uploaded as a BG Check treatment is not an entry
        served_times: list[tuple[int, str]] = []
        pending: list[tuple[int, str, dict[str, Any]]] = []  # sgv waiting for its delta
        rows = _rows_desc(conn, where, count + 16)
        for row in rows:
            doc = row.doc if isinstance(row.doc, dict) else {}
            # fill the delta of waiting sgv from this (older) reading of the same data set
            if doc.get("type") == "cbg":
                for item in [p for p in pending if p[1] == row.data_set_id]:
                    if item[0] - row.time <= DELTA_WINDOW_US:
                        item[2]["delta"] = item[2]["_mgdl"] - mapping.mgdl(doc)
                    else:
                        item[2]["delta"] = 0
                    pending.remove(item)
            if len(out) >= count:
                if not pending:
                    break
                if all(p[0] - row.time > DELTA_WINDOW_US for p in pending):
                    break
                continue
            record = mapping.served_entry(doc)
            if record is None:
                continue
            _stamped(record, row, v3)
            if doc.get("type") == "cbg":
                # newest first: only readings served within the last 60 s can be the same one
                while served_times and served_times[0][0] - row.time >= SAME_READING_US:
                    served_times.pop(0)
                if served_times and any(s != row.data_set_id for _, s in served_times):
                    continue
                served_times.append((row.time, row.data_set_id))
            if not find.matches(record):
                continue
            if record.get("type") == "sgv" and "delta" not in record:
                record["_mgdl"] = mapping.mgdl(doc)
                pending.append((row.time, row.data_set_id, record))
            out.append((row.time, record))
        for item in pending:
            item[2].setdefault("delta", 0)
        for _, record in out:
            record.pop("_mgdl", None)
    if kind not in ("sgv", "mbg"):
        for when, doc in _documents(conn, site, "entries", find.start, find.end, count * 4 + 10, v3):
            if find.matches(doc):
                out.append((when, doc))
    out.sort(key=lambda item: item[0], reverse=True)
    return [record for _, record in out[:count]]


def read_treatments(
    conn: Connection, site: Site, find: Find, count: int, *, v3: bool = False
) -> list[dict[str, Any]]:
    out: list[tuple[int, dict[str, Any]]] = []
    where = _plan_conditions(conn, site.user_id, list(TREATMENT_TYPES), find.start, find.end)
    for row in _rows_desc(conn, where, count + 16):
        if len(out) >= count:
            break
        doc = row.doc if isinstance(row.doc, dict) else {}
        if doc.get("type") == "smbg" and not _is_treatment_record(doc):
            continue
        record = mapping.served_treatment(doc)
        if record is None or not find.matches(_stamped(record, row, v3)):
            continue
        out.append((row.time, record))
    for when, doc in _documents(conn, site, "treatments", find.start, find.end, count * 4 + 10, v3):
        if find.matches(doc):
            out.append((when, doc))
    out.sort(key=lambda item: item[0], reverse=True)
    return [record for _, record in out[:count]]


def _is_treatment_record(doc: dict[str, Any]) -> bool:
    record = mapping.nightscout_record(doc)
    return record is not None and "eventType" in record


def read_documents(
    conn: Connection, site: Site, collection: str, find: Find, count: int, *, v3: bool = False
) -> list[dict[str, Any]]:
    out = []
    for _, doc in _documents(conn, site, collection, find.start, find.end, max(count * 4, 100), v3):
        if find.matches(doc):
            out.append(doc)
        if len(out) >= count:
            break
    return out


def find_by_key(conn: Connection, site: Site, collection: str, key: str) -> dict[str, Any] | None:
    """A record by its key (``_id`` / ``identifier``), as served."""
    n = nightscout_documents.c
    row = conn.execute(
        select(n.doc).where(
            n.site_id == site.site_id, n.collection == collection, n.ns_id == key, n.valid.is_(True)
        )
    ).first()
    if row is not None:
        return dict(row.doc)
    if collection not in ("entries", "treatments"):
        return None
    rows = conn.execute(
        select(d.c.doc).where(
            d.c.data_set_id.in_(_ns_sets(site.user_id)),
            d.c.origin_id == key,
            d.c.active.is_(True),
        )
    ).all()
    for found in rows:
        doc = found.doc
        record = mapping.served_entry(doc) if collection == "entries" else mapping.served_treatment(doc)
        if record is not None:
            return record
    return None


def keys_matching(
    conn: Connection, site: Site, collection: str, find: Find, limit: int = 10_000
) -> list[str]:
    """The keys of the person's own Nightscout records that a DELETE's ``find`` selects (another
    source's data cannot be deleted through Nightscout)."""
    reader = {"entries": read_entries, "treatments": read_treatments}.get(collection)
    if reader is not None:
        records = reader(conn, site, find, limit)
    else:
        records = read_documents(conn, site, collection, find, limit)
    return [mapping.record_key(r) for r in records if r.get("_id") or r.get("identifier")]


def history(conn: Connection, site: Site, collection: str, since_ms: int, limit: int) -> list[dict[str, Any]]:
    """API v3's ``history/{lastModified}``: what changed after ``since_ms`` (created, replaced or
    deleted; a deleted record comes with ``isValid: false``), oldest change first."""
    since = since_ms * 1000
    out: list[tuple[int, dict[str, Any]]] = []
    convert = {"entries": mapping.served_entry, "treatments": mapping.served_treatment}.get(collection)
    if convert is not None:
        types = list(ENTRY_TYPES) if collection == "entries" else list(TREATMENT_TYPES)
        changed = func.coalesce(d.c.modified_time, d.c.created_time)
        rows = conn.execute(
            select(d.c.doc, d.c.created_time, changed.label("changed"), d.c.deleted_time)
            .where(
                d.c.user_id == site.user_id, d.c.type.in_(types), d.c.archived_time.is_(None), changed > since
            )
            .order_by(changed)
            .limit(limit * 2)
        ).all()
        for row in rows:
            doc = row.doc if isinstance(row.doc, dict) else {}
            if collection == "treatments" and doc.get("type") == "smbg" and not _is_treatment_record(doc):
                continue
            record = convert(doc)
            if record is None:
                continue
            record.setdefault("identifier", record.get("_id"))
            record.update(
                srvCreated=row.created_time // 1000,
                srvModified=row.changed // 1000,
                isValid=row.deleted_time is None,
            )
            out.append((row.changed, record))
    n = nightscout_documents.c
    docs = conn.execute(
        select(n.doc, n.created_time, n.modified_time, n.valid)
        .where(n.site_id == site.site_id, n.collection == collection, n.modified_time > since)
        .order_by(n.modified_time)
        .limit(limit)
    ).all()
    for row in docs:
        record = dict(row.doc)
        record.setdefault("identifier", record.get("_id"))
        record.update(
            srvCreated=row.created_time // 1000, srvModified=row.modified_time // 1000, isValid=row.valid
        )
        out.append((row.modified_time, record))
    out.sort(key=lambda item: item[0])
    return [record for _, record in out[:limit]]


def last_modified(conn: Connection, site: Site) -> dict[str, int]:
    """The newest ``srvModified`` (ms) of each collection."""
    found: dict[str, int] = {}
    changed = func.coalesce(d.c.modified_time, d.c.created_time)
    for collection, types in (("entries", ENTRY_TYPES), ("treatments", TREATMENT_TYPES)):
        value = conn.execute(
            select(func.max(changed)).where(d.c.user_id == site.user_id, d.c.type.in_(list(types)))
        ).scalar()
        if value is not None:
            found[collection] = int(value) // 1000
    n = nightscout_documents.c
    for collection, value in conn.execute(
        select(n.collection, func.max(n.modified_time))
        .where(n.site_id == site.site_id)
        .group_by(n.collection)
    ):
        found[collection] = max(found.get(collection, 0), int(value) // 1000)
    return found

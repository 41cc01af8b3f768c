"""Nightscout API v3 on a person's site: ``/ns/<site-id>/api/v3/{entries,treatments,devicestatus,profile}``.

Search, create, read, update, patch, delete (``isValid: false``; the data model keeps a tombstone),
``history/{lastModified}``, ``lastModified``, ``status`` and ``version``, answered in the
``{status, result}`` envelope. The server stamps ``identifier`` (a UUID v5 of ``device + date
[+ eventType]`` when the client sent none), ``srvCreated`` and ``srvModified``. Records go through
the same mapping and pipeline as API v1 (:mod:`inlet.nightscout.store`). Credentials: a JWT from
``/api/v2/authorization/request/<token>`` (``Authorization: Bearer``), or ``?token=``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet import __version__
from inlet.api.deps import ServicesDep
from inlet.db.engine import read_only
from inlet.model.timeutil import now_utc, to_micros
from inlet.nightscout import mapping, store
from inlet.nightscout.mapping import RecordInvalid
from inlet.nightscout.routes import NightscoutError, _body, _json, _store, need, resolve
from inlet.nightscout.sites import Access

router = APIRouter()
BASE = "/ns/{site_id}/api/v3"
COLLECTIONS = ("entries", "treatments", "devicestatus", "profile")
API_VERSION = "3.0.4"
RESERVED = {"limit", "skip", "sort", "sort$desc", "fields", "token", "now"}
OPS = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "re"}
SERVER_FIELDS = ("srvCreated", "srvModified", "isValid", "subject")


def _collection(name: str) -> str:
    if name not in COLLECTIONS:
        raise NightscoutError(404, f"Collection {name} not found")
    return name


def _v3_access(request: Request, services: Any, site_id: str, permission: str) -> Access:
    return need(resolve(request, services, site_id), permission)


def _search_find(request: Request) -> store.Find:
    params = []
    for name, value in request.query_params.multi_items():
        if name in RESERVED:
            continue
        field, _, op = name.partition("$")
        if op and op not in OPS:
            raise NightscoutError(400, f"Unsupported filter operator {op}")
        op = {"re": "regex", "": "eq"}.get(op, op)
        params.append((f"find[{field}][${op}]", value))
    return store.Find.parse(params, now_utc(), default_window=False)


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "10")
    try:
        value = int(raw)
    except ValueError as error:
        raise NightscoutError(400, "Parameter limit out of tolerance") from error
    if not 0 < value <= 1000:
        raise NightscoutError(400, "Parameter limit out of tolerance")
    return value


def _read(conn: Any, access: Access, collection: str, find: store.Find, count: int) -> list[dict[str, Any]]:
    if collection == "entries":
        return store.read_entries(conn, access.site, find, count, v3=True)
    if collection == "treatments":
        return store.read_treatments(conn, access.site, find, count, v3=True)
    return store.read_documents(conn, access.site, collection, find, count, v3=True)


def _project(records: list[dict[str, Any]], fields: str | None) -> list[dict[str, Any]]:
    if not fields or fields == "_all":
        return records
    wanted = {f.strip() for f in fields.split(",")} | {"identifier"}
    return [{k: v for k, v in r.items() if k in wanted} for r in records]


@router.get(BASE + "/version", include_in_schema=False)
def version(site_id: str) -> Response:
    now = to_micros(now_utc()) // 1000
    result = {
        "version": "15.0.2",
        "apiVersion": API_VERSION,
        "srvDate": now,
        "storage": {"storage": "inlet", "version": __version__},
    }
    return _json({"status": 200, "result": result})


@router.get(BASE + "/status", include_in_schema=False)
def status(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = _v3_access(request, services, site_id, "read")
    permissions = {c: "r" + ("cud" if access.can(c) else "") for c in COLLECTIONS}
    now = to_micros(now_utc()) // 1000
    result = {
        "version": "15.0.2",
        "apiVersion": API_VERSION,
        "srvDate": now,
        "storage": {"storage": "inlet", "version": __version__},
        "apiPermissions": permissions,
    }
    return _json({"status": 200, "result": result})


@router.get(BASE + "/lastModified", include_in_schema=False)
def last_modified(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = _v3_access(request, services, site_id, "read")
    with read_only(services.engine) as conn:
        collections = store.last_modified(conn, access.site)
    return _json(
        {"status": 200, "result": {"srvDate": to_micros(now_utc()) // 1000, "collections": collections}}
    )


@router.get(BASE + "/{collection}", include_in_schema=False)
def search(request: Request, site_id: str, collection: str, services: ServicesDep) -> Response:
    access = _v3_access(request, services, site_id, "read")
    collection = _collection(collection)
    find = _search_find(request)
    limit = _limit(request)
    try:
        skip = max(0, int(request.query_params.get("skip", "0")))
    except ValueError as error:
        raise NightscoutError(400, "Parameter skip out of tolerance") from error
    with read_only(services.engine) as conn:
        records = _read(conn, access, collection, find, limit + skip)[skip:]
    ascending = request.query_params.get("sort")
    if ascending:
        records.sort(key=lambda r: (r.get(ascending) is None, r.get(ascending)))
    return _json({"status": 200, "result": _project(records, request.query_params.get("fields"))})


@router.get(BASE + "/{collection}/history/{since}", include_in_schema=False)
@router.get(BASE + "/{collection}/history", include_in_schema=False)
def history(
    request: Request, site_id: str, collection: str, services: ServicesDep, since: str | None = None
) -> Response:
    access = _v3_access(request, services, site_id, "read")
    collection = _collection(collection)
    value = since or request.headers.get("last-modified") or "0"
    try:
        since_ms = int(value)
    except ValueError as error:
        raise NightscoutError(400, "Bad lastModified") from error
    limit = _limit(request) if "limit" in request.query_params else 1000
    with read_only(services.engine) as conn:
        records = store.history(conn, access.site, collection, since_ms, limit)
    return _json({"status": 200, "result": _project(records, request.query_params.get("fields"))})


def _identify(collection: str, record: dict[str, Any]) -> dict[str, Any]:
    """Stamp ``identifier`` as Nightscout v3 does when the client sent none (``_id`` mirrors it)."""
    out = {k: v for k, v in record.items() if k not in SERVER_FIELDS}
    if not out.get("identifier"):
        if out.get("_id"):
            out["identifier"] = out["_id"]
        else:
            when = out.get("date") or out.get("created_at") or out.get("startDate")
            extra = out.get("eventType") if collection == "treatments" else None
            out["identifier"] = mapping.v5_identifier(out.get("device") or out.get("enteredBy"), when, extra)
    out.setdefault("_id", out["identifier"])
    return out


def _find_one(services: Any, access: Access, collection: str, identifier: str) -> dict[str, Any] | None:
    with read_only(services.engine) as conn:
        return store.find_by_key(conn, access.site, collection, identifier)


@router.post(BASE + "/{collection}", include_in_schema=False)
async def create(request: Request, site_id: str, collection: str, services: ServicesDep) -> Response:
    collection = _collection(collection)
    access = _v3_access(request, services, site_id, collection)
    body = await _body(request, services)
    if not isinstance(body, dict):
        raise NightscoutError(400, "Bad or missing request body")
    record = _identify(collection, body)
    existed = _find_one(services, access, collection, record["identifier"]) is not None
    await _store(request, services, access.site, collection, [record])
    modified = to_micros(now_utc()) // 1000
    result = {"identifier": record["identifier"], "lastModified": modified}
    if existed:
        return _json(
            {
                "status": 200,
                "identifier": record["identifier"],
                "isDeduplication": True,
                "result": {**result, "isDeduplication": True},
            }
        )
    return _json(
        {"status": 201, "identifier": record["identifier"], "lastModified": modified, "result": result}, 201
    )


@router.get(BASE + "/{collection}/{identifier}", include_in_schema=False)
def read(request: Request, site_id: str, collection: str, identifier: str, services: ServicesDep) -> Response:
    access = _v3_access(request, services, site_id, "read")
    collection = _collection(collection)
    found = _find_one(services, access, collection, identifier)
    if found is None:
        raise NightscoutError(404, "Document not found")
    found.setdefault("identifier", identifier)
    return _json({"status": 200, "result": found})


@router.put(BASE + "/{collection}/{identifier}", include_in_schema=False)
@router.patch(BASE + "/{collection}/{identifier}", include_in_schema=False)
async def update(
    request: Request, site_id: str, collection: str, identifier: str, services: ServicesDep
) -> Response:
    collection = _collection(collection)
    access = _v3_access(request, services, site_id, collection)
    body = await _body(request, services)
    if not isinstance(body, dict):
        raise NightscoutError(400, "Bad or missing request body")
    existing = _find_one(services, access, collection, identifier)
    if request.method == "PATCH":
        if existing is None:
            raise NightscoutError(404, "Document not found")
        record = {**existing, **body}
    else:
        record = dict(body)
    record = {k: v for k, v in record.items() if k not in SERVER_FIELDS}
    record["identifier"] = identifier
    record.setdefault("_id", existing.get("_id", identifier) if existing else identifier)
    try:
        await _store(request, services, access.site, collection, [record])
    except RecordInvalid as error:  # pragma: no cover - _store answers these itself
        raise NightscoutError(400, str(error)) from error
    if existing is None:
        return _json({"status": 201, "identifier": identifier, "result": {"identifier": identifier}}, 201)
    return _json({"status": 200})


@router.delete(BASE + "/{collection}/{identifier}", include_in_schema=False)
def delete(
    request: Request, site_id: str, collection: str, identifier: str, services: ServicesDep
) -> Response:
    collection = _collection(collection)
    access = _v3_access(request, services, site_id, collection)
    with services.engine.begin() as conn:
        n = store.tombstone(conn, access.site, collection, [identifier], to_micros(now_utc()))
    if not n:
        raise NightscoutError(404, "Document not found")
    return _json({"status": 200})

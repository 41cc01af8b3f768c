"""The platform data service's data set endpoints, wire-compatible with Tidepool.

``/v1/datasets/...`` is an alias of every ``/v1/data_sets/...`` path below but the data delete.

| method | path | who | success |
| --- | --- | --- | --- |
| POST | /v1/users/:userId/data_sets | upload | 201 ``{"data": <data set>, "meta": {"trace": ...}}`` |
| POST | /v1/data_sets/:id/data | upload | 200 ``{"data": [], "meta": ...}`` |
| PUT | /v1/data_sets/:id | upload | 200 ``{"data": <data set>, "meta": ...}`` |
| DELETE | /v1/data_sets/:id | owner, custodian, its uploader | 200 ``{"data": {}, "meta": ...}`` |
| DELETE | /v1/data_sets/:id/data | upload | 200 ``{"data": [], "meta": ...}`` |
| GET | /v1/users/:userId/data_sets | owner, custodian, upload, view | 200 bare JSON array |
| GET | /v1/data_sets/:id | view (Tidepool: owner) | 200 bare data set |
| GET | /v1/users/:userId/data_sources | view (Tidepool: owner) | 200 bare JSON array |

Order of checks, as in the platform: the data set (404 ``data-set-id-not-found``), then who is asking
(401/403), then its state (409 ``data-set-closed``), then the body (400). A request that fails stores
nothing: the request is one transaction. Servers (service secret, server session) may do everything.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from inlet.accounts.deps import AuthDep, Caller, permissions_for, require
from inlet.api.body import openapi_json_body
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import (
    PlatformError,
    envelope,
    json_malformed,
    json_response,
    model_errors,
    not_found,
    unauthenticated,
    unauthorized,
)
from inlet.data import queries
from inlet.data.errors import DataSetClosed, DataSetNotFound, ValidationFailed
from inlet.data.records import CLOSED, DataSet
from inlet.data.service import nul_errors
from inlet.model import errors as e
from inlet.model.data_set import STATES
from inlet.model.errors import Errors, ModelError
from inlet.model.timeutil import (
    DATA_SET_TIMEZONE_OFFSET_MAX,
    DATA_SET_TIMEZONE_OFFSET_MIN,
    format_utc,
    is_timezone_name,
    parse_rfc3339,
)

if TYPE_CHECKING:
    from inlet.services import Services

router = APIRouter(tags=["data sets"])
# Parameter order matters: FastAPI resolves dependencies in order, and the write connection takes
# SQLite's write lock, so it comes last, after the body has arrived and the caller is known.

PAGE_MIN = 0
SIZE_MIN, SIZE_MAX, SIZE_DEFAULT = 1, 1000, 100
_INTEGER = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63


def install_errors(app: FastAPI) -> None:
    """Register the handlers that answer the data domain's exceptions in Tidepool's error format."""

    @app.exception_handler(ValidationFailed)
    async def validation_failed(request: Request, exc: ValidationFailed) -> Response:
        return json_response(envelope(model_errors(exc.errors), request), 400)

    @app.exception_handler(DataSetNotFound)
    async def data_set_not_found(request: Request, exc: DataSetNotFound) -> Response:
        error = not_found("data-set-id-not-found", "data set", exc.data_set_id)
        return json_response(envelope(error.errors, request), 404)

    @app.exception_handler(DataSetClosed)
    async def data_set_closed(request: Request, exc: DataSetClosed) -> Response:
        error = PlatformError(
            409, "data-set-closed", "data set is closed", f"data set with id {exc.data_set_id!r} is closed"
        )
        return json_response(envelope(error.errors, request), 409)


async def raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]
Text = Annotated[str | None, Query()]

# ---- request body schemas (OpenAPI only: bodies are parsed by the data model) ----------------------

_OBJECT = {"type": "object", "additionalProperties": True}
_DATA_SET_BODY = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["upload"]},
        "dataSetType": {"type": "string", "enum": ["normal", "continuous"]},
        "client": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "private": _OBJECT},
        },
        "deduplicator": {"type": "object", "properties": {"name": {"type": "string"}}},
        "deviceId": {"type": "string"},
        "deviceManufacturers": {"type": "array", "items": {"type": "string"}},
        "deviceModel": {"type": "string"},
        "deviceSerialNumber": {"type": "string"},
        "deviceTags": {"type": "array", "items": {"type": "string"}},
        "time": {"type": "string", "format": "date-time"},
        "computerTime": {"type": "string"},
        "timezone": {"type": "string"},
        "timezoneOffset": {"type": "integer"},
        "conversionOffset": {"type": "integer"},
        "clockDriftOffset": {"type": "integer"},
        "timeProcessing": {"type": "string"},
        "version": {"type": "string"},
        "byUser": {"type": "string"},
    },
}
_DATUM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "deviceId": {"type": "string"},
        "units": {"type": "string"},
        "value": {"type": "number"},
    },
    "required": ["type", "time"],
}
_SELECTOR = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "deduplicator": {"type": "object", "properties": {"hash": {"type": "string"}}},
        "origin": {"type": "object", "properties": {"id": {"type": "string"}}},
    },
}
_UPDATE_BODY = {
    "type": "object",
    "properties": {
        "dataState": {"type": "string", "enum": ["closed", "open"]},
        "state": {"type": "string", "enum": ["closed", "open"]},
        "deviceId": {"type": "string"},
        "deviceModel": {"type": "string"},
        "deviceSerialNumber": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "timezone": {"type": "string"},
        "timezoneOffset": {"type": "integer"},
    },
}


# ---- helpers ---------------------------------------------------------------------------------------


def _data(request: Request, data: Any, status: int = 200) -> Response:
    """The platform's ``{"data": ..., "meta": {"trace": ...}}`` response."""
    return json_response({"data": data, "meta": envelope([], request)["meta"]}, status)


def _parse_json(raw: bytes) -> Any:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise json_malformed() from error
    if b"\\u0000" in raw:
        errors = nul_errors(body)
        if errors:
            raise _validation(errors)
    return body


def _plain(name: str, value: str | None) -> None:
    """Path and query values reach SQL as text: a NUL character (which no stored value holds and
    PostgreSQL cannot take) is a 400 here rather than a database failure."""
    if value is not None and "\x00" in value:
        raise PlatformError(
            400,
            "value-not-valid",
            "value is not valid",
            "value contains a NUL character",
            parameter=name,
        )


def data_set_not_found(data_set_id: str) -> PlatformError:
    return PlatformError(
        404,
        "data-set-id-not-found",
        "data set with specified id not found",
        f"Data set with id {data_set_id} not found",
    )


def data_set_closed(data_set_id: str) -> PlatformError:
    return PlatformError(
        409,
        "data-set-closed",
        "data set with specified id is closed for new data",
        f"Data set with id {data_set_id} is closed for new data",
    )


def _find(
    services: Services, conn: Connection, data_set_id: str, *, include_deleted: bool = False
) -> DataSet:
    if "\x00" in data_set_id:
        raise data_set_not_found(data_set_id)
    try:
        found: DataSet = services.data.get_data_set(conn, data_set_id, include_deleted=include_deleted)
    except DataSetNotFound as error:
        raise data_set_not_found(data_set_id) from error
    return found


def _errors(status: int, items: list[dict[str, Any]]) -> PlatformError:
    error = PlatformError(status, "", "", "")
    error.errors = items
    return error


def _parameter_error(name: str, problem: e.Problem) -> dict[str, Any]:
    code, title, detail = problem
    return {
        "code": code,
        "title": title,
        "detail": detail,
        "status": "400",
        "source": {"parameter": name},
        "meta": {},
    }


def _int_parameter(value: str, name: str, errors: list[dict[str, Any]]) -> int | None:
    """Go's ``strconv.ParseInt(value, 10, 0)``: optional sign, digits, 64-bit."""
    if _INTEGER.fullmatch(value) is None or len(value) > 20 or not -_INT64 <= int(value) < _INT64:
        errors.append(_parameter_error(name, e.type_not("int", value)))
        return None
    return int(value)


def _pagination(request: Request, errors: list[dict[str, Any]]) -> tuple[int, int]:
    page, size = PAGE_MIN, SIZE_DEFAULT
    raw_page = request.query_params.get("page")
    if raw_page is not None:
        parsed = _int_parameter(raw_page, "page", errors)
        if parsed is not None and parsed < PAGE_MIN:
            errors.append(_parameter_error("page", e.not_greater_than_or_equal_to(parsed, PAGE_MIN)))
        elif parsed is not None:
            page = parsed
    raw_size = request.query_params.get("size")
    if raw_size is not None:
        parsed = _int_parameter(raw_size, "size", errors)
        if parsed is not None and not SIZE_MIN <= parsed <= SIZE_MAX:
            errors.append(_parameter_error("size", e.not_in_range(parsed, SIZE_MIN, SIZE_MAX)))
        elif parsed is not None:
            size = parsed
    return page, size


# ---- data sets ------------------------------------------------------------------------------------


def create_data_set(
    request: Request, userId: str, body: RawBody, caller: AuthDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Create a data set for ``userId`` (needs ``upload``): 201 with the data set, ``state: open``."""
    _plain("userId", userId)
    require(request, conn, caller, userId, "upload")
    payload = _parse_json(body)
    created_by = None if caller.is_service else caller.user_id
    data_set = services.data.create_data_set(conn, userId, payload, created_user_id=created_by)
    return _data(request, data_set.doc, 201)


for _path in ("/v1/users/{userId}/data_sets", "/v1/users/{userId}/datasets"):
    router.add_api_route(
        _path,
        create_data_set,
        methods=["POST"],
        status_code=201,
        openapi_extra=openapi_json_body(_DATA_SET_BODY),
        responses={201: {"description": "the data set"}},
        name=f"create_data_set{_path.rsplit('/', 1)[-1]}",
    )


def add_data(
    request: Request, id: str, body: RawBody, caller: AuthDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Add a JSON array of datums. Every error of the request comes back with its JSON pointer
    (``/<index>/<field>``) and nothing is stored; 409 when the set is closed."""
    data_set = _find(services, conn, id)
    require(request, conn, caller, data_set.user_id, "upload")
    if not data_set.is_open:
        raise data_set_closed(id)
    services.data.add_data(conn, data_set, _parse_json(body))
    return _data(request, [])


for _path in ("/v1/data_sets/{id}/data", "/v1/datasets/{id}/data"):
    router.add_api_route(
        _path,
        add_data,
        methods=["POST"],
        openapi_extra=openapi_json_body({"type": "array", "items": _DATUM}),
        name=f"add_data_{_path.split('/')[2]}",
    )


def _parse_update(payload: Any) -> tuple[dict[str, Any], str | None]:
    """The platform's ``DataSetUpdate`` (continuous sets, servers only): the fields to set and the
    requested state. ``dataState`` is read as ``state`` (what the platform client sends)."""
    errs = Errors()
    if not isinstance(payload, dict):
        errs.add("", e.type_not("object", payload))
        raise _validation(errs.items)
    values: dict[str, Any] = {}
    state = payload.get("state", payload.get("dataState"))
    if state is not None:
        pointer = "/state" if "state" in payload else "/dataState"
        if not isinstance(state, str):
            errs.add(pointer, e.type_not("string", state))
        elif state not in STATES:
            errs.add(pointer, e.not_one_of(state, sorted(STATES)))
    for key, minimum in (("deviceId", 1), ("deviceModel", 2), ("deviceSerialNumber", 2)):
        if key not in payload:
            continue
        value = payload[key]
        if not isinstance(value, str):
            errs.add(f"/{key}", e.type_not("string", value))
        elif not value:
            errs.add(f"/{key}", e.empty())
        elif len(value) < minimum:
            errs.add(f"/{key}", e.length_not_greater_than_or_equal_to(len(value), minimum))
        else:
            values[key] = value
    if "time" in payload:
        value = payload["time"]
        parsed = parse_rfc3339(value) if isinstance(value, str) else None
        if not isinstance(value, str):
            errs.add("/time", e.type_not("string", value))
        elif parsed is None:
            errs.add("/time", e.time_not_valid(value, "2006-01-02T15:04:05Z07:00"))
        else:
            values["time"] = format_utc(parsed)
    if "timezone" in payload:
        value = payload["timezone"]
        if not isinstance(value, str):
            errs.add("/timezone", e.type_not("string", value))
        elif not is_timezone_name(value):
            errs.add("/timezone", e.not_valid(f"value {e.quote(value)} is not a valid time zone name"))
        else:
            values["timezone"] = value
    if "timezoneOffset" in payload:
        value = payload["timezoneOffset"]
        if not isinstance(value, int) or isinstance(value, bool):
            errs.add("/timezoneOffset", e.type_not("int", value))
        elif not DATA_SET_TIMEZONE_OFFSET_MIN <= value <= DATA_SET_TIMEZONE_OFFSET_MAX:
            errs.add(
                "/timezoneOffset",
                e.not_in_range(value, DATA_SET_TIMEZONE_OFFSET_MIN, DATA_SET_TIMEZONE_OFFSET_MAX),
            )
        else:
            values["timezoneOffset"] = value
    if errs:
        raise _validation(errs.items)
    return values, state if isinstance(state, str) else None


def _validation(items: list[ModelError]) -> PlatformError:
    return _errors(400, [item.to_platform(400) for item in items])


def update_data_set(
    request: Request, id: str, body: RawBody, caller: AuthDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Close a data set: its deduplicator runs and its data becomes visible. For ``normal`` sets the
    body is ignored (clients send ``{"dataState": "closed"}``); a ``continuous`` set can only be
    updated by a server, with the platform's update fields. 409 when already closed."""
    data_set = _find(services, conn, id)
    require(request, conn, caller, data_set.user_id, "upload")
    if data_set.state == CLOSED:
        raise data_set_closed(id)
    if data_set.is_continuous:
        if not caller.is_service:
            raise unauthorized()
        values, state = _parse_update(_parse_json(body) if body.strip() else {})
        services.data.update_data_set(conn, data_set, values)
        if state == CLOSED:
            services.data.close(conn, data_set)
    else:
        services.data.close(conn, data_set)
    return _data(request, data_set.doc)


for _path in ("/v1/data_sets/{id}", "/v1/datasets/{id}"):
    router.add_api_route(
        _path,
        update_data_set,
        methods=["PUT"],
        openapi_extra=openapi_json_body(_UPDATE_BODY, required=False),
        name=f"update_data_set_{_path.split('/')[2]}",
    )


def _may_delete(request: Request, conn: Connection, caller: Caller, data_set: DataSet) -> None:
    if caller.is_service:
        return
    have = permissions_for(request, conn, caller, data_set.user_id)
    if have.intersection({"root", "custodian"}):
        return
    creator = data_set.created_user_id
    if "upload" in have and creator is not None and creator == caller.user_id:
        return
    raise unauthenticated() if caller.is_anonymous else unauthorized()


def delete_data_set(
    request: Request, id: str, caller: AuthDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Delete a data set (the owner, a custodian, or the user with ``upload`` who created it). Its data
    is tombstoned and what its deduplicator archived is restored. Deleting twice is fine."""
    data_set = _find(services, conn, id, include_deleted=True)
    _may_delete(request, conn, caller, data_set)
    if data_set.deleted_time is None:
        services.data.delete_data_set(conn, data_set)
    return _data(request, {})


for _path in ("/v1/data_sets/{id}", "/v1/datasets/{id}"):
    router.add_api_route(
        _path, delete_data_set, methods=["DELETE"], name=f"delete_data_set_{_path.split('/')[2]}"
    )


@router.delete(
    "/v1/data_sets/{id}/data", openapi_extra=openapi_json_body({"type": "array", "items": _SELECTOR})
)
def delete_data(
    request: Request, id: str, body: RawBody, caller: AuthDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Delete data of an open data set by selectors: each exactly one of ``{id, time}``,
    ``{deduplicator: {hash}}``, ``{origin: {id, time}}``. Inlet tombstones where Tidepool deletes."""
    data_set = _find(services, conn, id)
    require(request, conn, caller, data_set.user_id, "upload")
    if not data_set.is_open:
        raise data_set_closed(id)
    services.data.delete_data(conn, data_set, _parse_json(body))
    return _data(request, [])


def _query_parameter(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


# Declared for OpenAPI only: they are read from the query string, so a bad value gets the platform's
# error (``type-not-int`` with ``source.parameter``) rather than FastAPI's.
_PAGINATION = [
    _query_parameter("page", {"type": "integer", "minimum": PAGE_MIN, "default": PAGE_MIN}),
    _query_parameter("size", {"type": "integer", "minimum": SIZE_MIN, "maximum": SIZE_MAX, "default": 100}),
]


@router.get(
    "/v1/users/{userId}/data_sets",
    openapi_extra={"parameters": [*_PAGINATION, _query_parameter("deleted", {"type": "boolean"})]},
)
def list_data_sets(
    request: Request,
    userId: str,
    conn: ReadConn,
    caller: AuthDep,
    client_name: Annotated[str | None, Query(alias="client.name", json_schema_extra={"minLength": 1})] = None,
    deviceId: Annotated[str | None, Query(json_schema_extra={"minLength": 1})] = None,
) -> Response:
    """The user's data sets, newest first, as a bare JSON array: closed ``normal`` sets and
    ``continuous`` sets; ``deleted=true`` adds deleted ones. ``page`` >= 0, ``size`` 1..1000 (100)."""
    for name, value in (("userId", userId), ("client.name", client_name), ("deviceId", deviceId)):
        _plain(name, value)
    if not caller.is_service and caller.user_id != userId:
        require(request, conn, caller, userId, "custodian", "upload", "view")
    errors: list[dict[str, Any]] = []
    if client_name is not None and client_name == "":
        errors.append(_parameter_error("client.name", e.empty()))
    if deviceId is not None and deviceId == "":
        errors.append(_parameter_error("deviceId", e.empty()))
    include_deleted = False
    deleted = request.query_params.get("deleted")
    if deleted is not None:
        flag = queries.parse_go_bool(deleted)
        if flag is None:
            errors.append(_parameter_error("deleted", e.type_not("bool", deleted)))
        else:
            include_deleted = flag
    page_number, page_size = _pagination(request, errors)
    if errors:
        raise _errors(400, errors)
    found = queries.list_user_data_sets(
        conn,
        userId,
        client_name=client_name,
        device_id=deviceId,
        deleted=include_deleted,
        page=page_number,
        size=page_size,
    )
    return json_response(found)


@router.get("/v1/data_sets/{id}")
def get_data_set(
    request: Request, id: str, services: ServicesDep, conn: ReadConn, caller: AuthDep
) -> Response:
    """One data set, bare, deleted ones too (with ``deletedTime``). Tidepool lets only the owner and
    servers read it; Inlet lets everyone who may view the owner's data (``view``, ``custodian``)."""
    try:
        if "\x00" in id:
            raise DataSetNotFound(id)
        data_set = services.data.get_data_set(conn, id, include_deleted=True)
    except DataSetNotFound as error:
        raise PlatformError(
            404, "resource-not-found", "resource not found", f'resource with id "{id}" not found'
        ) from error
    require(request, conn, caller, data_set.user_id, "view")
    return json_response(data_set.doc)


@router.get("/v1/users/{userId}/data_sources", openapi_extra={"parameters": _PAGINATION})
def list_data_sources(
    request: Request, userId: str, caller: AuthDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """The user's partner data sources, oldest first, as a bare JSON array. Tidepool answers the owner
    and servers only; Inlet also those who may view the owner's data (a clinic sees connection states)."""
    _plain("userId", userId)
    require(request, conn, caller, userId, "view")
    errors: list[dict[str, Any]] = []
    page, size = _pagination(request, errors)
    if errors:
        raise _errors(400, errors)
    found = services.partners.list_sources(conn, userId, page, size)
    return json_response([source.public() for source in found])

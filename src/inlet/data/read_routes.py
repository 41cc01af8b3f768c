"""``GET /data/:userId``: a user's device data as one streamed JSON array (tide-whisperer compatible).

Who may read: the owner, a server (service secret or server session), or a user the owner granted
``view`` (``root`` and ``custodian`` imply it); by session header or ``restricted_token``. Errors use
tide-whisperer's ``{status, id, code, message}``:

- 403 ``data_cant_view`` "user is not authorized to view data": no, a bad or an expired token, or no
  permission (tide-whisperer answers 403 for all of these).
- 400 ``invalid_parameters`` "one or more parameters are invalid": a query parameter that cannot be
  read. tide-whisperer answers 500 with this code; Inlet never answers 5xx for bad input.

The filters and their meaning are in :mod:`inlet.data.queries`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection

from inlet.accounts.deps import Caller, current_caller, permissions_for, resolve_caller
from inlet.api.deps import get_services
from inlet.api.errors import DataReadError, PlatformError
from inlet.data import queries
from inlet.db.engine import read_only

router = APIRouter(tags=["data"])

CANT_VIEW = ("data_cant_view", "user is not authorized to view data")
INVALID_PARAMETERS = ("invalid_parameters", "one or more parameters are invalid")


def _error(status: int, code_message: tuple[str, str]) -> DataReadError:
    code, message = code_message
    return DataReadError(status, code, message, id=str(uuid.uuid4()))


def _caller(request: Request, conn: Connection) -> Caller:
    try:
        return resolve_caller(request, conn)
    except PlatformError as error:
        raise _error(403, CANT_VIEW) from error


def _caller_or_403(request: Request) -> None:
    try:
        current_caller(request)
    except PlatformError as error:
        raise _error(403, CANT_VIEW) from error


Text = Annotated[str | None, Query()]


@router.get(
    "/data/{userId}",
    responses={
        200: {"description": "a JSON array of the user's active data, streamed"},
        400: {"description": "invalid_parameters"},
        403: {"description": "data_cant_view"},
    },
)
def get_data(
    request: Request,
    userId: str,
    type: Text = None,
    subType: Text = None,
    startDate: Text = None,
    endDate: Text = None,
    uploadId: Text = None,
    deviceId: Text = None,
    latest: Text = None,
    cbgFilter: Text = None,
    sampleIntervalMinimum: Text = None,
    dosingDecisionReason: Annotated[str | None, Query(alias="dosingDecision.reason")] = None,
    carelink: Text = None,
    dexcom: Text = None,
    medtronic: Text = None,
    restricted_token: Text = None,
) -> StreamingResponse:
    """Device data of ``userId``: every active datum (and upload record) that passes the filters, in
    time order. Storage-only fields never appear.

    The caller is resolved, the permission checked, the filters resolved and the first page fetched
    on one pooled connection, which goes back to the pool before the first byte is sent; each further
    page borrows a connection only while it fetches (:func:`queries.stream_json`)."""
    services = get_services(request)
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    try:
        if "\x00" in userId:
            raise queries.InvalidParameter("userId", "userId contains a NUL character")
        query = queries.DataQuery.from_params(userId, params)
    except queries.InvalidParameter as error:
        _caller_or_403(request)  # who is asking comes first: an unknown token is a 403, not a 400
        raise _error(400, INVALID_PARAMETERS) from error
    with read_only(services.engine) as conn:
        caller = _caller(request, conn)
        if caller.is_anonymous or not permissions_for(request, conn, caller, userId).intersection(
            {"root", "view", "custodian"}
        ):
            raise _error(403, CANT_VIEW)
        plan = queries.prepare(conn, query)
        first = queries.fetch_page(conn, plan)
    body = queries.stream_json(lambda: read_only(services.engine), plan, first)
    return StreamingResponse(body, media_type="application/json")

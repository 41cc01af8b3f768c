"""``GET /export/:userId``: a person's data as a download, as Tidepool's export service serves it.

``format=json`` answers ``TidepoolExport.json`` (the ``GET /data`` documents of the window, glucose in
``bgUnits``); any other format answers ``TidepoolExport.xlsx``. ``bgUnits`` is ``mmol/L`` (default) or
``mg/dL``; ``startDate`` and ``endDate`` are inclusive RFC 3339 bounds on ``time``, as in ``GET /data``.

Who may export: whoever may read the data (the owner, a custodian, a viewer by direct or clinic share,
a server), by session header or a ``restricted_token`` for the path. Errors use the read API's
``{status, id, code, message}``: 401 without (valid) credentials, 403 without permission, 400 for a
parameter that cannot be read.

The workbook is built in a temporary file (constant memory, see :mod:`inlet.exports.xlsx`) before the
first byte goes out: a failure is then a workbook with an ``EXPORT ERROR`` sheet, never a cut file.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from inlet.accounts.deps import Caller, current_caller, permissions_for
from inlet.api.deps import get_services
from inlet.api.errors import DataReadError, PlatformError
from inlet.data import queries
from inlet.db.engine import read_only
from inlet.exports import service
from inlet.exports.units import parse_bg_units
from inlet.exports.xlsx import write_workbook

router = APIRouter(tags=["export"])
VIEW = frozenset({"root", "custodian", "view"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Text = Annotated[str | None, Query()]


def _error(status: int, code: str, message: str) -> DataReadError:
    return DataReadError(status, code, message, id=str(uuid.uuid4()))


def _caller(request: Request) -> Caller:
    try:
        caller = current_caller(request)
    except PlatformError as error:
        raise _error(error.status, "export_unauthenticated", "the credentials are not valid") from error
    if caller.is_anonymous:
        raise _error(401, "export_unauthenticated", "a session token or restricted token is required")
    return caller


def _window(startDate: str | None, endDate: str | None) -> tuple[int | None, int | None]:
    """The inclusive bounds in microseconds (``GET /data``'s reading of the parameters)."""
    params = {k: [v] for k, v in (("startDate", startDate), ("endDate", endDate)) if v is not None}
    try:
        query = queries.DataQuery.from_params("", params)
    except queries.InvalidParameter as error:
        raise _error(400, "invalid_parameters", str(error)) from error
    return query.start, query.end


@router.get(
    "/export/{userId}",
    responses={
        200: {"description": "TidepoolExport.json or TidepoolExport.xlsx, as an attachment"},
        400: {"description": "invalid_parameters"},
        401: {"description": "no valid credentials"},
        403: {"description": "no permission to view the data"},
    },
)
def export(
    request: Request,
    userId: str,
    format: Text = None,
    bgUnits: Text = None,
    startDate: Text = None,
    endDate: Text = None,
    restricted_token: Text = None,
) -> Response:
    """A person's data for a window, as JSON or an Excel workbook (Tidepool's export service)."""
    services = get_services(request)
    caller = _caller(request)
    units = parse_bg_units(bgUnits)
    if units is None:
        raise _error(400, "invalid_parameters", "bgUnits must be mmol/L or mg/dL")
    start, end = _window(startDate, endDate)
    conn = read_only(services.engine)
    try:
        if not permissions_for(request, conn, caller, userId) & VIEW:
            raise _error(403, "export_cant_view", "user is not authorized to export data")
        plan = service.plan_for(conn, userId, start, end)
        if format == "json":
            body = service.json_chunks(conn, plan, units)
            first = next(body)
        else:
            folder = tempfile.mkdtemp(prefix="inlet-export-")
            path = Path(folder) / "TidepoolExport.xlsx"
            try:
                write_workbook(service.documents(conn, plan, units), path)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            conn.close()
            return FileResponse(
                path,
                media_type=XLSX,
                filename="TidepoolExport.xlsx",
                background=BackgroundTask(shutil.rmtree, folder, True),
            )
    except BaseException:
        conn.close()
        raise

    def chunks() -> Iterator[bytes]:
        try:
            yield first
            yield from body
        finally:
            conn.close()

    return StreamingResponse(
        chunks(),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="TidepoolExport.json"'},
    )

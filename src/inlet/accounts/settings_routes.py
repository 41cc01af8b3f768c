"""``/metadata/:userId/settings`` (seagull's settings collection): the glucose unit a person reads,
their target range and what counts as a site change; see :mod:`inlet.accounts.settings`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inlet.accounts import settings as st
from inlet.accounts import validate as v
from inlet.accounts.deps import CallerDep, require_account
from inlet.api.body import openapi_json_body
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import json_response, not_found
from inlet.reports.units import UNITS

router = APIRouter(tags=["metadata"])
OptionalBody = Annotated[Any, Depends(v.optional_json)]

SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "units": {"type": "object", "properties": {"bg": {"type": "string", "enum": list(UNITS)}}},
        "bgTarget": {
            "type": "object",
            "properties": {"low": {"type": "number"}, "high": {"type": "number"}},
        },
        "siteChangeSource": {"type": "string", "enum": list(st.SITE_CHANGE_SOURCES)},
        "timezone": {
            "type": "string",
            "description": "the IANA time zone pages show the person's times in (Inlet's field)",
        },
    },
}


@router.get("/metadata/{user_id}/settings")
def get_settings(user_id: str, request: Request, caller: CallerDep, conn: ReadConn) -> Response:
    """The settings document, to anyone who may view the account's data; 404 when none was saved
    (clients then use mg/dL and 70-180)."""
    user, _ = require_account(request, conn, caller, user_id, "view")
    doc = st.get(conn, user.id)
    if doc is None:
        raise not_found("settings-not-found", "settings", user_id)
    return json_response(doc)


@router.put("/metadata/{user_id}/settings", openapi_extra=openapi_json_body(SETTINGS_SCHEMA))
def put_settings(
    user_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Replace the settings (owner, custodians, services); answers the stored document. A new unit
    without a target converts the stored target."""
    user, _ = require_account(request, conn, caller, user_id, "custodian")
    doc = st.checked(body, st.get(conn, user.id))
    st.put(conn, services.accounts.now(), user.id, doc)
    return json_response(doc)

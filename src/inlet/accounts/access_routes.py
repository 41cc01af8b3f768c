"""Gatekeeper-compatible permissions: who may see whose account and data.

A grant is ``{"view": {}, "upload": {}, ...}`` from an account (the group) to another user. Every
account holds ``{"root": {}}`` on itself; ``root`` cannot be granted. These endpoints show and set
direct grants only, as gatekeeper does: what a patient shares with a clinic is shown and set by
the clinic endpoints, and every permission check (``accounts.deps.permissions_for``) honours both.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inlet.accounts import validate as v
from inlet.accounts.deps import CallerDep, permissions_for, require_account
from inlet.accounts.service import is_user_id
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import json_response, not_found, unauthenticated, unauthorized

router = APIRouter(tags=["access"])

GRANTABLE = ("custodian", "upload", "view", "follow", "note")
ROOT: dict[str, dict[str, Any]] = {"root": {}}

OptionalBody = Annotated[Any, Depends(v.optional_json)]
PERMISSIONS_SCHEMA = {
    "type": "object",
    "properties": {name: {"type": "object"} for name in (*GRANTABLE, "root")},
    "additionalProperties": False,
}


@router.get("/access/groups/{user_id}")
def groups_of_user(
    user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """``{groupId: permissions}``: every account ``user_id`` holds permissions on, its own included.
    For the user itself, its custodians and services."""
    user, _ = require_account(request, conn, caller, user_id, "custodian")
    granted = services.accounts.grants_from(conn, [user.id])
    return json_response({user.id: ROOT, **dict(sorted(granted.items()))})


@router.get("/access/{user_id}")
def members_of_group(
    user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """``{userId: permissions}``: everyone who holds permissions on ``user_id``, the owner included.
    For the user itself, its custodians and services."""
    user, _ = require_account(request, conn, caller, user_id, "custodian")
    granted = services.accounts.grants_to(conn, user.id)
    return json_response({user.id: ROOT, **dict(sorted(granted.items()))})


@router.get("/access/{group_id}/{user_id}")
def get_permissions(
    group_id: str, user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """What ``group_id`` grants ``user_id``; 404 when nothing. For that user, the group's owner and
    custodians, and services."""
    if caller.is_anonymous:
        raise unauthenticated()
    if caller.user_id != user_id and "custodian" not in permissions_for(request, conn, caller, group_id):
        raise unauthorized()
    if group_id == user_id and is_user_id(user_id) and services.accounts.get_user(conn, user_id):
        return json_response(ROOT)
    perms = (
        services.accounts.granted(conn, group_id, user_id)
        if is_user_id(group_id) and is_user_id(user_id)
        else {}
    )
    if not perms:
        raise not_found("permissions-not-found", "permissions", f"{group_id}/{user_id}")
    return json_response(perms)


@router.post(
    "/access/{group_id}/{user_id}",
    openapi_extra={
        "requestBody": {"required": False, "content": {"application/json": {"schema": PERMISSIONS_SCHEMA}}}
    },
)
def set_permissions(
    group_id: str,
    user_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Set what ``group_id`` grants ``user_id`` (``{"view": {}, "upload": {}}``); ``{}`` removes the
    grant. The group's owner and custodians and services may set; a user may remove its own access.
    ``root`` is ignored, as gatekeeper does. Answers the permissions now held (``{}`` after removal)."""
    if caller.is_anonymous:
        raise unauthenticated()
    have = permissions_for(request, conn, caller, group_id)
    perms = v.permissions(body, (*GRANTABLE, "root"))
    perms.pop("root", None)
    leaving = caller.user_id == user_id and not perms and not caller.is_service
    if "custodian" not in have and not leaving:
        raise unauthorized()
    accounts = services.accounts
    if not leaving and (not is_user_id(group_id) or accounts.get_user(conn, group_id) is None):
        raise not_found("user-not-found", "user", group_id)
    if group_id == user_id:
        return json_response(ROOT)  # an owner's root is not a grant; nothing to change
    if perms and (not is_user_id(user_id) or accounts.get_user(conn, user_id) is None):
        raise not_found("user-not-found", "user", user_id)
    if is_user_id(group_id) and is_user_id(user_id):
        accounts.set_permissions(conn, group_id, user_id, perms)
    return json_response(perms)

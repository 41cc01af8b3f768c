"""Shoreline-compatible authentication: signup, login (Basic), refresh, logout, the current user."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts import user_routes
from inlet.accounts.deps import SESSION_HEADER, AuthDep
from inlet.accounts.service import ROLES, Throttled, User, UsernameTaken
from inlet.accounts.validate import MAX_NAME, text, texts
from inlet.api.client import client_address
from inlet.api.deps import JsonBody, ServicesDep, WriteConn
from inlet.api.errors import PlatformError, json_response, unauthenticated

router = APIRouter(tags=["auth"])


def _with_token(body: dict[str, Any], token: str, status: int = 200) -> Response:
    return json_response(body, status, headers={SESSION_HEADER: token})


def _basic_credentials(request: Request) -> tuple[str, str]:
    """``(username, password)`` of an HTTP Basic header; 401 when there is none. A username no
    account can have (too long, holding NUL) is refused here, before any database work."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise unauthenticated()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise unauthenticated() from error
    username, sep, password = decoded.partition(":")
    if not sep or not username.strip() or len(username) > MAX_NAME or "\x00" in username:
        raise unauthenticated()
    return username, password


@router.post("/auth/login", responses={200: {"description": "the user; token in x-tidepool-session-token"}})
def login(request: Request, services: ServicesDep) -> Response:
    """Log in with HTTP Basic credentials; the session token comes back in the response header.

    No request transaction: the throttle commits the attempt before the password check, and argon2
    runs outside any transaction (:meth:`AccountService.log_in`)."""
    username, password = _basic_credentials(request)
    try:
        result = services.accounts.log_in(services.engine, username, password, client_address(request))
    except Throttled as throttled:
        raise PlatformError(
            429,
            "too-many-requests",
            "too many failed logins",
            f"too many failed logins; try again in {throttled.retry_after} seconds",
            headers={"Retry-After": str(throttled.retry_after)},
        ) from throttled
    if result is None:
        raise unauthenticated()
    user, token = result
    return _with_token(user.public(), token)


@router.get("/auth/login")
def refresh(caller: AuthDep, services: ServicesDep, conn: WriteConn) -> Response:
    """Refresh a session: a new token in the header; the old one stops working."""
    if caller.restricted or caller.session_token is None:
        raise unauthenticated()
    if caller.is_service:
        services.accounts.end_session(conn, caller.session_token)
        token = services.accounts.create_session(conn, "server", kind="server")
        return _with_token({"isserver": True}, token)
    assert caller.user_id is not None
    user = services.accounts.get_user(conn, caller.user_id)
    if user is None:
        raise unauthenticated()
    services.accounts.end_session(conn, caller.session_token)
    return _with_token(user.public(), services.accounts.create_session(conn, user.id))


@router.post("/auth/logout")
def logout(caller: AuthDep, services: ServicesDep, conn: WriteConn) -> Response:
    if caller.session_token:
        services.accounts.end_session(conn, caller.session_token)
    return json_response({})


SIGNUP_SCHEMA = {
    "type": "object",
    "properties": {
        "username": {"type": "string"},
        "password": {"type": "string", "minLength": 8},
        "emails": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "roles": {"type": "array", "items": {"type": "string", "enum": list(ROLES)}},
    },
    "required": ["username", "password"],
}


@router.post(
    "/auth/user",
    status_code=201,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": SIGNUP_SCHEMA}}}
    },
)
def signup(body: JsonBody, services: ServicesDep, conn: WriteConn) -> Response:
    """Create an account: ``{username, password, emails, roles}``; 201 with the user and a session."""
    if not isinstance(body, dict):
        raise PlatformError(
            400, "type-not-object", "type is not object", "body must be a JSON object", pointer=""
        )
    username, password = body.get("username"), body.get("password")
    _require_text(username, "username")
    _require_text(password, "password")
    assert isinstance(username, str)
    assert isinstance(password, str)
    text(username, "/username", max_length=MAX_NAME)
    if len(password) < 8:
        raise PlatformError(
            400,
            "length-out-of-range",
            "length is out of range",
            f"length {len(password)} is not greater than or equal to 8",
            pointer="/password",
        )
    emails = body.get("emails") or [username]
    roles = body.get("roles") or []
    if not isinstance(emails, list) or not all(isinstance(e, str) and e for e in emails):
        raise PlatformError(
            400, "value-not-valid", "value is not valid", "emails must be strings", pointer="/emails"
        )
    texts(emails, "/emails", max_items=10, max_length=MAX_NAME)
    if not isinstance(roles, list) or any(r not in ROLES for r in roles):
        raise PlatformError(
            400,
            "value-not-allowed",
            "value is not one of the allowed values",
            f"roles must be among {list(ROLES)}",
            pointer="/roles",
        )
    try:
        user = services.accounts.create_user(
            conn, username=username, password=password, emails=emails, roles=roles
        )
    except UsernameTaken as taken:
        raise PlatformError(
            409, "value-duplicate", "user already exists", "user already exists", pointer="/username"
        ) from taken
    return _with_token(user.public(), services.accounts.create_session(conn, user.id), 201)


@router.get("/auth/user")
def current_user(caller: AuthDep, services: ServicesDep, conn: WriteConn) -> Response:
    if caller.user_id is None:
        raise unauthenticated()
    user = services.accounts.get_user(conn, caller.user_id)
    if user is None:
        raise unauthenticated()
    return json_response(user.public())


def _require_text(value: Any, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise PlatformError(
            400, "value-not-exists", "value does not exist", "value does not exist", pointer=f"/{name}"
        )


# Users, custodial accounts, restricted tokens, the profile and signup confirmations.
router.include_router(user_routes.router)

__all__ = ["User", "router"]

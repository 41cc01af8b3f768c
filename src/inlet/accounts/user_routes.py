"""Accounts beyond login (shoreline, seagull and hydrophone compatible): reading and updating users,
custodial accounts, restricted tokens, the profile, and signup confirmations."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inlet.accounts import confirmations
from inlet.accounts import validate as v
from inlet.accounts.deps import Caller, CallerDep, require_account
from inlet.accounts.service import (
    API_TOKEN_METHODS,
    RESTRICTED_TOKEN_MAX_PATHS,
    RESTRICTED_TOKEN_MAX_SECONDS,
    ROLES,
    User,
    UsernameTaken,
    is_user_id,
    normalize_username,
)
from inlet.api.body import openapi_json_body
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import PlatformError, json_response, not_found, unauthenticated, unauthorized
from inlet.model.timeutil import format_utc, from_micros, to_micros

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from inlet.services import Services

router = APIRouter()

MIN_PASSWORD = 8
MAX_EMAILS = 10
# What a restricted token reaches when the request names no paths: its user's partner (OAuth)
# connection flow and data export (the platform client creates tokens with an empty body).
DEFAULT_RESTRICTED_PATHS = ["/v1/oauth", "/export"]
CUSTODIAN_PERMISSIONS: dict[str, dict[str, Any]] = {"custodian": {}, "view": {}, "upload": {}}

OptionalBody = Annotated[Any, Depends(v.optional_json)]


_EMAILS = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_EMAILS}
UPDATE_SCHEMA = {
    "type": "object",
    "properties": {
        "updates": {
            "type": "object",
            "properties": {
                "username": {"type": "string"},
                "password": {"type": "string", "minLength": MIN_PASSWORD},
                "emails": _EMAILS,
                "termsAccepted": {"type": "string", "format": "date-time"},
                "roles": {"type": "array", "items": {"type": "string", "enum": list(ROLES)}},
                "emailVerified": {"type": "boolean"},
            },
        }
    },
    "required": ["updates"],
}
CUSTODIAL_SCHEMA = {"type": "object", "properties": {"username": {"type": "string"}, "emails": _EMAILS}}
RESTRICTED_TOKEN_SCHEMA = {
    "type": "object",
    "properties": {
        "paths": {
            "type": "array",
            "items": {"type": "string", "pattern": "^/"},
            "minItems": 1,
            "maxItems": RESTRICTED_TOKEN_MAX_PATHS,
        },
        "expirationTime": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}
_DATE = {"type": "string", "format": "date"}
PROFILE_SCHEMA = {
    "type": "object",
    "properties": {
        "fullName": {"type": "string"},
        "patient": {"type": "object", "properties": {"birthday": _DATE, "diagnosisDate": _DATE}},
        "clinic": {"type": "object"},
    },
}


def _user_body(user: User, caller: Caller, status: int = 200) -> Response:
    return json_response(user.public(for_service=caller.is_service), status)


def _account_name(value: Any, pointer: str) -> str:
    return normalize_username(v.text(value, pointer, max_length=v.MAX_NAME))


def _emails(value: Any, pointer: str) -> list[str]:
    return [
        normalize_username(e)
        for e in v.texts(value, pointer, min_items=1, max_items=MAX_EMAILS, max_length=v.MAX_NAME)
    ]


# ---- users --------------------------------------------------------------------------------------


@router.get("/auth/user/{user_id}", tags=["auth"])
def get_user(
    user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """A user, by id or by email address: to the user itself, its custodians, and services."""
    if caller.is_anonymous:
        raise unauthenticated()
    if not is_user_id(user_id) and "@" in user_id and "\x00" not in user_id and len(user_id) <= v.MAX_NAME:
        found = services.accounts.find_user(conn, user_id)
        if found is not None:
            user_id = found.id
    user, _ = require_account(request, conn, caller, user_id, "custodian")
    return _user_body(user, caller)


@router.put("/auth/user", tags=["auth"], openapi_extra=openapi_json_body(UPDATE_SCHEMA))
def update_current_user(
    request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """Update the caller's own account: ``{updates: {username, password, emails, termsAccepted}}``."""
    if caller.user_id is None:
        raise unauthenticated()
    return _update_user(request, caller, services, conn, caller.user_id, body)


@router.put("/auth/user/{user_id}", tags=["auth"], openapi_extra=openapi_json_body(UPDATE_SCHEMA))
def update_user(
    user_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Update an account as itself, a custodian, or a service.

    As in shoreline: custodians may change username and emails; password and terms need the owner
    (or a service); roles and emailVerified only a service."""
    return _update_user(request, caller, services, conn, user_id, body)


def _update_user(
    request: Request, caller: Caller, services: Services, conn: Connection, user_id: str, body: Any
) -> Response:
    user, have = require_account(request, conn, caller, user_id, "custodian")
    updates = v.obj(v.obj(body).get("updates"), "/updates")
    values: dict[str, Any] = {}
    if updates.get("username") is not None:
        values["username"] = _account_name(updates["username"], "/updates/username")
    if updates.get("emails") is not None:
        values["emails"] = _emails(updates["emails"], "/updates/emails")
    owner_fields = ("password", "termsAccepted", "terms")
    if any(updates.get(name) is not None for name in owner_fields) and "root" not in have:
        raise unauthorized()
    if updates.get("password") is not None:
        values["password"] = v.text(updates["password"], "/updates/password", min_length=MIN_PASSWORD)
    # The platform client's acceptTerms sends ``terms``; shoreline's field is ``termsAccepted``.
    for name in ("termsAccepted", "terms"):
        if updates.get(name) is not None:
            v.timestamp(updates[name], f"/updates/{name}")
            values["terms_accepted"] = updates[name]
    service_fields = ("roles", "emailVerified")
    if any(updates.get(name) is not None for name in service_fields) and not caller.is_service:
        raise unauthorized()
    if updates.get("roles") is not None:
        roles = v.array(updates["roles"], "/updates/roles", max_items=len(ROLES))
        values["roles"] = list(
            dict.fromkeys(v.one_of(r, ROLES, f"/updates/roles/{i}") for i, r in enumerate(roles))
        )
    if updates.get("emailVerified") is not None:
        values["email_verified"] = v.boolean(updates["emailVerified"], "/updates/emailVerified")

    accounts = services.accounts
    for email in values.get("emails", []):
        other = accounts.find_user(conn, email)
        if other is not None and other.id != user.id:
            raise _user_exists("/updates/emails")
    try:
        updated = accounts.update_user(conn, user, **values) if values else user
    except UsernameTaken as taken:
        raise _user_exists("/updates/username") from taken
    return _user_body(updated, caller)


def _user_exists(pointer: str) -> PlatformError:
    return PlatformError(
        409, "value-duplicate", "user already exists", "user already exists", pointer=pointer
    )


@router.post(
    "/auth/user/{user_id}/user",
    status_code=201,
    tags=["auth"],
    openapi_extra=openapi_json_body(CUSTODIAL_SCHEMA),
)
def create_custodial_account(
    user_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """Create an account ``user_id`` takes care of (a child's, say): ``{emails, username}``, both
    optional, no password. The creator becomes its custodian (custodian, view and upload)."""
    if caller.is_anonymous:
        raise unauthenticated()
    if not caller.is_service and (caller.user_id != user_id or caller.restricted):
        raise unauthorized()
    custodian = services.accounts.get_user(conn, user_id) if is_user_id(user_id) else None
    if custodian is None:
        raise not_found("user-not-found", "user", user_id)
    details = v.obj(body)
    username = details.get("username")
    name = _account_name(username, "/username") if username is not None else None
    emails = _emails(details["emails"], "/emails") if details.get("emails") is not None else []
    for email in emails:
        if services.accounts.find_user(conn, email) is not None:
            raise _user_exists("/emails")
    try:
        user = services.accounts.create_user(
            conn, username=name, password=None, emails=emails, custodial=True
        )
    except UsernameTaken as taken:
        raise _user_exists("/username") from taken
    services.accounts.set_permissions(conn, user.id, custodian.id, dict(CUSTODIAN_PERMISSIONS))
    return _user_body(user, caller, 201)


# ---- restricted tokens ----------------------------------------------------------------------------


@router.post(
    "/v1/users/{user_id}/restricted_tokens",
    status_code=201,
    tags=["auth"],
    openapi_extra=openapi_json_body(RESTRICTED_TOKEN_SCHEMA, required=False),
)
def create_restricted_token(
    user_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """A token for ``?restricted_token=``: valid only under ``paths`` (at most 10; default the user's
    OAuth and export paths) until ``expirationTime`` (default 1 h, at most 90 days). Only the user
    itself, with a full session, or a service may create one."""
    if caller.is_anonymous:
        raise unauthenticated()
    if not caller.is_service and (caller.user_id != user_id or caller.restricted):
        raise unauthorized()
    if not is_user_id(user_id) or services.accounts.get_user(conn, user_id) is None:
        raise not_found("user-not-found", "user", user_id)
    request_body = v.obj(body)
    for key in request_body:
        if key not in ("paths", "expirationTime"):
            raise v.invalid("not-parsed", "not parsed", "not parsed", v.pointer_join("", key))
    paths = list(DEFAULT_RESTRICTED_PATHS)
    if request_body.get("paths") is not None:
        paths = v.texts(request_body["paths"], "/paths", min_items=1, max_items=RESTRICTED_TOKEN_MAX_PATHS)
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                raise v.invalid(
                    "value-not-valid",
                    "value is not valid",
                    f"path {path[:64]!r} does not start with /",
                    f"/paths/{i}",
                )
    expires: int | None = None
    if request_body.get("expirationTime") is not None:
        when = v.timestamp(request_body["expirationTime"], "/expirationTime")
        now = services.accounts.clock()
        latest = now + timedelta(seconds=RESTRICTED_TOKEN_MAX_SECONDS)
        if when <= now:
            raise v.invalid(
                "value-not-after",
                "value is not after the specified value",
                f"value {format_utc(when)} is not after {format_utc(now)}",
                "/expirationTime",
            )
        if when > latest:
            raise v.invalid(
                "value-not-before",
                "value is not before the specified value",
                f"value {format_utc(when)} is not before {format_utc(latest)}",
                "/expirationTime",
            )
        expires = to_micros(when)
    token, grant = services.accounts.create_restricted_token(
        conn, user_id, paths, expires, methods=API_TOKEN_METHODS
    )
    return json_response(
        {
            "id": token,
            "userId": grant.user_id,
            "paths": grant.paths,
            "expirationTime": format_utc(from_micros(grant.expires_time)),
            "createdTime": format_utc(from_micros(grant.created_time)),
        },
        201,
    )


# ---- profile metadata (seagull) ----------------------------------------------------------------


@router.get("/metadata/{user_id}/profile", tags=["metadata"])
def get_profile(user_id: str, request: Request, caller: CallerDep, conn: ReadConn) -> Response:
    """The profile ``{fullName, patient: {birthday, diagnosisDate}, ...}``: to anyone who may view the
    account's data; 404 when the account has none."""
    user, _ = require_account(request, conn, caller, user_id, "view")
    if user.profile is None:
        raise not_found("profile-not-found", "profile", user_id)
    return json_response(user.profile)


@router.put("/metadata/{user_id}/profile", tags=["metadata"], openapi_extra=openapi_json_body(PROFILE_SCHEMA))
def put_profile(
    user_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Replace the profile (owner, custodians, services); answers the stored profile."""
    user, _ = require_account(request, conn, caller, user_id, "custodian")
    profile = v.free_json(v.obj(body))
    if profile.get("fullName") is not None:
        v.text(profile["fullName"], "/fullName", min_length=0)
    for section in ("patient", "clinic"):
        if profile.get(section) is not None:
            v.obj(profile[section], f"/{section}")
    patient = profile.get("patient") or {}
    for name in ("birthday", "diagnosisDate"):
        if patient.get(name) not in (None, ""):
            v.calendar_date(patient[name], f"/patient/{name}")
    services.accounts.set_profile(conn, user.id, profile)
    return json_response(profile)


# ---- signup confirmation (hydrophone) -------------------------------------------------------------


@router.post(
    "/confirm/send/signup/{user_id}",
    tags=["confirm"],
    openapi_extra=openapi_json_body({"type": "object"}, False),
)
def send_signup_confirmation(
    user_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Ask for the account's email address to be confirmed (the platform client's
    createCustodialAccount calls this after creating an account with an email address).

    Records a pending signup confirmation and answers it; ``emailSent`` says whether the email has
    gone out (the notification component delivers it; see ``inlet.accounts.confirmations``). An
    account without an email address has nothing to confirm: ``{}``."""
    user, _ = require_account(request, conn, caller, user_id, "custodian")
    v.obj(body)
    creator = caller.user_id if caller.user_id and caller.user_id != user.id else None
    confirmation = confirmations.request_signup(conn, services.accounts.now(), user, creator_id=creator)
    return json_response(confirmation.public() if confirmation else {})

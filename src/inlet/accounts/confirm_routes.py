"""Hydrophone-compatible routes: care-team invitations and password resets.

Every route answers at ``/confirm/...`` and, as hydrophone does behind Tidepool's gateway, without
the prefix (those copies are left out of the OpenAPI document). Errors are hydrophone's
``{code, reason}``. Emails go through the notifier, in the request's transaction; their links carry
no invitation key (an invitee accepts from their own session) and a reset link carries the one
reset key, which is stored only as a digest (``inlet.accounts.invitations``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inlet.accounts import invitations as inv
from inlet.accounts import validate as v
from inlet.accounts.deps import Caller, CallerDep, permissions_for
from inlet.accounts.service import User, is_user_id, normalize_username
from inlet.accounts.validate import MAX_NAME
from inlet.api.body import openapi_json_body
from inlet.api.client import client_address
from inlet.api.deps import ServicesDep, WriteConn
from inlet.api.errors import PlatformError, json_response

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from inlet.services import Services

router = APIRouter(tags=["confirm"])
OptionalBody = Annotated[Any, Depends(v.optional_json)]

MIN_PASSWORD = 8
MAX_PASSWORD = 1000


class ConfirmError(Exception):
    """An error answered in hydrophone's ``{code, reason}`` form."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


def hydrophone_errors(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Answer ``ConfirmError`` and the shared permission errors in hydrophone's form."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        try:
            return handler(*args, **kwargs)
        except ConfirmError as error:
            return json_response({"code": error.status, "reason": error.reason}, error.status, error.headers)
        except PlatformError as error:
            reason = str(error.errors[0].get("detail", "error"))
            return json_response({"code": error.status, "reason": reason}, error.status, error.headers)

    return wrapped


def both(
    method: str, path: str, **options: Any
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register ``handler`` at ``/confirm{path}`` and at ``{path}`` (the latter not documented)."""

    def register(handler: Callable[..., Response]) -> Callable[..., Response]:
        wrapped = hydrophone_errors(handler)
        router.add_api_route("/confirm" + path, wrapped, methods=[method], **options)
        router.add_api_route(path, wrapped, methods=[method], include_in_schema=False, **options)
        return wrapped

    return register


def key_secrets(services: Services) -> list[bytes]:
    return services.partners.vault.derive(inv.KEY_LABEL)


def _link(services: Services, path: str, **query: str) -> str:
    base = services.settings.public_base + path
    return f"{base}?{urlencode(query)}" if query else base


def _caller_user(caller: Caller) -> str:
    if caller.is_anonymous or (caller.user_id is None and not caller.is_service):
        raise ConfirmError(401, "authentication token is invalid")
    return caller.user_id or ""


def _owner(request: Request, conn: Connection, caller: Caller, user_id: str) -> None:
    """The caller may manage ``user_id``'s sharing: the account, its custodian, or a service."""
    if caller.is_anonymous:
        raise ConfirmError(401, "authentication token is invalid")
    if "custodian" not in permissions_for(request, conn, caller, user_id):
        raise ConfirmError(403, "not authorized for this account")


def _self(caller: Caller, user_id: str) -> None:
    """Only the account itself (or a service) reads or answers invitations made to it."""
    if caller.is_anonymous:
        raise ConfirmError(401, "authentication token is invalid")
    if not caller.is_service and caller.user_id != user_id:
        raise ConfirmError(403, "not authorized for this account")


def _email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfirmError(400, "email is required")
    address = value.strip()
    if len(address) > MAX_NAME or "@" not in address or any(c in address for c in " \r\n\x00"):
        raise ConfirmError(400, "email is not a valid address")
    return normalize_username(address)


def _name(user: User | None) -> str:
    if user is None:
        return "Someone"
    profile = user.profile or {}
    name = profile.get("fullName")
    return name if isinstance(name, str) and name.strip() else (user.username or "Someone")


# ---- password reset ---------------------------------------------------------------------------------


@both(
    "POST",
    "/send/forgot/{email}",
    responses={200: {"description": "always, whether or not an account exists"}},
)
def send_forgot(email: str, request: Request, services: ServicesDep, conn: WriteConn) -> Response:
    """Ask for a password reset. Always 200 for a well-formed address: an account gets a link with a
    single-use key (7 days), an unknown address gets an email pointing at sign-up, so the answer says
    nothing about which addresses have accounts. Too many requests from one client: 429."""
    address = _email(email)
    try:
        asked = inv.request_password_reset(conn, services.accounts, address, client_address(request))
    except inv.ResetThrottled as throttled:
        raise ConfirmError(
            429, "too many password reset requests", {"Retry-After": str(throttled.retry_after)}
        ) from throttled
    if asked.key is not None:
        send_reset_email(conn, services, address, asked.key if asked.user else None)
    return json_response({})


def send_reset_email(conn: Connection, services: Services, address: str, key: str | None) -> None:
    """The reset email: a link to choose a new password, or (no account) a link to sign up."""
    if key is not None:
        link = _link(services, "/confirm-password-reset", resetKey=key)
        body = (
            "Someone (hopefully you) asked to reset the password of your Inlet account.\n\n"
            "Choose a new password here within 7 days. The link works once. If you did not ask, "
            "ignore this email: your password stays as it is.\n"
        )
        services.notifier.record(conn, address, "Reset your Inlet password", body, link)
        return
    link = _link(services, "/signup", email=address)
    body = (
        "Someone (hopefully you) asked to reset the password of an Inlet account for this address, "
        "but there is no account for it. You can create one here. If you did not ask, ignore this email.\n"
    )
    services.notifier.record(conn, address, "Reset your Inlet password", body, link)


RESET_SCHEMA = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "email": {"type": "string"}, "password": {"type": "string"}},
    "required": ["key", "email", "password"],
}


@both("PUT", "/accept/forgot", openapi_extra=openapi_json_body(RESET_SCHEMA))
def accept_forgot(services: ServicesDep, conn: WriteConn, body: OptionalBody) -> Response:
    """Set a new password with a reset key: 200 ``{code: 200, reason}``; every session of the account
    ends. An unknown, used, expired or mismatched key: 404, and nothing changes."""
    if not isinstance(body, dict):
        raise ConfirmError(400, "a JSON object with key, email and password is required")
    key, email, password = body.get("key"), body.get("email"), body.get("password")
    if not (isinstance(key, str) and isinstance(email, str) and isinstance(password, str)):
        raise ConfirmError(400, "key, email and password are required")
    if not (key and email):
        raise ConfirmError(400, "key, email and password are required")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD or "\x00" in password:
        raise ConfirmError(400, f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if len(email) > MAX_NAME:
        raise ConfirmError(404, "no matching password reset")
    if inv.accept_password_reset(conn, services.accounts, key, email, password) is None:
        raise ConfirmError(404, "no matching password reset")
    return json_response({"code": 200, "reason": "Password has been reset."})


# ---- care-team invitations --------------------------------------------------------------------------

INVITE_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "permissions": {
            "type": "object",
            "properties": {name: {"type": "object"} for name in inv.INVITE_PERMISSIONS},
            "additionalProperties": False,
        },
        "nickname": {"type": "string"},
    },
    "required": ["email", "permissions"],
}


@both("POST", "/send/invite/{user_id}", openapi_extra=openapi_json_body(INVITE_SCHEMA))
def send_invite(
    user_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Invite someone by email to follow ``user_id``'s data: 200 with the invitation; 400 without
    email or permissions; 409 when a pending invitation to that address exists or the address's
    account already shares. Emails the invitee (to sign up with the address filled in, or to log in
    and accept)."""
    invitation, key, owner = send_invitation(conn, request, caller, services, user_id, body)
    return json_response(invitation.public(key, owner))


def _permissions(value: Any) -> dict[str, dict[str, Any]]:
    try:
        perms = v.permissions(value, inv.INVITE_PERMISSIONS, "/permissions")
    except PlatformError as error:
        raise ConfirmError(400, "permissions must be an object of view, note and upload") from error
    if not perms:
        raise ConfirmError(400, "permissions are required")
    perms.setdefault("view", {})
    return perms


def send_invitation(
    conn: Connection, request: Request, caller: Caller, services: Services, user_id: str, body: Any
) -> tuple[inv.ConfirmRequest, str, User]:
    """Check and store an invitation from ``user_id`` and email the invitee (the API's and the Share
    page's); raises :class:`ConfirmError` with words for people."""
    _owner(request, conn, caller, user_id)
    owner = services.accounts.get_user(conn, user_id) if is_user_id(user_id) else None
    if owner is None:
        raise ConfirmError(404, "user not found")
    if not isinstance(body, dict):
        raise ConfirmError(400, "a JSON object with email and permissions is required")
    address = _email(body.get("email"))
    if body.get("permissions") is None:
        raise ConfirmError(400, "permissions are required")
    perms = _permissions(body.get("permissions"))
    nickname = body.get("nickname")
    if nickname is not None and (not isinstance(nickname, str) or len(nickname) > MAX_NAME):
        raise ConfirmError(400, "nickname must be text")
    now = services.accounts.now()
    if address in {normalize_username(e) for e in owner.emails}:
        raise ConfirmError(409, "an account cannot invite itself")
    if inv.pending_invite(conn, now, owner.id, address) is not None:
        raise ConfirmError(409, "there is already a pending invitation to this address")
    invitee = inv.user_by_email(conn, services.accounts, address)
    if invitee is not None and services.accounts.granted(conn, owner.id, invitee.id):
        raise ConfirmError(409, "this person already shares in this account's data")
    request_, key = inv.create_invite(
        conn,
        now,
        key_secrets(services)[0],
        creator_id=owner.id,
        email=address,
        context=inv.invite_context(perms, nickname if isinstance(nickname, str) else None),
    )
    invite_email(conn, services, owner, address, invitee is not None)
    return request_, key, owner


def invite_email(conn: Connection, services: Services, owner: User, address: str, has_account: bool) -> None:
    """Tell the invitee; the link has no key: accepting needs their own session anyway."""
    name = _name(owner)
    if has_account:
        link = _link(services, "/share")
        action = "Log in to Inlet and accept the invitation on your Share page."
    else:
        link = _link(services, "/signup", email=address)
        action = "Create your Inlet account with this address; the invitation will be waiting for you."
    body = f"{name} invited you to follow their diabetes data on Inlet.\n\n{action}\n"
    services.notifier.record(conn, address, f"{name} invited you to follow their data on Inlet", body, link)


def _with_keys(conn: Connection, services: Services, found: list[inv.ConfirmRequest]) -> list[dict[str, Any]]:
    secrets_ = key_secrets(services)
    creators: dict[str, User | None] = {}
    out = []
    for request in found:
        key = inv.key_of(request, secrets_)
        if key is None:
            continue  # made under a key no longer configured: it cannot be answered any more
        creator_id = request.creator_id or ""
        if creator_id not in creators:
            creators[creator_id] = services.accounts.get_user(conn, creator_id) if creator_id else None
        out.append(request.public(key, creators[creator_id]))
    return out


@both("GET", "/invite/{user_id}")
def invites_sent(
    user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Invitations ``user_id`` sent: pending and declined, with the creator's profile; 404 when none."""
    _owner(request, conn, caller, user_id)
    found = _with_keys(conn, services, inv.invites_sent(conn, user_id) if is_user_id(user_id) else [])
    if not found:
        raise ConfirmError(404, "no invitations sent")
    return json_response(found)


@both("GET", "/invitations/{user_id}")
def invites_received(
    user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Pending invitations to ``user_id``'s addresses (also those made before the account existed);
    404 when none."""
    _self(caller, user_id)
    user = services.accounts.get_user(conn, user_id) if is_user_id(user_id) else None
    if user is None:
        raise ConfirmError(404, "user not found")
    emails = [*user.emails, *([user.username] if user.username else [])]
    found = _with_keys(conn, services, inv.invites_received(conn, services.accounts.now(), emails))
    if not found:
        raise ConfirmError(404, "no invitations received")
    return json_response(found)


KEY_SCHEMA = {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}


def _answerable(
    conn: Connection, services: Services, caller: Caller, user_id: str, invited_by: str, body: Any
) -> tuple[inv.ConfirmRequest, User]:
    """The pending invitation from ``invited_by`` to ``user_id`` that ``body.key`` names: 404 when no
    live invitation has that key, 403 when it was made by someone else or to another address."""
    _self(caller, user_id)
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        raise ConfirmError(400, "key is required")
    invitee = services.accounts.get_user(conn, user_id) if is_user_id(user_id) else None
    found = inv.find_by_key(conn, key, inv.CARETEAM)
    if found is None or invitee is None or not found.live(services.accounts.now()):
        raise ConfirmError(404, "no matching invitation")
    if found.creator_id != invited_by or not inv.addressed_to(found, invitee):
        raise ConfirmError(403, "this invitation is not for this account")
    return found, invitee


@both("PUT", "/accept/invite/{user_id}/{invited_by}", openapi_extra=openapi_json_body(KEY_SCHEMA))
def accept_invite(
    user_id: str,
    invited_by: str,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """The invitee accepts: the invitation's permissions are granted (as ``/access`` does); 200."""
    found, invitee = _answerable(conn, services, caller, user_id, invited_by, body)
    inv.accept_invite(conn, services.accounts, found, invitee)
    return json_response("OK")


@both("PUT", "/dismiss/invite/{user_id}/{invited_by}", openapi_extra=openapi_json_body(KEY_SCHEMA))
def dismiss_invite(
    user_id: str,
    invited_by: str,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """The invitee declines: the inviter sees "Invite declined"; nothing is granted."""
    found, invitee = _answerable(conn, services, caller, user_id, invited_by, body)
    inv.set_status(conn, found, services.accounts.now(), inv.DECLINED, invitee_id=invitee.id)
    return json_response("OK")


@both("PUT", "/{user_id}/invited/{email}")
def cancel_invite(
    user_id: str, email: str, request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """The inviter withdraws the newest pending (or declined) invitation to ``email``; 404 if none."""
    _owner(request, conn, caller, user_id)
    address = _email(email)
    for found in inv.invites_sent(conn, user_id) if is_user_id(user_id) else []:
        if found.email == address:
            inv.set_status(conn, found, services.accounts.now(), inv.CANCELED)
            return json_response("OK")
    raise ConfirmError(404, "no invitation to this address")


@both("PATCH", "/resend/invite/{key}")
def resend_invite(
    key: str, request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """The inviter sends the invitation again: 7 more days, a new email; 200 with the invitation."""
    _caller_user(caller)
    found = inv.find_by_key(conn, key, inv.CARETEAM)
    if found is None or found.creator_id is None:
        raise ConfirmError(404, "no matching invitation")
    _owner(request, conn, caller, found.creator_id)
    if found.status not in (inv.PENDING, inv.DECLINED):
        raise ConfirmError(404, "no matching invitation")
    now = services.accounts.now()
    inv.set_status(conn, found, now, inv.PENDING, expires_time=now + inv.INVITE_TTL)
    found.expires_time = now + inv.INVITE_TTL
    owner = services.accounts.get_user(conn, found.creator_id)
    if owner is None:
        raise ConfirmError(404, "no matching invitation")
    invitee = inv.user_by_email(conn, services.accounts, found.email)
    invite_email(conn, services, owner, found.email, invitee is not None)
    return json_response(found.public(key, owner))


__all__ = ["ConfirmError", "router"]

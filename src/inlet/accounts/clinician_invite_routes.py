"""Clinician invitations (the clinic service's): a clinic's admins invite someone by email to join the
clinic's team with roles; the invitee, once they have an account with that address, accepts (and
becomes a clinician of the clinic) or dismisses.

The invitation is a ``clinician_invitation`` in ``confirm_requests`` (``inlet.accounts.invitations``):
its id on the wire (``inviteId``) is its key, derived from the token keys, stored only as a digest.
Errors use the platform envelope, as every ``/v1`` route does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inlet.accounts import clinics as c
from inlet.accounts import invitations as inv
from inlet.accounts import validate as v
from inlet.accounts.clinic_routes import _roles
from inlet.accounts.confirm_routes import key_secrets
from inlet.accounts.deps import Caller, CallerDep, clinic_access
from inlet.accounts.service import User, is_user_id, normalize_username, timestamp
from inlet.api.body import openapi_json_body
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import PlatformError, json_response, not_found, unauthenticated, unauthorized

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from inlet.services import Services

router = APIRouter(tags=["clinics"])
OptionalBody = Annotated[Any, Depends(v.optional_json)]

INVITE_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "roles": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(c.CLINICIAN_ROLES)},
        },
    },
    "required": ["email", "roles"],
}


def _roles_of(found: inv.ConfirmRequest) -> list[str]:
    roles = (found.context or {}).get("roles")
    return [str(r) for r in roles] if isinstance(roles, list) else [c.CLINIC_MEMBER]


def clinic_view(found: inv.ConfirmRequest, key: str) -> dict[str, Any]:
    """The clinic's view of an invitation: the clinic service's clinician with ``inviteId``."""
    body: dict[str, Any] = {
        "inviteId": key,
        "email": found.email,
        "roles": _roles_of(found),
        "status": found.status,
        "createdTime": timestamp(found.created_time),
        "updatedTime": timestamp(found.modified_time or found.created_time),
        "expiresAt": timestamp(found.expires_time),
    }
    return body


def invitee_view(
    found: inv.ConfirmRequest, key: str, clinic: c.Clinic | None, creator: User | None
) -> dict[str, Any]:
    """The invitee's view: hydrophone's confirmation, with the clinic named."""
    body = found.public(key, creator)
    if clinic is not None:
        body["creator"] = {**body.get("creator", {}), "clinicId": clinic.id, "clinicName": clinic.name}
        body["clinic"] = {"id": clinic.id, "name": clinic.name}
    return body


def _invite_of_clinic(
    conn: Connection, services: Services, clinic: c.Clinic, invite_id: str
) -> tuple[inv.ConfirmRequest, str]:
    found = inv.find_by_key(conn, invite_id, inv.CLINICIAN)
    if found is None or found.clinic_id != clinic.id or found.status not in (inv.PENDING, inv.DECLINED):
        raise not_found("invite-not-found", "invite", invite_id)
    key = inv.key_of(found, key_secrets(services))
    if key is None:
        raise not_found("invite-not-found", "invite", invite_id)
    return found, key


def clinician_invite_email(conn: Connection, services: Services, clinic: c.Clinic, address: str) -> None:
    has_account = inv.user_by_email(conn, services.accounts, address) is not None
    base = services.settings.public_base
    if has_account:
        link = f"{base}/clinic/team"
        action = "Log in to Inlet and accept the invitation on your clinic team page."
    else:
        link = f"{base}/signup?{urlencode({'email': address})}"
        action = "Create your Inlet account with this address; the invitation will be waiting for you."
    body = f"{clinic.name} invited you to join its team on Inlet.\n\n{action}\n"
    services.notifier.record(
        conn, address, f"{clinic.name} invited you to join its team on Inlet", body, link
    )


def invite_clinician(
    conn: Connection, services: Services, caller: Caller, clinic: c.Clinic, body: Any
) -> tuple[inv.ConfirmRequest, str]:
    """Store and email a clinician invitation (the API's and the team page's)."""
    details = v.obj(body)
    email = v.text(details.get("email"), "/email", max_length=v.MAX_NAME)
    if "@" not in email or any(ch in email for ch in " \r\n\x00"):
        raise v.invalid("value-not-valid", "value is not valid", "email is not an address", "/email")
    roles = _roles(details.get("roles"), "/roles")
    address = normalize_username(email)
    now = services.accounts.now()
    existing = inv.user_by_email(conn, services.accounts, address)
    if existing is not None and c.get_clinician(conn, clinic.id, existing.id) is not None:
        raise PlatformError(409, "value-duplicate", "clinician already exists", "clinician already exists")
    for found in inv.invites_of_clinic(conn, clinic.id):
        if found.email == address and found.live(now):
            raise PlatformError(409, "value-duplicate", "invite already exists", "invite already exists")
    creator = caller.user_id or ""
    made, key = inv.create_invite(
        conn,
        now,
        key_secrets(services)[0],
        creator_id=creator,
        email=address,
        context={"roles": roles},
        type_=inv.CLINICIAN,
        clinic_id=clinic.id,
    )
    clinician_invite_email(conn, services, clinic, address)
    return made, key


@router.post("/v1/clinics/{clinic_id}/invites/clinicians", openapi_extra=openapi_json_body(INVITE_SCHEMA))
def send_clinician_invite(
    clinic_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """Invite someone by email to the clinic's team with ``roles`` (admins, services): 200 with the
    invitation; 409 when they are a clinician already or a live invitation exists."""
    clinic = clinic_access(conn, caller, clinic_id, admin=True)
    made, key = invite_clinician(conn, services, caller, clinic, body)
    return json_response(clinic_view(made, key))


@router.get("/v1/clinics/{clinic_id}/invites/clinicians/{invite_id}")
def get_clinician_invite(
    clinic_id: str, invite_id: str, caller: CallerDep, services: ServicesDep, conn: ReadConn
) -> Response:
    clinic = clinic_access(conn, caller, clinic_id)
    found, key = _invite_of_clinic(conn, services, clinic, invite_id)
    return json_response(clinic_view(found, key))


@router.patch("/v1/clinics/{clinic_id}/invites/clinicians/{invite_id}")
def resend_clinician_invite(
    clinic_id: str, invite_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Send the invitation again: pending for 7 more days, a new email."""
    clinic = clinic_access(conn, caller, clinic_id, admin=True)
    found, key = _invite_of_clinic(conn, services, clinic, invite_id)
    now = services.accounts.now()
    inv.set_status(conn, found, now, inv.PENDING, expires_time=now + inv.INVITE_TTL)
    found.expires_time = now + inv.INVITE_TTL
    clinician_invite_email(conn, services, clinic, found.email)
    return json_response(clinic_view(found, key))


@router.delete("/v1/clinics/{clinic_id}/invites/clinicians/{invite_id}")
def delete_clinician_invite(
    clinic_id: str, invite_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Withdraw the invitation (admins, services)."""
    clinic = clinic_access(conn, caller, clinic_id, admin=True)
    found, _ = _invite_of_clinic(conn, services, clinic, invite_id)
    inv.set_status(conn, found, services.accounts.now(), inv.CANCELED)
    return json_response({})


def _invitee(request: Request, conn: Connection, caller: Caller, services: Services, user_id: str) -> User:
    if caller.is_anonymous:
        raise unauthenticated()
    if not caller.is_service and caller.user_id != user_id:
        raise unauthorized()
    user = services.accounts.get_user(conn, user_id) if is_user_id(user_id) else None
    if user is None:
        raise not_found("user-not-found", "user", user_id)
    return user


def received_invites(conn: Connection, services: Services, user: User) -> list[dict[str, Any]]:
    """Live clinician invitations to ``user``'s addresses, each with its clinic."""
    emails = [*user.emails, *([user.username] if user.username else [])]
    found = inv.invites_received(conn, services.accounts.now(), emails, inv.CLINICIAN)
    out = []
    for invite in found:
        key = inv.key_of(invite, key_secrets(services))
        clinic = c.get_clinic(conn, invite.clinic_id) if invite.clinic_id else None
        if key is None or clinic is None:
            continue
        creator = services.accounts.get_user(conn, invite.creator_id) if invite.creator_id else None
        out.append(invitee_view(invite, key, clinic, creator))
    return out


@router.get("/v1/clinicians/{user_id}/invites")
def list_received(
    user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """The clinician invitations waiting for ``user_id`` (the user itself, services); ``[]`` when none."""
    user = _invitee(request, conn, caller, services, user_id)
    return json_response(received_invites(conn, services, user))


def _received(conn: Connection, services: Services, user: User, invite_id: str) -> inv.ConfirmRequest:
    found = inv.find_by_key(conn, invite_id, inv.CLINICIAN)
    if found is None or not found.live(services.accounts.now()) or not inv.addressed_to(found, user):
        raise not_found("invite-not-found", "invite", invite_id)
    return found


def accept_clinician_invite(
    conn: Connection, services: Services, user: User, found: inv.ConfirmRequest
) -> c.Clinician:
    """Make ``user`` a clinician of the invitation's clinic with its roles (kept as is when already
    one), and complete the invitation."""
    assert found.clinic_id is not None
    now = services.accounts.now()
    member = c.get_clinician(conn, found.clinic_id, user.id)
    if member is None:
        profile = user.profile or {}
        name = profile.get("fullName") if isinstance(profile.get("fullName"), str) else None
        member = c.add_clinician(
            conn, now, found.clinic_id, user.id, email=found.email, name=name, roles=_roles_of(found)
        )
    if "clinician" not in user.roles:
        services.accounts.update_user(conn, user, roles=[*user.roles, "clinician"])
    inv.set_status(conn, found, now, inv.COMPLETED, invitee_id=user.id)
    return member


@router.put("/v1/clinicians/{user_id}/invites/{invite_id}")
def accept(
    user_id: str, invite_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Accept: the user joins the clinic's team with the invitation's roles; 200 with the clinician."""
    user = _invitee(request, conn, caller, services, user_id)
    found = _received(conn, services, user, invite_id)
    return json_response(accept_clinician_invite(conn, services, user, found).public())


@router.delete("/v1/clinicians/{user_id}/invites/{invite_id}")
def dismiss(
    user_id: str, invite_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Dismiss: the invitation is declined; the clinic sees it declined."""
    user = _invitee(request, conn, caller, services, user_id)
    found = _received(conn, services, user, invite_id)
    inv.set_status(conn, found, services.accounts.now(), inv.DECLINED, invitee_id=user.id)
    return json_response({})

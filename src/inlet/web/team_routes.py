"""The clinic team page (``/clinic/team``): invitations to join a clinic's team that wait for you
(Accept / Decline), and, for each clinic you administer, a form to invite a clinician by email and
its pending or declined invitations (Resend / Revoke).

The actions are the clinic API's own functions (``inlet.accounts.clinician_invite_routes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts import clinics as c
from inlet.accounts import invitations as inv
from inlet.accounts.clinician_invite_routes import (
    accept_clinician_invite,
    clinician_invite_email,
    invite_clinician,
    received_invites,
)
from inlet.accounts.deps import Caller
from inlet.api.errors import PlatformError
from inlet.db.engine import read_only
from inlet.web.auth_routes import FormDep
from inlet.web.pages import form_session, message, render, see_other, to_login
from inlet.web.session import WebSession, current_session, services_of

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from inlet.services import Services

router = APIRouter()
MAX_CLINICS = 50
ROLE_CHOICES = {"member": [c.CLINIC_MEMBER], "admin": [c.CLINIC_ADMIN]}


def team_context(services: Services, conn: Connection, session: WebSession) -> dict[str, Any]:
    admin_of = [
        {"clinic": clinic, "invites": inv.invites_of_clinic(conn, clinic.id)}
        for member, clinic in c.clinics_for_clinician(conn, session.user_id, offset=0, limit=MAX_CLINICS)
        if member.is_admin
    ]
    return {"received": received_invites(conn, services, session.user), "admin_of": admin_of}


def _page(request: Request, session: WebSession, status: int = 200, **extra: Any) -> Response:
    services = services_of(request)
    with read_only(services.engine) as conn:
        context = team_context(services, conn, session)
    context.setdefault("error", None)
    context.setdefault("error_clinic", None)
    context.update(extra)
    return render(request, "team.html", session, context, status)


@router.get("/clinic/team")
def team(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    return _page(request, session)


def _admin_clinic(conn: Connection, session: WebSession, clinic_id: str) -> c.Clinic | None:
    member = c.get_clinician(conn, clinic_id, session.user_id) if c.is_clinic_id(clinic_id) else None
    return c.get_clinic(conn, clinic_id) if member is not None and member.is_admin else None


def _not_allowed(request: Request, session: WebSession) -> Response:
    return message(
        request,
        session,
        404,
        "Nothing to do here",
        "This clinic or invitation does not exist, or you are not one of the clinic's administrators.",
        back=("/clinic/team", "Back to the clinic team"),
    )


@router.post("/clinic/team/{clinic_id}/invite")
def invite(request: Request, clinic_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic/team")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    roles = ROLE_CHOICES.get(fields.get("role", "member"), [c.CLINIC_MEMBER])
    try:
        with services.notifier.transaction(services.engine) as conn:
            clinic = _admin_clinic(conn, session, clinic_id)
            if clinic is None:
                return _not_allowed(request, session)
            body = {"email": fields.get("email", "").strip(), "roles": roles}
            invite_clinician(conn, services, Caller("user", user_id=session.user_id), clinic, body)
    except PlatformError as refused:
        detail = str(refused.errors[0].get("detail", "the invitation was not sent"))
        reason = {
            "invite already exists": "There is already a pending invitation to this address.",
            "clinician already exists": "This person is on the clinic's team already.",
        }.get(detail, "Enter a valid email address, such as name@example.org.")
        return _page(request, session, 400, error=reason, error_clinic=clinic_id)
    return see_other("/clinic/team")


def _clinic_invite(
    conn: Connection, session: WebSession, invite_id: str
) -> tuple[inv.ConfirmRequest, c.Clinic] | None:
    found = inv.get_request(conn, invite_id)
    if found is None or found.type != inv.CLINICIAN or found.clinic_id is None:
        return None
    clinic = _admin_clinic(conn, session, found.clinic_id)
    if clinic is None or found.status not in (inv.PENDING, inv.DECLINED):
        return None
    return found, clinic


@router.post("/clinic/team/invites/{invite_id}/resend")
def resend(request: Request, invite_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic/team")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.notifier.transaction(services.engine) as conn:
        found = _clinic_invite(conn, session, invite_id)
        if found is None:
            return _not_allowed(request, session)
        invite, clinic = found
        now = services.accounts.now()
        inv.set_status(conn, invite, now, inv.PENDING, expires_time=now + inv.INVITE_TTL)
        clinician_invite_email(conn, services, clinic, invite.email)
    return see_other("/clinic/team")


@router.post("/clinic/team/invites/{invite_id}/revoke")
def revoke(request: Request, invite_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic/team")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        found = _clinic_invite(conn, session, invite_id)
        if found is None:
            return _not_allowed(request, session)
        inv.set_status(conn, found[0], services.accounts.now(), inv.CANCELED)
    return see_other("/clinic/team")


def _mine(conn: Connection, services: Services, session: WebSession, key: str) -> inv.ConfirmRequest | None:
    found = inv.find_by_key(conn, key, inv.CLINICIAN)
    if found is None or not found.live(services.accounts.now()) or not inv.addressed_to(found, session.user):
        return None
    return found


@router.post("/clinic/team/received/{key}/accept")
def accept(request: Request, key: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic/team")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        found = _mine(conn, services, session, key)
        if found is None:
            return _not_allowed(request, session)
        accept_clinician_invite(conn, services, session.user, found)
    return see_other("/clinic")


@router.post("/clinic/team/received/{key}/decline")
def decline(request: Request, key: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic/team")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        found = _mine(conn, services, session, key)
        if found is None:
            return _not_allowed(request, session)
        inv.set_status(conn, found, services.accounts.now(), inv.DECLINED, invitee_id=session.user_id)
    return see_other("/clinic/team")

"""The Share page: invite people by email to follow your data (view, or view and upload), see who
is invited ("Invite sent", "Invite declined") and who shares ("Sharing"), resend, revoke, remove,
toggle upload; answer the invitations you received; and the people who share with you, each with a
link to their data.

Every action is the API's own function (``inlet.accounts.confirm_routes`` and ``invitations``), so
the page and the platform client see the same invitations, emails and permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts import invitations as inv
from inlet.accounts.confirm_routes import ConfirmError, invite_email, send_invitation
from inlet.accounts.deps import Caller
from inlet.accounts.service import User, is_user_id
from inlet.db.engine import read_only
from inlet.web.auth_routes import FormDep
from inlet.web.pages import form_session, message, render, see_other, to_login
from inlet.web.session import WebSession, current_session, services_of

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from inlet.services import Services

router = APIRouter()


@dataclass
class Person:
    """Someone on the Share page: an account (or only an address, for an invitation)."""

    user_id: str | None
    name: str
    email: str
    permissions: dict[str, Any]

    @property
    def can_upload(self) -> bool:
        return "upload" in self.permissions


def display_name(user: User | None, fallback: str = "") -> str:
    if user is None:
        return fallback
    profile = user.profile or {}
    name = profile.get("fullName")
    return name if isinstance(name, str) and name.strip() else (user.username or fallback)


def _person(services: Services, conn: Connection, user_id: str, perms: dict[str, Any]) -> Person:
    user = services.accounts.get_user(conn, user_id)
    email = (user.username or (user.emails[0] if user.emails else "")) if user else ""
    return Person(user_id, display_name(user, "A removed account"), email or "", perms)


def share_context(services: Services, conn: Connection, session: WebSession) -> dict[str, Any]:
    me = session.user
    now = services.accounts.now()
    members = [
        _person(services, conn, grantee, perms)
        for grantee, perms in sorted(services.accounts.grants_to(conn, me.id).items())
    ]
    sent = inv.invites_sent(conn, me.id)
    emails = [*me.emails, *([me.username] if me.username else [])]
    received = []
    for found in inv.invites_received(conn, now, emails):
        creator = services.accounts.get_user(conn, found.creator_id) if found.creator_id else None
        received.append({"invite": found, "from": display_name(creator, "Someone")})
    sharing_with_me = [
        _person(services, conn, owner, perms)
        for owner, perms in sorted(services.accounts.grants_from(conn, [me.id]).items())
        if owner != me.id
    ]
    return {"members": members, "sent": sent, "received": received, "with_me": sharing_with_me}


def _page(request: Request, session: WebSession, status: int = 200, **extra: Any) -> Response:
    services = services_of(request)
    with read_only(services.engine) as conn:
        context = share_context(services, conn, session)
    context.setdefault("fields", {})
    context.setdefault("error", None)
    context.update(extra)
    return render(request, "share.html", session, context, status)


@router.get("/share")
def share(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    return _page(request, session)


@router.post("/share/invite")
def invite(request: Request, fields: FormDep) -> Response:
    session = form_session(request, fields, "/share")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    perms: dict[str, Any] = {"view": {}, "note": {}}
    if fields.get("upload") == "on":
        perms["upload"] = {}
    body = {"email": fields.get("email", ""), "permissions": perms}
    caller = Caller("user", user_id=session.user_id)
    try:
        with services.notifier.transaction(services.engine) as conn:
            send_invitation(conn, request, caller, services, session.user_id, body)
    except ConfirmError as refused:
        reason = refused.reason[:1].upper() + refused.reason[1:] + "."
        return _page(request, session, 400, fields={"email": fields.get("email", "")}, error=reason)
    return see_other("/share")


def _own_invite(conn: Connection, session: WebSession, invite_id: str) -> inv.ConfirmRequest | None:
    found = inv.get_request(conn, invite_id)
    if found is None or found.type != inv.CARETEAM or found.creator_id != session.user_id:
        return None
    return found if found.status in (inv.PENDING, inv.DECLINED) else None


def _gone(request: Request, session: WebSession) -> Response:
    return message(
        request,
        session,
        404,
        "No such invitation",
        "This invitation was answered, withdrawn or has expired.",
        back=("/share", "Back to sharing"),
    )


@router.post("/share/invites/{invite_id}/resend")
def resend(request: Request, invite_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/share")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.notifier.transaction(services.engine) as conn:
        found = _own_invite(conn, session, invite_id)
        if found is None:
            return _gone(request, session)
        now = services.accounts.now()
        inv.set_status(conn, found, now, inv.PENDING, expires_time=now + inv.INVITE_TTL)
        invitee = inv.user_by_email(conn, services.accounts, found.email)
        invite_email(conn, services, session.user, found.email, invitee is not None)
    return see_other("/share")


@router.post("/share/invites/{invite_id}/revoke")
def revoke(request: Request, invite_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/share")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        found = _own_invite(conn, session, invite_id)
        if found is None:
            return _gone(request, session)
        inv.set_status(conn, found, services.accounts.now(), inv.CANCELED)
    return see_other("/share")


@router.post("/share/members/{member_id}/remove")
def remove(request: Request, member_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/share")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    if is_user_id(member_id) and member_id != session.user_id:
        with services.engine.begin() as conn:
            services.accounts.set_permissions(conn, session.user_id, member_id, {})
    return see_other("/share")


@router.post("/share/members/{member_id}/upload")
def toggle_upload(request: Request, member_id: str, fields: FormDep) -> Response:
    """Allow or stop uploading (``upload=on`` allows); a member keeps viewing either way."""
    session = form_session(request, fields, "/share")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    if not is_user_id(member_id) or member_id == session.user_id:
        return see_other("/share")
    with services.engine.begin() as conn:
        held = services.accounts.granted(conn, session.user_id, member_id)
        if held:
            perms = {k: v for k, v in held.items() if k != "upload"}
            if fields.get("upload") == "on":
                perms["upload"] = {}
            services.accounts.set_permissions(conn, session.user_id, member_id, perms)
    return see_other("/share")


def _received(conn: Connection, session: WebSession, invite_id: str, now: int) -> inv.ConfirmRequest | None:
    found = inv.get_request(conn, invite_id)
    if found is None or found.type != inv.CARETEAM or not found.live(now):
        return None
    return found if inv.addressed_to(found, session.user) else None


@router.post("/share/received/{invite_id}/accept")
def accept(request: Request, invite_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/share")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        found = _received(conn, session, invite_id, services.accounts.now())
        if found is None:
            return _gone(request, session)
        inv.accept_invite(conn, services.accounts, found, session.user)
    return see_other("/share")


@router.post("/share/received/{invite_id}/decline")
def decline(request: Request, invite_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/share")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        now = services.accounts.now()
        found = _received(conn, session, invite_id, now)
        if found is None:
            return _gone(request, session)
        inv.set_status(conn, found, now, inv.DECLINED, invitee_id=session.user_id)
    return see_other("/share")

"""Who is asking: the caller of a request, from a session token, a restricted token or the service
secret, and the permission checks every endpoint makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from inlet.accounts import clinics as c
from inlet.accounts.service import User, effective, is_user_id
from inlet.accounts.tokens import same
from inlet.api.deps import get_services
from inlet.api.errors import not_found, unauthenticated, unauthorized
from inlet.db.engine import read_only

SESSION_HEADER = "x-tidepool-session-token"
SERVICE_SECRET_HEADER = "x-tidepool-service-secret"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated party of a request."""

    kind: str  # "anonymous", "user", "service"
    user_id: str | None = None
    session_token: str | None = None
    restricted: bool = False

    @property
    def is_service(self) -> bool:
        return self.kind == "service"

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"


ANONYMOUS = Caller("anonymous")


def current_caller(request: Request) -> Caller:
    """Resolve the caller; a token that is present but invalid or expired is a 401, never anonymous."""
    if SERVICE_SECRET_HEADER in request.headers or not (
        SESSION_HEADER in request.headers or "restricted_token" in request.query_params
    ):
        return resolve_caller(request, None)  # no token to look up
    with read_only(get_services(request).engine) as conn:
        return resolve_caller(request, conn)


def resolve_caller(request: Request, conn: Connection | None) -> Caller:
    """:func:`current_caller` on the caller's connection, so a handler that reads anyway (``GET
    /data``) authenticates and reads on one pooled connection. ``conn`` may be ``None`` only when
    the request carries no token to look up."""
    services = get_services(request)
    secret = request.headers.get(SERVICE_SECRET_HEADER)
    if secret is not None:
        configured = services.settings.service_secret
        if configured is None or not same(secret, configured.get_secret_value()):
            raise unauthenticated()
        return Caller("service")
    token = request.headers.get(SESSION_HEADER)
    restricted = request.query_params.get("restricted_token")
    if token is None and restricted is None:
        return ANONYMOUS
    assert conn is not None
    if token is not None:
        session = services.accounts.resolve_session(conn, token)
        if session is None:
            raise unauthenticated()
        if session.kind == "server":
            return Caller("service", session_token=token)
        return Caller("user", user_id=session.user_id, session_token=token)
    assert restricted is not None
    grant = services.accounts.resolve_restricted_token(conn, restricted)
    if grant is None:
        raise unauthenticated()
    if not grant.allows(request.url.path, request.method):
        raise unauthorized()
    return Caller("user", user_id=grant.user_id, restricted=True)


def authenticated_caller(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if caller.is_anonymous:
        raise unauthenticated()
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
AuthDep = Annotated[Caller, Depends(authenticated_caller)]


def permissions_for(request: Request, conn: Connection, caller: Caller, owner_id: str) -> frozenset[str]:
    """What ``caller`` may do with ``owner_id``'s account and data."""
    if caller.is_service:
        return effective({"root"})
    if caller.user_id is None:
        return frozenset()
    if caller.user_id == owner_id:
        return effective({"root"})
    if not is_user_id(owner_id):
        return frozenset()  # names no account; never sent to the database
    services = get_services(request)
    return effective(services.grants(conn, owner_id, caller.user_id))


def require(
    request: Request, conn: Connection, caller: Caller, owner_id: str, *needed: str
) -> frozenset[str]:
    """Raise 401 for anonymous callers and 403 unless the caller holds one of ``needed``."""
    if caller.is_anonymous:
        raise unauthenticated()
    have = permissions_for(request, conn, caller, owner_id)
    if not have.intersection(needed):
        raise unauthorized()
    return have


def require_account(
    request: Request, conn: Connection, caller: Caller, user_id: str, *needed: str
) -> tuple[User, frozenset[str]]:
    """The account ``user_id`` and the caller's permissions on it, when they include one of ``needed``.

    Anonymous callers get 401. A user without the permission gets 403, also when no such account
    exists (a user learns nothing about accounts they may not see); a service gets 404 for an
    account that does not exist."""
    if caller.is_anonymous:
        raise unauthenticated()
    have = permissions_for(request, conn, caller, user_id)
    if not have.intersection(needed):
        raise unauthorized()
    user = get_services(request).accounts.get_user(conn, user_id) if is_user_id(user_id) else None
    if user is None:
        raise not_found("user-not-found", "user", user_id)
    return user, have


def clinic_access(conn: Connection, caller: Caller, clinic_id: str, *, admin: bool = False) -> c.Clinic:
    """The clinic, when the caller is a service or one of its clinicians (an admin if ``admin``)."""
    if caller.is_anonymous:
        raise unauthenticated()
    if not caller.is_service:
        member = c.get_clinician(conn, clinic_id, caller.user_id) if caller.user_id else None
        if member is None or (admin and not member.is_admin):
            raise unauthorized()
    clinic = c.get_clinic(conn, clinic_id)
    if clinic is None:
        raise not_found("clinic-not-found", "clinic", clinic_id)
    return clinic


def clinic_patient(conn: Connection, clinic: c.Clinic, patient_id: str) -> c.Patient:
    """The clinic's patient record of ``patient_id`` (404 when the patient is not the clinic's)."""
    found = c.get_patient(conn, clinic.id, patient_id)
    if found is None:
        raise not_found("patient-not-found", "patient", patient_id)
    return found

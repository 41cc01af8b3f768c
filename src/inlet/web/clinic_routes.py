"""The clinician workspace: for each clinic the person works in, its patients and the state of each
patient's partner connections, with ``Request connection`` / ``Resend`` (an email with a connect link,
:func:`inlet.partners.requests.request_connection`) and a link to each data view the clinician may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts import clinics as c
from inlet.accounts.deps import Caller, permissions_for
from inlet.db.engine import read_only
from inlet.partners import requests as r
from inlet.partners.states import CONNECTED, DISCONNECTED, ERROR
from inlet.web.auth_routes import FormDep
from inlet.web.pages import forbidden, form_session, message, render, see_other, to_login
from inlet.web.session import WebSession, current_session, services_of

router = APIRouter()
MAX_CLINICS = 50
MAX_PATIENTS = 500
VIEW_PERMISSIONS = frozenset({"root", "custodian", "view"})


@dataclass
class PatientConnection:
    """One patient's connection to one partner, as the workspace shows it."""

    slug: str
    name: str
    state: str  # connected, disconnected, error
    requested: int | None  # when the clinic last asked (microseconds), if it did

    @property
    def action(self) -> str | None:
        if self.state == CONNECTED:
            return None
        return "Resend" if self.requested is not None else "Request connection"


@dataclass
class PatientRow:
    user_id: str
    name: str
    email: str | None
    can_view: bool
    connections: list[PatientConnection] = field(default_factory=list)


@dataclass
class ClinicView:
    id: str
    name: str
    patients: list[PatientRow]


def _patient_rows(request: Request, conn: Any, session: WebSession, clinic: c.Clinic) -> list[PatientRow]:
    services = services_of(request)
    partners = [p for p in services.partners.registry if p.configured]
    caller = Caller("user", user_id=session.user_id)
    patients, _ = c.list_patients(conn, clinic.id, search=None, sort="fullName", offset=0, limit=MAX_PATIENTS)
    rows = []
    for patient in patients:
        doc = patient.doc
        email = doc.get("email") if isinstance(doc.get("email"), str) else None
        name = str(doc.get("fullName") or email or patient.user_id)
        can_view = bool(permissions_for(request, conn, caller, patient.user_id) & VIEW_PERMISSIONS)
        row = PatientRow(patient.user_id, name, email, can_view)
        for partner in partners:
            source = services.partners.find_source(conn, patient.user_id, partner.slug)
            state = source.state if source is not None else DISCONNECTED
            if state not in (CONNECTED, DISCONNECTED, ERROR):
                state = DISCONNECTED
            asked = r.find_request(conn, clinic.id, patient.user_id, partner.slug)
            row.connections.append(
                PatientConnection(
                    partner.slug, partner.display_name, state, asked.last_sent_time if asked else None
                )
            )
        rows.append(row)
    return rows


@router.get("/clinic")
def workspace(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    services = services_of(request)
    with read_only(services.engine) as conn:
        memberships = c.clinics_for_clinician(conn, session.user_id, offset=0, limit=MAX_CLINICS)
        views = [
            ClinicView(clinic.id, clinic.name, _patient_rows(request, conn, session, clinic))
            for _, clinic in memberships
        ]
    notice = None
    sent_to, sent_for = request.query_params.get("sent"), request.query_params.get("partner")
    if sent_to and sent_for:
        for view in views:
            for row in view.patients:
                for item in row.connections:
                    if row.user_id == sent_to and item.slug == sent_for:
                        notice = f"The {item.name} connection request was emailed to {row.name}."
    return render(request, "clinic.html", session, {"clinics": views, "notice": notice})


@router.post("/clinic/{clinic_id}/patients/{patient_id}/connect/{slug}")
def request_connection(
    request: Request, clinic_id: str, patient_id: str, slug: str, fields: FormDep
) -> Response:
    session = form_session(request, fields, "/clinic")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    partner = services.partners.registry.available(slug)
    if partner is None:
        return message(
            request, session, 404, "Unknown partner", f"This server does not offer a partner called {slug!r}."
        )
    back = "Go back to the clinic workspace and reload it."
    with services.engine.begin() as conn:
        clinic = c.get_clinic(conn, clinic_id)
        if clinic is None or c.get_clinician(conn, clinic_id, session.user_id) is None:
            return forbidden(request, session, "You are not a clinician of this clinic.")
        patient = c.get_patient(conn, clinic_id, patient_id)
        if patient is None:
            return message(
                request, session, 404, "Patient not found", "This clinic has no such patient.", back
            )
        try:
            r.request_connection(conn, services, clinic, patient, partner, session.user_id)
        except r.AlreadyConnected:
            return message(
                request,
                session,
                409,
                "Already connected",
                f"This patient's {partner.display_name} account is already connected; there is nothing "
                "to ask for.",
                back,
            )
        except r.NoEmailAddress:
            return message(
                request,
                session,
                400,
                "No email address",
                "This patient has no email address, so Inlet cannot send the request. Add an email "
                "address to the patient's record first.",
                back,
            )
    return see_other(f"/clinic?sent={patient.user_id}&partner={partner.slug}")

"""The clinician workspace (``/clinic``): the clinic's population as a table.

Each patient row shows the name, the last data (in the patient's own time zone, labelled), CGM use,
time in ranges as a small stacked bar, GMI, when the patient was last reviewed, the partner
connections with their actions (``Request connection`` / ``Resend`` / ``Reconnect``; an email with
a connect link, :func:`inlet.partners.requests.request_connection`), and "Mark reviewed". Above it:
Tidepool's quick filters (very low > 1 %, any low > 4 %, TIR < 70 %, any high > 25 %, very high
> 5 %, CGM use < 70 %), the period (1, 7, 14, 30 days), search and tags; every column header
sorts. Everything is a GET form or a link (so the page works without JavaScript; htmx boosts them),
and the list is the API's indexed query (:mod:`inlet.summaries.patients`). ``/clinic/tide`` is the
TIDE view. Creating a clinic, adding clinicians (existing accounts, by email) and adding patients
are plain forms here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from inlet.accounts import clinics as c
from inlet.accounts import confirmations
from inlet.accounts.deps import Caller, permissions_for
from inlet.accounts.service import UsernameTaken, normalize_username
from inlet.db.engine import read_only
from inlet.model.timeutil import to_micros
from inlet.partners import requests as r
from inlet.partners.states import CONNECTED, DISCONNECTED, ERROR
from inlet.summaries import compute as k
from inlet.summaries import patients as p
from inlet.summaries import tide
from inlet.web.auth_routes import FormDep
from inlet.web.pages import forbidden, form_session, message, render, safe_next, see_other, to_login
from inlet.web.session import WebSession, current_session, services_of
from inlet.web.zones import in_zone, person_zone

router = APIRouter()
MAX_CLINICS = 50
PAGE_SIZE = 25
VIEW_PERMISSIONS = frozenset({"root", "custodian", "view"})
QUICK_FILTERS = {  # name: (label, field, operator and value)
    "veryLow": ("Very low > 1 %", "timeInVeryLowPercent", ">0.01"),
    "anyLow": ("Any low > 4 %", "timeInAnyLowPercent", ">0.04"),
    "tir": ("Time in range < 70 %", "timeInTargetPercent", "<0.7"),
    "anyHigh": ("Any high > 25 %", "timeInAnyHighPercent", ">0.25"),
    "veryHigh": ("Very high > 5 %", "timeInVeryHighPercent", ">0.05"),
    "cgmUse": ("CGM use < 70 %", "timeCGMUsePercent", "<0.7"),
}
COLUMNS = (  # header, sort key
    ("Name", "fullName"),
    ("Last data", "lastData"),
    ("CGM use", "timeCGMUsePercent"),
    ("Time in ranges", "timeInTargetPercent"),
    ("GMI", "glucoseManagementIndicator"),
    ("Last reviewed", "lastReviewed"),
)
BAR = (  # segment, label, colour
    ("timeInVeryLowPercent", "very low", "#a61b1b"),
    ("timeInLowPercent", "low", "#e05d5d"),
    ("timeInTargetPercent", "in range", "#2f8f46"),
    ("timeInHighPercent", "high", "#e0a43a"),
    ("timeInVeryHighPercent", "very high", "#b8690b"),
)


@dataclass
class PatientConnection:
    """One patient's connection to one partner, as the workspace shows it."""

    slug: str
    name: str
    state: str  # connected, disconnected, error
    requested: int | None  # when the clinic last asked (microseconds), if it did
    requested_text: str = ""  # that time in the patient's zone, labelled

    @property
    def action(self) -> str | None:
        """What the clinician can do: nothing when connected; ``Reconnect`` (ask the patient, again,
        to connect) when the connection broke; else ask, or ask again."""
        if self.state == CONNECTED:
            return None
        if self.state == ERROR:
            return "Reconnect"
        return "Resend" if self.requested is not None else "Request connection"


@dataclass
class Segment:
    label: str
    colour: str
    percent: float
    x: float


@dataclass
class PatientRow:
    user_id: str
    name: str
    email: str | None
    can_view: bool
    last_data: str | None = None
    zone_label: str = ""
    cgm_use: str = ""
    gmi: str = ""
    bar: list[Segment] = field(default_factory=list)
    reviewed: str = ""
    tags: list[str] = field(default_factory=list)
    connections: list[PatientConnection] = field(default_factory=list)

    @property
    def bar_text(self) -> str:
        return ", ".join(f"{s.label} {s.percent:.0f} %" for s in self.bar) if self.bar else ""


# ---- times in the person's zone -----------------------------------------------------------------


# ---- the list -----------------------------------------------------------------------------------


def _percent(value: Any) -> str:
    return f"{value * 100:.0f} %" if isinstance(value, int | float) else "–"


def _row(
    request: Request,
    conn: Connection,
    session: WebSession,
    clinic: c.Clinic,
    body: dict[str, Any],
    period: str,
) -> PatientRow:
    services = services_of(request)
    caller = Caller("user", user_id=session.user_id)
    email = body.get("email") if isinstance(body.get("email"), str) else None
    row = PatientRow(
        body["id"],
        str(body.get("fullName") or email or body["id"]),
        email,
        bool(permissions_for(request, conn, caller, body["id"]) & VIEW_PERMISSIONS),
    )
    stats = (body.get("summary") or {}).get("cgmStats")
    zone = person_zone(conn, row.user_id)
    row.zone_label = zone.label
    if stats:
        row.last_data = in_zone(stats["dates"].get("lastData"), zone) or None
        values = stats["periods"].get(period) or {}
        row.cgm_use = _percent(values.get("timeCGMUsePercent"))
        gmi = values.get("glucoseManagementIndicator")
        row.gmi = f"{gmi:.1f} %" if isinstance(gmi, int | float) else "–"
        if values.get("hasTimeInTargetPercent"):
            x = 0.0
            for key, name, colour in BAR:
                share = float(values.get(key) or 0.0) * 100
                row.bar.append(Segment(name, colour, share, x))
                x += share
    reviewed = body.get("lastReviewed")
    if reviewed:
        row.reviewed = in_zone(reviewed["time"], zone)
    row.tags = list(body.get("tags") or [])
    for partner in (x for x in services.partners.registry if x.configured):
        source = services.partners.find_source(conn, row.user_id, partner.slug)
        state = source.state if source is not None else DISCONNECTED
        if state not in (CONNECTED, DISCONNECTED, ERROR):
            state = DISCONNECTED
        asked = r.find_request(conn, clinic.id, row.user_id, partner.slug)
        row.connections.append(
            PatientConnection(
                partner.slug,
                partner.display_name,
                state,
                asked.last_sent_time if asked else None,
                in_zone(asked.last_sent_time, zone) if asked else "",
            )
        )
    return row


def _headers(sort: str, link: Any) -> list[dict[str, str]]:
    """Each column's header: a link sorting by it (flipping the direction when it is the current
    sort; names first ascending, numbers first descending) and its ``aria-sort``."""
    out = []
    for header, key in COLUMNS:
        active = sort[1:] == key
        if active:
            following = ("-" if sort[0] == "+" else "+") + key
            aria = "ascending" if sort[0] == "+" else "descending"
        else:
            following = ("+" if key == "fullName" else "-") + key
            aria = ""
        out.append({"header": header, "key": key, "link": link(sort=following, page=1), "aria": aria})
    return out


def _choice(value: str | None, allowed: Any, default: str) -> str:
    return value if value is not None and value in allowed else default


@router.get("/clinic")
def workspace(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    services = services_of(request)
    params = request.query_params
    with read_only(services.engine) as conn:
        memberships = c.clinics_for_clinician(conn, session.user_id, offset=0, limit=MAX_CLINICS)
        clinics = [clinic for _, clinic in memberships]
        chosen = next((x for x in clinics if x.id == params.get("clinic")), clinics[0] if clinics else None)
        context: dict[str, Any] = {"clinics": clinics, "clinic": chosen, "notice": None}
        if chosen is not None:
            period = _choice(params.get("period"), k.PERIODS, "14d")
            sort = params.get("sort") or "+fullName"
            if sort[:1] not in ("+", "-") or sort[1:] not in p.SORTABLE:
                sort = "+fullName"
            filters = [f for f in params.getlist("filter") if f in QUICK_FILTERS]
            tags = c.list_tags(conn, chosen.id)
            tag = _choice(params.get("tag"), {t["id"] for t in tags}, "")
            search = (params.get("search") or "").strip()[:100]
            try:
                page = max(1, int(params.get("page") or 1))
            except ValueError:
                page = 1
            parsed = p.parse_filters(
                {f"cgm.{QUICK_FILTERS[f][1]}": QUICK_FILTERS[f][2] for f in filters}, lambda _: None
            )
            query = p.PatientQuery(
                clinic_id=chosen.id,
                period=period,
                sort=sort,
                search=search or None,
                tags=[tag] if tag else [],
                filters=parsed,
                offset=(page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
            bodies, count = p.list_patients(conn, query)
            state = {
                "clinic": chosen.id,
                "period": period,
                "sort": sort,
                "search": search,
                "tag": tag,
                "filter": filters,
            }

            def link(**changes: Any) -> str:
                merged = {**state, **changes}
                pairs = [
                    (key, v)
                    for key, value in merged.items()
                    for v in (value if isinstance(value, list) else [value])
                    if v not in ("", None)
                ]
                return "/clinic?" + urlencode(pairs)

            context.update(
                rows=[_row(request, conn, session, chosen, body, period) for body in bodies],
                count=count,
                page=page,
                pages=max(1, -(-count // PAGE_SIZE)),
                first=(page - 1) * PAGE_SIZE + 1 if count else 0,
                last=min(count, page * PAGE_SIZE),
                period=period,
                periods=list(k.PERIODS),
                sort=sort,
                search=search,
                tags=tags,
                tag_names={t["id"]: t["name"] for t in tags},
                tag=tag,
                filters=filters,
                quick_filters=QUICK_FILTERS,
                headers=_headers(sort, link),
                link=link,
                here=link(page=page),
                is_admin=bool((m := c.get_clinician(conn, chosen.id, session.user_id)) and m.is_admin),
            )
    notice = params.get("notice")
    sent_to, sent_for = params.get("sent"), params.get("partner")
    if sent_to and sent_for:
        for row in context.get("rows", []):
            for item in row.connections:
                if row.user_id == sent_to and item.slug == sent_for:
                    notice = f"The {item.name} connection request was emailed to {row.name}."
    context["notice"] = {
        "reviewed": "Marked as reviewed.",
        "created": "The clinic was created.",
        "clinician": "The clinician was added.",
        "patient": "The patient was added.",
    }.get(notice or "", notice if sent_to else None)
    return render(request, "clinic.html", session, context)


# ---- TIDE -----------------------------------------------------------------------------------------


@router.get("/clinic/tide")
def tide_view(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    services = services_of(request)
    params = request.query_params
    with read_only(services.engine) as conn:
        clinic_id = params.get("clinic") or ""
        clinic = c.get_clinic(conn, clinic_id)
        if clinic is None or c.get_clinician(conn, clinic.id, session.user_id) is None:
            return forbidden(request, session, "You are not a clinician of this clinic.")
        tags = c.list_tags(conn, clinic.id)
        tag = _choice(params.get("tag"), {t["id"] for t in tags}, tags[0]["id"] if tags else "")
        period = _choice(params.get("period"), k.PERIODS, "14d")
        days = int(params.get("days") or 14) if (params.get("days") or "14").isdigit() else 14
        report = None
        if tag:
            cutoff = to_micros(dt.datetime.now(dt.UTC)) - days * k.DAY_US
            report = tide.tide_report(conn, clinic.id, period=period, tags=[tag], cutoff=cutoff)
    labels = {
        "timeInVeryLowPercent": "Very low > 1 %",
        "timeInAnyLowPercent": "Any low > 4 %",
        "timeInVeryHighPercent": "Very high > 5 %",
        "timeInAnyHighPercent": "Any high > 25 %",
        "dropInTimeInTargetPercent": "Time in range dropped by more than 15 points",
        "timeCGMUsePercent": "CGM use < 70 %",
        "meetingTargets": "Meeting targets",
        "noData": "No CGM data in the period",
    }
    return render(
        request,
        "clinic_tide.html",
        session,
        {
            "clinic": clinic,
            "tags": tags,
            "tag": tag,
            "period": period,
            "periods": list(k.PERIODS),
            "report": report,
            "labels": labels,
            "days": days,
        },
    )


# ---- forms ----------------------------------------------------------------------------------------


def _back(fields: dict[str, str], clinic_id: str, notice: str) -> str:
    back = safe_next(fields.get("back")) or f"/clinic?clinic={clinic_id}"
    return back + ("&" if "?" in back else "?") + f"notice={notice}"


@router.post("/clinic/{clinic_id}/patients/{patient_id}/reviewed")
def mark_reviewed(request: Request, clinic_id: str, patient_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        if c.get_clinician(conn, clinic_id, session.user_id) is None:
            return forbidden(request, session, "You are not a clinician of this clinic.")
        patient = c.get_patient(conn, clinic_id, patient_id)
        if patient is None:
            return message(request, session, 404, "Patient not found", "This clinic has no such patient.")
        c.add_review(conn, services.accounts.now(), patient, session.user_id)
    return see_other(_back(fields, clinic_id, "reviewed"))


@router.post("/clinic/new")
def create_clinic(request: Request, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic")
    if isinstance(session, Response):
        return session
    name = (fields.get("name") or "").strip()
    if not name or len(name) > 200:
        return message(
            request, session, 400, "A clinic needs a name", "Give the clinic a name of 1 to 200 characters."
        )
    services = services_of(request)
    with services.engine.begin() as conn:
        now = services.accounts.now()
        clinic = c.create_clinic(conn, now, name, {})
        user = session.user
        c.add_clinician(
            conn,
            now,
            clinic.id,
            user.id,
            email=user.emails[0] if user.emails else user.username,
            name=(user.profile or {}).get("fullName"),
            roles=[c.CLINIC_ADMIN],
        )
    return see_other(f"/clinic?clinic={clinic.id}&notice=created")


@router.post("/clinic/{clinic_id}/clinicians")
def add_clinician(request: Request, clinic_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    email = normalize_username((fields.get("email") or "").strip())
    role = c.CLINIC_ADMIN if fields.get("role") == c.CLINIC_ADMIN else c.CLINIC_MEMBER
    with services.engine.begin() as conn:
        member = c.get_clinician(conn, clinic_id, session.user_id)
        if member is None or not member.is_admin:
            return forbidden(request, session, "Only an administrator of this clinic can add clinicians.")
        user = services.accounts.find_user(conn, email) if email else None
        if user is None:
            return message(
                request,
                session,
                404,
                "No such account",
                "There is no account with that email address. Ask the clinician to sign up first.",
            )
        if c.get_clinician(conn, clinic_id, user.id) is not None:
            return message(
                request, session, 409, "Already a clinician", "That person is already a clinician here."
            )
        c.add_clinician(
            conn,
            services.accounts.now(),
            clinic_id,
            user.id,
            email=email,
            name=(user.profile or {}).get("fullName"),
            roles=[role],
        )
    return see_other(f"/clinic?clinic={clinic_id}&notice=clinician")


@router.post("/clinic/{clinic_id}/patients")
def add_patient(request: Request, clinic_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/clinic")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    name = (fields.get("full_name") or "").strip()
    birth = (fields.get("birth_date") or "").strip()
    email = normalize_username((fields.get("email") or "").strip()) or None
    try:
        dt.date.fromisoformat(birth)
    except ValueError:
        birth = ""
    if not name or len(name) > 200 or not birth:
        return message(
            request,
            session,
            400,
            "Name and birth date needed",
            "A patient needs a full name and a birth date (YYYY-MM-DD).",
        )
    accounts = services.accounts
    with services.engine.begin() as conn:
        clinic = c.get_clinic(conn, clinic_id)
        if clinic is None or c.get_clinician(conn, clinic_id, session.user_id) is None:
            return forbidden(request, session, "You are not a clinician of this clinic.")
        if email is not None and accounts.find_user(conn, email) is not None:
            return message(
                request,
                session,
                409,
                "Address in use",
                "An account with that email address exists; the person can share it with the clinic.",
            )
        try:
            user = accounts.create_user(
                conn,
                username=email,
                password=None,
                emails=[email] if email else [],
                custodial=True,
                profile={
                    "fullName": name,
                    "patient": {"birthday": birth, **({"email": email} if email else {})},
                },
            )
        except UsernameTaken:
            return message(
                request, session, 409, "Address in use", "An account with that email address exists."
            )
        now = accounts.now()
        doc: dict[str, Any] = {"fullName": name, "birthDate": birth}
        if email:
            doc["email"] = email
        c.add_patient(conn, now, clinic.id, user.id, doc, dict(c.CUSTODIAL_PERMISSIONS))
        if email is not None:
            confirmations.request_signup(conn, now, user, creator_id=session.user_id, clinic_id=clinic.id)
    return see_other(f"/clinic?clinic={clinic_id}&notice=patient")


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
    with services.notifier.transaction(services.engine) as conn:
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
    return see_other(f"/clinic?clinic={clinic_id}&sent={patient.user_id}&partner={partner.slug}")

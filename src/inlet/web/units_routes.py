"""The settings forms on the profile page: the glucose unit a person reads, their target range and
what counts as a site change (``#units``), and the time zone their pages show times in
(``#time-zone``), saved in ``/metadata/:userId/settings`` as the API saves them.

The target fields carry the unit they are written in (``target_unit``), so switching the unit
without retyping the target keeps the same range (70-180 mg/dL becomes 3.9-10.0 mmol/L).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts import settings as st
from inlet.api.errors import PlatformError
from inlet.db.engine import read_only
from inlet.reports.units import MMOLL, UNITS, from_person, mmol_of
from inlet.web import zones
from inlet.web.auth_routes import FormDep
from inlet.web.pages import form_session, message, see_other
from inlet.web.session import services_of

router = APIRouter()


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e6 else None  # no NaN, nothing absurd


@router.post("/profile/units")
def save_units(request: Request, fields: FormDep) -> Response:
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    unit = fields.get("unit", "")
    written_in = fields.get("target_unit", unit)
    low, high = _number(fields.get("low", "")), _number(fields.get("high", ""))
    if unit not in UNITS or written_in not in UNITS or low is None or high is None:
        return message(
            request,
            session,
            400,
            "Settings not saved",
            "Choose a unit and enter both ends of the target range.",
            back=("/profile#units", "Back to your profile"),
        )
    low_mg, high_mg = from_person(low, written_in), from_person(high, written_in)
    target: dict[str, Any] = (
        {"low": mmol_of(low_mg), "high": mmol_of(high_mg)}
        if unit == MMOLL
        else {"low": low_mg, "high": high_mg}
    )
    body: dict[str, Any] = {"units": {"bg": unit}, "bgTarget": target}
    if fields.get("site_change_source"):
        body["siteChangeSource"] = fields["site_change_source"]
    services = services_of(request)
    try:
        with services.engine.begin() as conn:
            stored = st.get(conn, session.user_id)
            doc = st.checked({**(stored or {}), **body}, stored)
            st.put(conn, services.accounts.now(), session.user_id, doc)
    except PlatformError as refused:
        detail = str(refused.errors[0].get("detail", ""))
        return message(
            request,
            session,
            400,
            "Settings not saved",
            f"The target range is not valid: {detail}.",
            back=("/profile#units", "Back to your profile"),
        )
    return see_other("/profile#units")


@router.post("/profile/timezone")
def save_time_zone(request: Request, fields: FormDep) -> Response:
    """Save the person's time zone (an IANA name; empty: automatic, the zone of their data)."""
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    chosen = fields.get("timezone", "").strip()
    if chosen and zones.named(chosen) is None:
        return message(
            request,
            session,
            400,
            "Time zone not saved",
            "Choose a time zone from the list, or Automatic.",
            back=("/profile#time-zone", "Back to your profile"),
        )
    services = services_of(request)
    with services.engine.begin() as conn:
        stored = dict(st.get(conn, session.user_id) or {})
        stored.pop("timezone", None)
        doc = st.checked({**stored, **({"timezone": chosen} if chosen else {})}, stored or None)
        st.put(conn, services.accounts.now(), session.user_id, doc)
    return see_other("/profile#time-zone")


def units_context(request: Request, user_id: str) -> dict[str, Any]:
    """What the profile's settings forms show."""
    services = services_of(request)
    with read_only(services.engine) as conn:
        prefs = st.preferences(conn, user_id)
        chosen = st.time_zone_of(st.get(conn, user_id))
        from_data = zones.data_zone(conn, user_id)
    return {
        "prefs": prefs,
        "site_change_sources": st.SITE_CHANGE_SOURCES,
        "time_zone": chosen or "",
        "data_zone": from_data.label if from_data else "UTC",
        "zone_names": zones.zone_names(),
    }

"""The data view's export dialog and "Print report": browser forms in front of the API's downloads.

``GET /export/:userId`` and ``GET /v1/reports/:userId/agp.pdf`` take an API credential, not the web
session cookie, so (as Tidepool's web app does) the page asks for a short-lived restricted token for
exactly that path and sends the browser to the download with it. The forms are POSTs with the CSRF
token (making a token is a change), checked like every other form, and only for someone who may view
the person's data.

Periods: the last 14, 30 or 90 days (Tidepool offers at most 90) end now; a custom range runs from the
first day's midnight to the end of the last day, in UTC (the window of ``GET /data``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts.deps import Caller, permissions_for
from inlet.web.auth_routes import FormDep
from inlet.web.pages import forbidden, form_session, message, see_other
from inlet.web.session import services_of

router = APIRouter()
LINK_SECONDS = 300
VIEW = frozenset({"root", "custodian", "view"})
PERIODS = {"14": 14, "30": 30, "90": 90}
MAX_RANGE_DAYS = 366


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def window(fields: dict[str, str], now: datetime) -> tuple[datetime, datetime] | str:
    """The chosen period as ``(start, end)``, or the sentence that says what is wrong with it."""
    period = fields.get("period", "14")
    if period in PERIODS:
        return now - timedelta(days=PERIODS[period]), now
    if period != "range":
        return "Choose the last 14, 30 or 90 days, or a range of dates."
    try:
        first = date.fromisoformat(fields.get("start", ""))
        last = date.fromisoformat(fields.get("end", ""))
    except ValueError:
        return "Give the range's first and last day as dates, such as 2026-03-20."
    if last < first:
        return "The range's last day comes before its first day."
    if (last - first).days >= MAX_RANGE_DAYS:
        return f"A range is at most {MAX_RANGE_DAYS} days; export a longer history in parts."
    try:
        start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC) - timedelta(
            milliseconds=1
        )
    except OverflowError:
        return "The range is out of the calendar's bounds."
    return start, end


def _go(request: Request, user_id: str, fields: dict[str, str], path: str, query: dict[str, str]) -> Response:
    back = f"/data/view/{user_id}"
    session = form_session(request, fields, back)
    if isinstance(session, Response):
        return session
    services = services_of(request)
    period = window(fields, services.accounts.clock())
    if isinstance(period, str):
        return message(request, session, 400, "Not a period", period, back=(back, "Back to the data"))
    with services.engine.begin() as conn:
        if not permissions_for(request, conn, Caller("user", user_id=session.user_id), user_id) & VIEW:
            return forbidden(request, session, "You do not have permission to see this person's data.")
        expires = services.accounts.now() + LINK_SECONDS * 1_000_000
        token, _ = services.accounts.create_restricted_token(
            conn, session.user_id, [path], expires_time=expires
        )
    start, end = period
    params = {**query, "startDate": _stamp(start), "endDate": _stamp(end), "restricted_token": token}
    return see_other(f"{path}?{urlencode(params)}")


def _units(fields: dict[str, str]) -> str:
    return "mg/dL" if fields.get("bgUnits") == "mg/dL" else "mmol/L"


@router.post("/data/view/{user_id}/export")
def export(request: Request, user_id: str, fields: FormDep) -> Response:
    """The export dialog: period, JSON or Excel, units; then the download."""
    fmt = "json" if fields.get("format") == "json" else "xlsx"
    return _go(request, user_id, fields, f"/export/{user_id}", {"format": fmt, "bgUnits": _units(fields)})


@router.post("/data/view/{user_id}/report")
def report(request: Request, user_id: str, fields: FormDep) -> Response:
    """ "Print report": the one-page AGP PDF of the chosen period."""
    return _go(request, user_id, fields, f"/v1/reports/{user_id}/agp.pdf", {"bgUnits": _units(fields)})

"""``GET /v1/reports/:userId/agp.pdf``: the one-page AGP report as a PDF (WeasyPrint).

Content (the 2019 consensus report, our own layout, not the International Diabetes Center's): a
header (name, date of birth when known, the period and the days with data); "Time in Ranges" as the
pages' stacked bar with the standard goals; "Glucose metrics" (mean glucose, GMI, CV, % time CGM
active, days worn) with their goals; the "Ambulatory Glucose Profile" (the pages' AGP chart: median,
25-75 % and 5-95 % bands on one day); "Daily Glucose Profiles" (one small chart per local day,
midnight to midnight; the last 14 days of the window, so the page stays one page).

The numbers come from the same pure metrics as the data view (``inlet.reports``) and the charts are
the same server-drawn SVG (``inlet.web.charts``), so the PDF and the page cannot disagree. With less
than 24 hours of CGM readings in the window (time covered by readings) the PDF is one page that says
there is not enough data, and draws nothing. Fonts are the ones Debian ships (DejaVu, Liberation);
WeasyPrint finds them through fontconfig. Charts draw glucose in mg/dL; ``bgUnits=mmol/L`` writes the
numbers in mmol/L.

Who may ask: whoever may view the data (as ``GET /data``), by session header or a restricted token
for the path; errors use the platform envelope (a ``/v1`` path).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import Connection

from inlet.accounts.deps import current_caller, require
from inlet.accounts.service import AccountService
from inlet.api.deps import get_services
from inlet.api.errors import parameter_invalid
from inlet.data import queries
from inlet.db.engine import read_only
from inlet.model.glucose import MGDL_PER_MMOLL
from inlet.model.timeutil import to_micros
from inlet.reports.agp import agp
from inlet.reports.glucose import HIGH_ABOVE_MG, LOW_BELOW_MG, RANGES, Reading, readings_from_docs
from inlet.reports.summary import covered_ms, overview
from inlet.web import charts
from inlet.web.data_view import RANGE_LABELS, _doc, _person_name
from inlet.web.pages import TEMPLATES
from inlet.web.zones import UTC_ZONE, Zone, in_zone, person_zone

router = APIRouter(tags=["reports"])
DEFAULT_DAYS = 14
MAX_DAYS = 90
DAILY_DAYS = 14
MIN_COVERED_MS = 24 * 3_600_000
GOALS = {
    "veryHigh": "under 5%",
    "high": "under 25%",
    "target": "over 70%",
    "low": "under 4%",
    "veryLow": "under 1%",
}
"""The consensus goals of the standard preset (type 1 and type 2 diabetes)."""
Text = Annotated[str | None, Query()]

MINI_W, MINI_H = 240, 90


def mini_day_svg(day: date, readings: Sequence[Reading]) -> Markup:
    """One local day's CGM as a small chart: the target band and the readings' line, 40-400 mg/dL."""
    start = datetime.combine(day, time())

    def x(reading: Reading) -> float:
        return (reading.local - start).total_seconds() / 86_400 * MINI_W

    def y(mg: float) -> float:
        mg = min(max(mg, 40), 400)
        return MINI_H - (mg - 40) / 360 * MINI_H

    band = y(LOW_BELOW_MG) - y(HIGH_ABOVE_MG)
    parts = [
        f'<rect x="0" y="{y(HIGH_ABOVE_MG):.1f}" width="{MINI_W}" height="{band:.1f}" '
        f'fill="{charts.RANGE_COLOURS["target"]}" fill-opacity="0.15"/>'
    ]
    run: list[str] = []
    previous: Reading | None = None
    for reading in readings:
        if previous is not None and reading.time - previous.time > charts.CGM_GAP and run:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{charts.TEXT}" stroke-width="1"/>'
            )
            run = []
        run.append(f"{x(reading):.1f},{y(reading.mg):.1f}")
        previous = reading
    if len(run) > 1:
        parts.append(
            f'<polyline points="{" ".join(run)}" fill="none" stroke="{charts.TEXT}" stroke-width="1"/>'
        )
    elif run:
        cx, cy = run[0].split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="1.5" fill="{charts.TEXT}"/>')
    label = f"{day:%a %d %b}"
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MINI_W} {MINI_H}" width="100%" role="img" '
        f'aria-label="{escape(label)}: {len(readings)} readings">'
        f'<rect width="{MINI_W}" height="{MINI_H}" fill="#ffffff" stroke="{charts.GRID}"/>'
        + "".join(parts)
        + "</svg>"
    )


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = queries.parse_query_time(value)
    if parsed is None:
        raise parameter_invalid(name, f"{name} is not an RFC 3339 time")
    return parsed.astimezone(UTC)


def _glucose(mg: float | None, units: str) -> str:
    if mg is None:
        return "not enough data"
    return f"{mg:.0f} mg/dL" if units == "mg/dL" else f"{mg / MGDL_PER_MMOLL:.1f} mmol/L"


def render_pdf(html: str) -> bytes:
    """HTML to PDF with WeasyPrint (imported here: it loads pango, which only this needs)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def report_html(
    person: Any,
    docs: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    units: str,
    now: datetime,
    zone: Zone = UTC_ZONE,
) -> str:
    """The report's HTML: everything the PDF shows, from the pure metrics and the pages' charts.
    ``zone``: the person's, for when it was made (their days come from their data's offsets)."""
    readings = [r for r in readings_from_docs(docs) if start <= r.time < end]
    # the period in the person's calendar: the latest reading's offset (UTC without readings)
    offset = readings[-1].local - readings[-1].time.replace(tzinfo=None) if readings else timedelta(0)
    profile: dict[str, Any] = person.profile if isinstance(person.profile, dict) else {}
    found = profile.get("patient")
    patient: dict[str, Any] = found if isinstance(found, dict) else {}
    context: dict[str, Any] = {
        "name": _person_name(person),
        "birthday": patient.get("birthday"),
        "mrn": patient.get("mrn"),
        "first": (start + offset).date(),
        "last": (end - timedelta(microseconds=1) + offset).date(),
        "generated": in_zone(now, zone),
        "units": units,
    }
    covered = covered_ms(readings, start, end)
    context["enough"] = covered >= MIN_COVERED_MS
    context["days_with_data"] = len({r.local.date() for r in readings})
    calendar_days = (context["last"] - context["first"]).days + 1
    context["calendar_days"] = calendar_days
    if context["enough"]:
        view = overview(readings, start, end)
        context["ranges"] = [
            (name, RANGE_LABELS[name], f"{view.ranges[name] * 100:.0f}%", GOALS[name])
            for name in reversed(RANGES)
        ]
        context["tir_svg"] = charts.tir_bar_svg(view.ranges, units)
        context["agp_svg"] = charts.agp_chart_svg(agp(readings), unit=units)
        gmi = view.gmi if view.gmi is not None else None
        context["metrics"] = [
            ("Mean glucose", _glucose(view.mean_mg, units), "under 154 mg/dL (8.6 mmol/L)"),
            (
                "GMI",
                f"{gmi:.1f}%" if gmi is not None else "not enough data (needs 70% of 14 days)",
                "under 7%",
            ),
            (
                "Glucose variability (CV)",
                f"{view.cv:.1f}%" if view.cv is not None else "not enough data",
                "36% or less",
            ),
            ("Time CGM active", f"{view.sensor_use * 100:.1f}%", "70% or more"),
            (
                "Days worn",
                f"{context['days_with_data']} of {calendar_days}",
                "14 days recommended",
            ),
        ]
        last_day = max(r.local.date() for r in readings)
        days = [last_day - timedelta(days=n) for n in range(DAILY_DAYS - 1, -1, -1)]
        context["daily"] = [
            (day, mini_day_svg(day, [r for r in readings if r.local.date() == day])) for day in days
        ]
    return TEMPLATES.get_template("agp_report.html").render(context)


def report_pdf(conn: Connection, user_id: str, start: datetime, end: datetime, units: str) -> bytes:
    """The report of ``[start, end)`` read in ``conn`` (the caller has checked permissions): the hook
    ``Services.report_pdf`` that FHIR bundles use for their DiagnosticReport."""
    person = AccountService().get_user(conn, user_id)
    if person is None:
        raise LookupError("no such account")
    docs = _cgm(conn, user_id, start, end)
    return render_pdf(
        report_html(person, docs, start, end, units, datetime.now(UTC), person_zone(conn, user_id))
    )


def _cgm(conn: Connection, user_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The person's cbg of the window as ``GET /data`` serves them."""
    query = queries.DataQuery(user_id=user_id, types=["cbg"], start=to_micros(start), end=to_micros(end))
    plan = queries.prepare(conn, query)
    return [_doc(row.doc) for row in conn.execute(queries.device_data_query(conn, plan))]


@router.get(
    "/v1/reports/{userId}/agp.pdf",
    responses={
        200: {"description": "the one-page AGP report", "content": {"application/pdf": {}}},
        400: {"description": "a parameter that cannot be read"},
        401: {"description": "no valid credentials"},
        403: {"description": "no permission to view the data"},
    },
)
def agp_pdf(
    request: Request,
    userId: str,
    startDate: Text = None,
    endDate: Text = None,
    bgUnits: Text = None,
    restricted_token: Text = None,
) -> Response:
    """The AGP report of ``[startDate, endDate)`` (default: the 14 days before now; at most 90)."""
    services = get_services(request)
    caller = current_caller(request)
    units = bgUnits or "mg/dL"
    if units not in ("mg/dL", "mmol/L"):
        raise parameter_invalid("bgUnits", "bgUnits must be mg/dL or mmol/L")
    now = services.accounts.clock().astimezone(UTC)
    end = _instant("endDate", endDate) or now
    try:
        start = _instant("startDate", startDate) or end - timedelta(days=DEFAULT_DAYS)
    except OverflowError as error:
        raise parameter_invalid("endDate", "the period is out of range") from error
    if end <= start:
        raise parameter_invalid("endDate", "endDate must be after startDate")
    if end - start > timedelta(days=MAX_DAYS):
        raise parameter_invalid("startDate", f"a report covers at most {MAX_DAYS} days")
    with read_only(services.engine) as conn:
        require(request, conn, caller, userId, "root", "custodian", "view")
        person = services.accounts.get_user(conn, userId)
        docs = _cgm(conn, userId, start, end)
        zone = person_zone(conn, userId)
    if person is None:  # a service asking about an account that does not exist
        from inlet.api.errors import not_found

        raise not_found("user-not-found", "user", userId)
    pdf = render_pdf(report_html(person, docs, start, end, units, now, zone))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="agp-report.pdf"', "Cache-Control": "no-store"},
    )

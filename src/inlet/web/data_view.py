"""A person's data view: one day's chart, the 14-day overview and the AGP, for the owner and anyone the
platform's permissions let view the person's data (the check of ``GET /data/:userId``).

Days are local days of the data (``time + timezoneOffset``), as the person lived them. The default
day is the latest one with CGM data. Data is read through the read API's own query
(``inlet.data.queries``): active rows of the user's cbg, basal, bolus and food, with its cloud CGM
overlap rule, in a bounded window (the overview's 14 days plus a margin for time zones), so the page
costs the same however many years the person has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from inlet.accounts.deps import Caller, permissions_for
from inlet.accounts.settings import preferences_for_viewer
from inlet.data import queries
from inlet.db.engine import read_only
from inlet.model.timeutil import parse_rfc3339, to_micros
from inlet.reports.agp import agp
from inlet.reports.glucose import RANGES, Reading, readings_from_docs
from inlet.reports.summary import Overview, overview
from inlet.reports.units import MMOLL, Preferences
from inlet.web import charts
from inlet.web.pages import forbidden, message, render, to_login
from inlet.web.session import current_session, services_of

router = APIRouter()
OVERVIEW_DAYS = 14
ZONE_MARGIN = timedelta(hours=15)  # wider than any UTC offset (-12 h .. +14 h)
VIEW_PERMISSIONS = frozenset({"root", "custodian", "view"})
TYPES = ("cbg", "basal", "bolus", "food")
RANGE_LABELS = {
    "veryLow": "Very low (below 54 mg/dL)",
    "low": "Low (54 to 69 mg/dL)",
    "target": "In range (70 to 180 mg/dL)",
    "high": "High (181 to 250 mg/dL)",
    "veryHigh": "Very high (above 250 mg/dL)",
}
RANGE_LABELS_MMOL = {
    "veryLow": "Very low (below 3.0 mmol/L)",
    "low": "Low (3.0 to 3.8 mmol/L)",
    "target": "In range (3.9 to 10.0 mmol/L)",
    "high": "High (10.1 to 13.9 mmol/L)",
    "veryHigh": "Very high (above 13.9 mmol/L)",
}


def _doc(value: Any) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        loaded = orjson.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value) if isinstance(value, Mapping) else {}


def local_time(doc: Mapping[str, Any]) -> datetime | None:
    """A datum's local wall clock (naive): ``time + timezoneOffset`` (UTC when it has no offset)."""
    text = doc.get("time")
    parsed = parse_rfc3339(text) if isinstance(text, str) else None
    if parsed is None:
        return None
    offset = doc.get("timezoneOffset")
    minutes = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
    return (parsed.astimezone(UTC) + timedelta(minutes=minutes)).replace(tzinfo=None)


def _plan(conn: Connection, user_id: str, types: list[str], **fields: Any) -> queries.ReadPlan:
    """A read of ``GET /data/:userId`` (its cloud CGM overlap and Medtronic rules included)."""
    return queries.prepare(conn, queries.DataQuery(user_id=user_id, types=types, **fields))


def latest_cbg(conn: Connection, user_id: str) -> dict[str, Any] | None:
    rows = queries.latest_rows(conn, _plan(conn, user_id, ["cbg"], latest=True))
    return _doc(rows[-1][1]) if rows else None


def load_docs(conn: Connection, user_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The user's cbg, basal, bolus and food with ``start <= time <= end`` as the read API serves them
    (active, current versions), in time order."""
    plan = _plan(conn, user_id, list(TYPES), start=to_micros(start), end=to_micros(end))
    return [_doc(row.doc) for row in conn.execute(queries.device_data_query(conn, plan))]


def _on_day(doc: Mapping[str, Any], day_start: datetime, day_end: datetime) -> bool:
    """Whether a datum belongs on the local day's chart (a basal when any of it runs that day)."""
    local = local_time(doc)
    if local is None:
        return False
    if doc.get("type") == "basal":
        duration = doc.get("duration")
        span = timedelta(milliseconds=duration) if isinstance(duration, int | float) else timedelta(0)
        return local < day_end and local + span > day_start
    return day_start <= local < day_end


@dataclass
class DayData:
    readings: list[Reading]
    basal: list[dict[str, Any]]
    bolus: list[dict[str, Any]]
    food: list[dict[str, Any]]


def day_data(docs: Iterable[dict[str, Any]], readings: list[Reading], day: date) -> DayData:
    start = datetime.combine(day, time())
    end = start + timedelta(days=1)
    picked: dict[str, list[dict[str, Any]]] = {"basal": [], "bolus": [], "food": []}
    for doc in docs:
        kind = doc.get("type")
        if kind in picked and _on_day(doc, start, end):
            picked[kind].append(doc)
    return DayData(
        [r for r in readings if start <= r.local < end], picked["basal"], picked["bolus"], picked["food"]
    )


def percent(value: float | None, digits: int = 0) -> str:
    return "not enough data" if value is None else f"{value * 100:.{digits}f}%"


def _offset_minutes(doc: Mapping[str, Any] | None) -> int:
    offset = doc.get("timezoneOffset") if doc else None
    return offset if isinstance(offset, int) and not isinstance(offset, bool) else 0


def _person_name(user: Any) -> str:
    profile = user.profile if isinstance(user.profile, dict) else {}
    name = profile.get("fullName")
    if not name and isinstance(profile.get("patient"), dict):
        name = profile["patient"].get("fullName")
    return str(name or user.username or "this person")


@router.get("/data/view/{user_id}")
def data_view(request: Request, user_id: str) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    services = services_of(request)
    caller = Caller("user", user_id=session.user_id)
    with read_only(services.engine) as conn:
        if not permissions_for(request, conn, caller, user_id) & VIEW_PERMISSIONS:
            return forbidden(
                request,
                session,
                "You do not have permission to see this person's data. They can share it with you, or "
                "with a clinic you work in.",
            )
        person = services.accounts.get_user(conn, user_id)
        if person is None:
            return message(request, session, 404, "No such person", "There is no account with this id.")
        # The person's unit and target; a clinician of their clinic sees the clinic's unit.
        prefs = preferences_for_viewer(conn, user_id, session.user_id)
        latest = latest_cbg(conn, user_id)
        requested = request.query_params.get("day")
        latest_local = local_time(latest) if latest else None
        latest_day = latest_local.date() if latest_local else None
        if requested:
            try:
                day = date.fromisoformat(requested)
            except ValueError:
                return message(
                    request,
                    session,
                    400,
                    "Not a date",
                    "The day must be a date written as year-month-day, such as 2026-03-20.",
                )
        elif latest_day is not None:
            day = latest_day
        else:
            day = None
        context: dict[str, Any] = {"person": person, "person_name": _person_name(person), "day": day}
        context["prefs"] = prefs
        context["latest_day"] = latest_day
        context["is_owner"] = user_id == session.user_id
        if day is None:
            return render(request, "data_view.html", session, {**context, "has_data": False})
        # The overview's 14 local days end with the chosen day; the latest reading's offset places
        # them in UTC (an overview spans one zone in practice).
        offset = timedelta(minutes=_offset_minutes(latest))
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) - offset
        start = end - timedelta(days=OVERVIEW_DAYS)
        docs = load_docs(conn, user_id, start - ZONE_MARGIN, end + ZONE_MARGIN)
    readings = readings_from_docs(docs)
    period = [r for r in readings if start <= r.time < end]
    summary: Overview = overview(period, start, end)
    today = day_data(docs, readings, day)
    labels = RANGE_LABELS_MMOL if prefs.unit == MMOLL else RANGE_LABELS
    context.update(
        has_data=True,
        summary=summary,
        range_rows=[(name, labels[name], percent(summary.ranges.get(name, 0.0))) for name in RANGES],
        percent=percent,
        today=today,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        period_first=(start + offset).date(),
        period_last=day,
        charts=_charts(day, today, summary, period, prefs),
    )
    return render(request, "data_view.html", session, context)


def _charts(
    day: date, today: DayData, summary: Overview, period: list[Reading], prefs: Preferences
) -> dict[str, str]:
    """The three SVG charts (server-side markup from :mod:`inlet.web.charts`), in the person's unit
    with their target range."""
    low, high, unit = prefs.low_mg, prefs.high_mg, prefs.unit
    daily = charts.daily_chart_svg(
        datetime.combine(day, time()),
        today.readings,
        today.basal,
        today.bolus,
        today.food,
        low_mg=low,
        high_mg=high,
        unit=unit,
    )
    return {
        "daily": daily,
        "tir": charts.tir_bar_svg(summary.ranges, unit),
        "agp": charts.agp_chart_svg(agp(period), low_mg=low, high_mg=high, unit=unit),
    }

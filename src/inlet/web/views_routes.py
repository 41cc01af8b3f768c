"""Tidepool Web's other views of a person's data, server-rendered from the pure functions in
``inlet.reports``: Basics (``/data/view/<id>/basics``), Trends (``.../trends``), BG Log
(``.../bglog``) and Device settings (``.../device-settings``).

Who may see them is the data view's rule (the read API's permission check); values are in the
viewer's unit for this person (``inlet.accounts.settings.preferences_for_viewer``). Each view reads
a bounded window (at most 28 days plus a margin for time zones; device settings: a year), through
the read API's own query, so it costs the same however many years the person has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from inlet.accounts.deps import Caller, permissions_for
from inlet.accounts.settings import preferences_for_viewer
from inlet.data import queries
from inlet.db.engine import read_only
from inlet.model.timeutil import to_micros
from inlet.reports import calendars as cal
from inlet.reports import insulin as ins
from inlet.reports import trends as tr
from inlet.reports.bglog import LOG_DAYS, bg_log
from inlet.reports.device_settings import clock, history
from inlet.reports.glucose import RANGES, classify, readings_from_docs
from inlet.reports.summary import overview
from inlet.reports.units import Preferences
from inlet.web import view_charts
from inlet.web.data_view import RANGE_LABELS, RANGE_LABELS_MMOL, VIEW_PERMISSIONS, _doc, _person_name, percent
from inlet.web.pages import forbidden, message, render, to_login
from inlet.web.session import WebSession, current_session, services_of

router = APIRouter()
BASICS_DAYS = 14
ZONE_MARGIN = timedelta(hours=15)
BASICS_TYPES = ("cbg", "smbg", "basal", "bolus", "wizard", "food", "insulin", "deviceEvent")
LATEST_TYPES = ("cbg", "smbg", "basal", "bolus")
SETTINGS_DAYS = 365
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Viewed:
    session: WebSession
    person: Any
    prefs: Preferences
    is_owner: bool


def _viewed(request: Request, conn: Connection, user_id: str) -> Viewed | Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    caller = Caller("user", user_id=session.user_id)
    if not permissions_for(request, conn, caller, user_id) & VIEW_PERMISSIONS:
        return forbidden(
            request,
            session,
            "You do not have permission to see this person's data. They can share it with you, or "
            "with a clinic you work in.",
        )
    person = services_of(request).accounts.get_user(conn, user_id)
    if person is None:
        return message(request, session, 404, "No such person", "There is no account with this id.")
    return Viewed(
        session, person, preferences_for_viewer(conn, user_id, session.user_id), user_id == session.user_id
    )


def _docs(
    conn: Connection, user_id: str, types: tuple[str, ...], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    plan = queries.prepare(
        conn,
        queries.DataQuery(user_id=user_id, types=list(types), start=to_micros(start), end=to_micros(end)),
    )
    return [_doc(row.doc) for row in conn.execute(queries.device_data_query(conn, plan))]


def _latest_day(conn: Connection, user_id: str, types: tuple[str, ...]) -> date | None:
    plan = queries.prepare(conn, queries.DataQuery(user_id=user_id, types=list(types), latest=True))
    days = [ins.local_day(_doc(row[1])) for row in queries.latest_rows(conn, plan)]
    found = [d for d in days if d is not None]
    return max(found) if found else None


def _window(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC bounds wide enough for every datum whose local day is in ``[first, last]``."""
    start = datetime.combine(first, time(), tzinfo=UTC) - ZONE_MARGIN
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC) + ZONE_MARGIN
    return start, end


def _chosen_day(request: Request, latest: date | None) -> date | str | None:
    text = request.query_params.get("day")
    if not text:
        return latest
    try:
        return date.fromisoformat(text)
    except ValueError:
        return "bad"


def _bad_day(request: Request, session: WebSession) -> Response:
    return message(
        request,
        session,
        400,
        "Not a date",
        "The day must be a date written as year-month-day, such as 2026-03-20.",
    )


def _context(viewed: Viewed, view: str, **more: Any) -> dict[str, Any]:
    return {
        "person": viewed.person,
        "person_name": _person_name(viewed.person),
        "is_owner": viewed.is_owner,
        "prefs": viewed.prefs,
        "view": view,
        "percent": percent,
        **more,
    }


# ---- Basics -----------------------------------------------------------------------------------------


@router.get("/data/view/{user_id}/basics")
def basics(request: Request, user_id: str) -> Response:
    services = services_of(request)
    with read_only(services.engine) as conn:
        viewed = _viewed(request, conn, user_id)
        if isinstance(viewed, Response):
            return viewed
        last = _chosen_day(request, _latest_day(conn, user_id, LATEST_TYPES))
        if last == "bad":
            return _bad_day(request, viewed.session)
        if not isinstance(last, date):
            return render(request, "basics.html", viewed.session, _context(viewed, "basics", has_data=False))
        first = last - timedelta(days=BASICS_DAYS - 1)
        docs = _docs(conn, user_id, BASICS_TYPES, *_window(first, last))
    prefs = viewed.prefs
    readings = [r for r in readings_from_docs(docs) if first <= r.local.date() <= last]
    meter = [(wall, mg) for wall, mg in tr.meter_readings(docs) if first <= wall.date() <= last]
    glucose: dict[str, Any]
    labels = RANGE_LABELS_MMOL if prefs.unit == "mmol/L" else RANGE_LABELS
    if readings:
        # The 14 local days in UTC, placed by the latest reading's offset (as the data view does).
        offset = readings[-1].local - readings[-1].time.replace(tzinfo=None)
        day_start = datetime.combine(first, time(), tzinfo=UTC) - offset
        summary = overview(readings, day_start, day_start + timedelta(days=BASICS_DAYS))
        glucose = {
            "source": "cgm",
            "ranges": [(n, labels[n], percent(summary.ranges.get(n, 0.0))) for n in RANGES],
            "mean": prefs.show(summary.mean_mg, with_unit=True) if summary.mean_mg is not None else None,
            "sd": prefs.show(summary.sd_mg, with_unit=True) if summary.sd_mg is not None else None,
            "cv": summary.cv,
            "gmi": summary.gmi,
            "sensor_use": percent(summary.sensor_use),
        }
    elif meter:
        counts = dict.fromkeys(RANGES, 0)
        for _, mg in meter:
            counts[classify(mg)] += 1
        mean = sum(mg for _, mg in meter) / len(meter)
        glucose = {
            "source": "bgm",
            "ranges": [(n, labels[n], percent(counts[n] / len(meter))) for n in RANGES],
            "mean": prefs.show(mean, with_unit=True),
            "readings": len(meter),
            "per_day": f"{len(meter) / BASICS_DAYS:.1f}",
        }
    else:
        glucose = {"source": None}
    insulin = ins.summarize(ins.by_day(docs, first, last))
    calendar = cal.calendars(docs, first, last, prefs.site_change_source)
    context = _context(
        viewed,
        "basics",
        has_data=True,
        first=first,
        last=last,
        glucose=glucose,
        insulin=insulin,
        calendar=calendar,
        weeks=_weeks(calendar.days),
        bolus_kinds=cal.BOLUS_KINDS,
    )
    return render(request, "basics.html", viewed.session, context)


def _weeks(cells: list[cal.DayCell]) -> list[list[cal.DayCell | None]]:
    """Calendar rows Monday to Sunday, padded with None before the first and after the last day."""
    if not cells:
        return []
    padded: list[cal.DayCell | None] = [None] * cells[0].day.weekday() + list(cells)
    padded += [None] * (-len(padded) % 7)
    return [padded[i : i + 7] for i in range(0, len(padded), 7)]


# ---- Trends -----------------------------------------------------------------------------------------


@router.get("/data/view/{user_id}/trends")
def trends(request: Request, user_id: str) -> Response:
    params = request.query_params
    weeks_text = params.get("weeks", "2")
    weeks = int(weeks_text) if weeks_text in ("1", "2", "4") else 2
    chosen_days = {int(d) for d in params.getlist("weekday") if d in {str(i) for i in range(7)}}
    weekdays = chosen_days or set(range(7))
    toggles = (
        set(params.getlist("show")) & set(view_charts.TOGGLES)
        if "shown" in params
        else set(view_charts.TOGGLES)
    )
    services = services_of(request)
    with read_only(services.engine) as conn:
        viewed = _viewed(request, conn, user_id)
        if isinstance(viewed, Response):
            return viewed
        last = _chosen_day(request, _latest_day(conn, user_id, ("cbg", "smbg")))
        if last == "bad":
            return _bad_day(request, viewed.session)
        if not isinstance(last, date):
            return render(request, "trends.html", viewed.session, _context(viewed, "trends", has_data=False))
        first, last = tr.period(last, weeks)
        docs = _docs(conn, user_id, ("cbg", "smbg"), *_window(first, last))
    readings = readings_from_docs(docs)
    cgm = tr.cgm_bins(readings, first, last, weekdays)
    bgm = tr.bgm_bins(docs, first, last, weekdays)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    prefs = viewed.prefs
    context = _context(
        viewed,
        "trends",
        has_data=True,
        first=first,
        last=last,
        weeks=weeks,
        weekdays=weekdays,
        weekday_names=WEEKDAYS,
        toggles=toggles,
        cgm=[b for b in cgm if b.n],
        bgm=[b for b in bgm if b.n],
        cgm_svg=view_charts.trends_cgm_svg(cgm, prefs, toggles, len(days)),
        bgm_svg=view_charts.trends_bgm_svg(bgm, prefs, len(days)) if any(b.n for b in bgm) else None,
        days=[d for d in days if d.weekday() in weekdays],
        clock=lambda minute: f"{minute // 60:02d}:{minute % 60:02d}",
    )
    return render(request, "trends.html", viewed.session, context)


# ---- BG Log -----------------------------------------------------------------------------------------


@router.get("/data/view/{user_id}/bglog")
def bglog(request: Request, user_id: str) -> Response:
    services = services_of(request)
    with read_only(services.engine) as conn:
        viewed = _viewed(request, conn, user_id)
        if isinstance(viewed, Response):
            return viewed
        last = _chosen_day(request, _latest_day(conn, user_id, ("smbg",)))
        if last == "bad":
            return _bad_day(request, viewed.session)
        if not isinstance(last, date):
            return render(request, "bglog.html", viewed.session, _context(viewed, "bglog", has_data=False))
        first = last - timedelta(days=LOG_DAYS - 1)
        docs = _docs(conn, user_id, ("smbg",), *_window(first, last))
    rows = bg_log(docs, last)
    context = _context(viewed, "bglog", has_data=True, rows=rows, first=first, last=last)
    return render(request, "bglog.html", viewed.session, context)


# ---- Device settings -------------------------------------------------------------------------------


@router.get("/data/view/{user_id}/device-settings")
def device_settings(request: Request, user_id: str) -> Response:
    services = services_of(request)
    with read_only(services.engine) as conn:
        viewed = _viewed(request, conn, user_id)
        if isinstance(viewed, Response):
            return viewed
        last = _latest_day(conn, user_id, ("pumpSettings",))
        if last is None:
            return render(
                request, "device_settings.html", viewed.session, _context(viewed, "settings", has_data=False)
            )
        first = last - timedelta(days=SETTINGS_DAYS)
        docs = _docs(conn, user_id, ("pumpSettings",), *_window(first, last))
    today = datetime.now(UTC).date()
    devices = history(docs, today=max(today, last))
    context = _context(viewed, "settings", has_data=bool(devices), devices=devices, clock=clock)
    return render(request, "device_settings.html", viewed.session, context)

"""The TIDE report (Time in Ranges Dashboard): a clinic's tagged patients sorted into risk categories
on the chosen period's CGM summary, as Tidepool's clinic service does.

Rules (``config.filters``), each on the period: very low > 1 %, any low > 4 %, very high > 5 %, any
high > 25 %, a drop in time in target of more than 15 points against the previous period, CGM use
< 70 %, and "meeting targets" (TIR >= 70 %, CGM use >= 70 % and none of any low > 4 %, very low > 1 %,
any high > 25 %, very high > 5 %, extreme high >= 1 %); ``timeInTargetPercent`` (< 70 %) and
``timeInExtremeHighPercent`` (>= 1 %) on request. A patient is listed in the first category it
matches (in the requested order), worst first within it; at most 100 patients in all, plus up to 50
tagged patients without CGM data in the period (``noData``: no summary, or last data before the
cutoff).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, exists, select

from inlet.accounts import clinics as c
from inlet.db.schema import SUMMARY_FIELDS, clinic_patient_tags, clinic_patients, summary_periods
from inlet.model.timeutil import format_utc, from_micros
from inlet.summaries.patients import INTEGER_FIELDS, page_reviews

SP = summary_periods.alias("sp")
LIMIT = 100
NO_DATA_LIMIT = 50
SCHEMA_VERSION = 1
Row = dict[str, Any]


def _v(row: Row, name: str) -> float | None:
    value = row.get(name)
    return float(value) if value is not None else None


def _gt(name: str, limit: float) -> Callable[[Row], bool]:
    return lambda row: (x := _v(row, name)) is not None and x > limit


def _meeting(row: Row) -> bool:
    tir, use = _v(row, "timeInTargetPercent"), _v(row, "timeCGMUsePercent")
    if tir is None or use is None or tir < 0.7 or use < 0.7:
        return False
    misses = (
        ("timeInAnyLowPercent", 0.04),
        ("timeInVeryLowPercent", 0.01),
        ("timeInAnyHighPercent", 0.25),
        ("timeInVeryHighPercent", 0.05),
    )
    if any((x := _v(row, name)) is not None and x > limit for name, limit in misses):
        return False
    extreme = _v(row, "timeInExtremeHighPercent")
    return not (extreme is not None and extreme >= 0.01)


def _lt(name: str, limit: float) -> Callable[[Row], bool]:
    return lambda row: (x := _v(row, name)) is not None and x < limit


# category -> (rule, the field it is sorted by, worst first descending?, config filter)
CATEGORIES: dict[str, tuple[Callable[[Row], bool], str, bool, str]] = {
    "timeInVeryLowPercent": (_gt("timeInVeryLowPercent", 0.01), "timeInVeryLowPercent", True, ">0.01"),
    "timeInAnyLowPercent": (_gt("timeInAnyLowPercent", 0.04), "timeInAnyLowPercent", True, ">0.04"),
    "dropInTimeInTargetPercent": (
        _lt("timeInTargetPercentDelta", -0.15),
        "timeInTargetPercentDelta",
        False,
        "<-0.15",
    ),
    "timeCGMUsePercent": (_lt("timeCGMUsePercent", 0.7), "timeCGMUsePercent", False, "<0.7"),
    "timeInTargetPercent": (_lt("timeInTargetPercent", 0.7), "timeInTargetPercent", False, "<0.7"),
    "meetingTargets": (_meeting, "timeInTargetPercent", True, ""),
    "timeInExtremeHighPercent": (
        lambda row: (x := _v(row, "timeInExtremeHighPercent")) is not None and x >= 0.01,
        "timeInExtremeHighPercent",
        True,
        ">=0.01",
    ),
    "timeInVeryHighPercent": (_gt("timeInVeryHighPercent", 0.05), "timeInVeryHighPercent", True, ">0.05"),
    "timeInAnyHighPercent": (_gt("timeInAnyHighPercent", 0.25), "timeInAnyHighPercent", True, ">0.25"),
}
DEFAULT_ORDER = (
    "timeInVeryLowPercent",
    "timeInAnyLowPercent",
    "timeInVeryHighPercent",
    "timeInAnyHighPercent",
    "dropInTimeInTargetPercent",
    "timeCGMUsePercent",
    "meetingTargets",
)
THRESHOLDS = {
    "veryLowGlucoseThreshold": 3.0,
    "lowGlucoseThreshold": 3.9,
    "highGlucoseThreshold": 10.0,
    "veryHighGlucoseThreshold": 13.9,
    "extremeHighGlucoseThreshold": 19.4,
}


def _patient(patient: c.Patient, reviews: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": patient.user_id}
    for key in ("fullName", "email", "birthDate", "mrn"):
        if patient.doc.get(key) is not None:
            body[key] = patient.doc[key]
    body["tags"] = list(patient.doc.get("tags") or [])
    body["reviews"] = reviews
    return body


def tide_report(
    conn: Connection,
    clinic_id: str,
    *,
    period: str,
    tags: Sequence[str],
    cutoff: int,
    categories: Sequence[str] = DEFAULT_ORDER,
    exclude_no_data: bool = False,
) -> dict[str, Any]:
    cp, pt = clinic_patients.c, clinic_patient_tags.c
    sp = SP
    conditions = [cp.clinic_id == clinic_id]
    for tag in tags:
        conditions.append(
            exists().where(pt.clinic_id == cp.clinic_id, pt.user_id == cp.user_id, pt.tag_id == tag)
        )
    rows = conn.execute(
        select(
            clinic_patients, *(sp.c[f] for f in SUMMARY_FIELDS), sp.c.timeInTargetPercentDelta, sp.c.last_data
        )
        .select_from(
            clinic_patients.outerjoin(
                sp, and_(sp.c.user_id == cp.user_id, sp.c.type == "cgm", sp.c.period == period)
            )
        )
        .where(and_(*conditions))
        .order_by(cp.created_time, cp.user_id)
    ).all()
    with_data: list[tuple[c.Patient, Row]] = []
    no_data: list[c.Patient] = []
    for row in rows:
        patient = c.Patient.from_row(row)
        m = row._mapping
        if m["last_data"] is None or m["last_data"] < cutoff:
            no_data.append(patient)
            continue
        values = {f: m[f] for f in SUMMARY_FIELDS}
        values["timeInTargetPercentDelta"] = m["timeInTargetPercentDelta"]
        values["lastData"] = m["last_data"]
        with_data.append((patient, values))
    placed: dict[str, list[tuple[c.Patient, Row]]] = {name: [] for name in categories}
    for patient, values in with_data:
        for name in categories:
            if CATEGORIES[name][0](values):
                placed[name].append((patient, values))
                break
    listed: list[tuple[str, c.Patient, Row]] = []
    for name in categories:
        _, key, descending, _filter = CATEGORIES[name]
        group = sorted(
            placed[name],
            key=lambda item: (
                item[1].get(key) is None,
                -(item[1].get(key) or 0) if descending else (item[1].get(key) or 0),
            ),
        )
        listed.extend((name, patient, values) for patient, values in group)
    listed = listed[:LIMIT]
    shown_no_data = [] if exclude_no_data else no_data[:NO_DATA_LIMIT]
    reviews = page_reviews(
        conn, clinic_id, [p.user_id for _, p, _ in listed] + [p.user_id for p in shown_no_data]
    )
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in categories}
    for name, patient, values in listed:
        entry: dict[str, Any] = {"patient": _patient(patient, reviews.get(patient.user_id, []))}
        for field, value in values.items():
            if value is None:
                continue
            if field == "lastData":
                entry["lastData"] = format_utc(from_micros(int(value)))
            else:
                entry[field] = int(value) if field in INTEGER_FIELDS else value
        results[name].append(entry)
    results["noData"] = [{"patient": _patient(p, reviews.get(p.user_id, []))} for p in shown_no_data]
    return {
        "config": {
            "schemaVersion": SCHEMA_VERSION,
            "clinicId": clinic_id,
            "period": period,
            "lastDataCutoff": format_utc(from_micros(cutoff)),
            **THRESHOLDS,
            "tags": list(tags),
            "filters": {name: CATEGORIES[name][3] for name in categories if CATEGORIES[name][3]},
        },
        "results": results,
    }

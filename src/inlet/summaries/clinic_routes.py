"""The clinic's population endpoints: the patient list with summaries, patient tags, reviews and the
TIDE report (tidepool-org/clinic's names and shapes). Clinicians of the clinic and services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from inlet.accounts import clinics as c
from inlet.accounts import validate as v
from inlet.accounts.deps import CallerDep, clinic_access, clinic_patient
from inlet.api.body import openapi_json_body
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import PlatformError, json_response, not_found, parameter_invalid
from inlet.model.timeutil import parse_rfc3339, to_micros
from inlet.summaries import compute as k
from inlet.summaries import patients as p
from inlet.summaries import tide

router = APIRouter(tags=["clinics"])

OptionalBody = Annotated[Any, Depends(v.optional_json)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]
TAG_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 64}},
    "required": ["name"],
}


def _micros(text: str) -> int | None:
    parsed = parse_rfc3339(text)
    return to_micros(parsed) if parsed is not None else None


def _text(value: str | None, name: str) -> str | None:
    if value is not None and "\x00" in value:
        raise parameter_invalid(name, f"{name} contains a NUL character")
    return value


def _period(value: str | None, default: str | None = "14d") -> str:
    period = value or default
    if period not in k.PERIODS:
        raise parameter_invalid("period", f"period must be one of {list(k.PERIODS)}")
    return period


def _tag_list(value: str | None) -> list[str]:
    return [t for t in (value or "").split(",") if t]


@router.get("/v1/clinics/{clinic_id}/patients")
def list_patients(
    clinic_id: str,
    request: Request,
    caller: CallerDep,
    conn: ReadConn,
    offset: Offset = 0,
    limit: Limit = 10,
    search: Annotated[str | None, Query(max_length=256)] = None,
    sort: Annotated[str | None, Query(max_length=64)] = None,
    sort_type: Annotated[str | None, Query(alias="sortType", max_length=8)] = None,
    period: Annotated[str | None, Query(max_length=8)] = None,
    tags: Annotated[str | None, Query(max_length=2048)] = None,
    last_reviewed: Annotated[str | None, Query(alias="lastReviewed", max_length=64)] = None,
) -> Response:
    """``{data: [patients], meta: {count}}``: the clinic's patients, each with ``summary: {cgmStats,
    bgmStats}`` (flat clinic names), ``tags``, ``reviews`` and ``lastReviewed``. Filters
    ``cgm.<field>=<op><number>`` / ``bgm.<field>=...`` and ``cgm.lastDataFrom``/``To``; ``sort`` is
    ``+``/``-`` and a summary field (of ``sortType``'s ``period``), ``lastData``, ``lastReviewed`` or
    a patient field; ``tags`` (comma separated): the patient carries every one; ``lastReviewed``
    (RFC 3339): the patient's newest review is at or before it (never reviewed: left out). Each
    summary carries every period, as Tidepool's; ``period`` is the one filters and sorts read."""
    clinic = clinic_access(conn, caller, clinic_id)
    kind = sort_type or k.CGM
    if kind not in p.FIELDS:
        raise parameter_invalid("sortType", "sortType must be cgm or bgm")
    if sort is not None:
        name = sort[1:]
        fields = (*p.FIELDS[kind], "lastData", "lastReviewed", *p.PATIENT_SORTS)
        if sort[:1] not in "+-" or not sort[:1] or name not in fields:
            raise parameter_invalid("sort", "sort must be + or - followed by a patient or summary field")
    try:
        filters = p.parse_filters(dict(request.query_params), _micros)
    except p.BadParameter as bad:
        raise parameter_invalid(bad.name, bad.detail) from bad
    reviewed_by = None
    if last_reviewed is not None:
        reviewed_by = _micros(last_reviewed)
        if reviewed_by is None:
            raise parameter_invalid("lastReviewed", "lastReviewed must be an RFC 3339 time")
    query = p.PatientQuery(
        clinic_id=clinic.id,
        period=_period(period),
        sort_type=kind,
        sort=sort,
        search=_text(search, "search"),
        tags=_tag_list(_text(tags, "tags")),
        filters=filters,
        offset=offset,
        limit=limit,
        last_reviewed=reviewed_by,
    )
    page, count = p.list_patients(conn, query, raw=True)
    return json_response({"data": page, "meta": {"count": count}})


# ---- tags ---------------------------------------------------------------------------------------


def _clinic_with_tags(conn: Any, clinic: c.Clinic) -> Response:
    return json_response({**clinic.public(), "patientTags": c.list_tags(conn, clinic.id)})


def _tag_name(body: Any) -> str:
    return v.text(v.obj(body).get("name"), "/name", max_length=64).strip() or v.text("", "/name")


@router.post("/v1/clinics/{clinic_id}/patient_tags", openapi_extra=openapi_json_body(TAG_SCHEMA))
def create_tag(
    clinic_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """Add a patient tag ``{name}``; answers the clinic with its ``patientTags: [{id, name}]``. 409
    when the clinic has a tag of that name."""
    clinic = clinic_access(conn, caller, clinic_id)
    name = _tag_name(body)
    if c.find_tag_by_name(conn, clinic.id, name) is not None:
        raise PlatformError(
            409, "value-duplicate", "tag already exists", "tag already exists", pointer="/name"
        )
    c.create_tag(conn, services.accounts.now(), clinic.id, name)
    return _clinic_with_tags(conn, clinic)


@router.put("/v1/clinics/{clinic_id}/patient_tags/{tag_id}", openapi_extra=openapi_json_body(TAG_SCHEMA))
def rename_tag(
    clinic_id: str, tag_id: str, caller: CallerDep, conn: WriteConn, body: OptionalBody
) -> Response:
    clinic = clinic_access(conn, caller, clinic_id)
    name = _tag_name(body)
    other = c.find_tag_by_name(conn, clinic.id, name)
    if other is not None and other != tag_id:
        raise PlatformError(
            409, "value-duplicate", "tag already exists", "tag already exists", pointer="/name"
        )
    if not c.rename_tag(conn, clinic.id, tag_id, name):
        raise not_found("patient-tag-not-found", "patient tag", tag_id)
    return _clinic_with_tags(conn, clinic)


@router.delete("/v1/clinics/{clinic_id}/patient_tags/{tag_id}")
def delete_tag(
    clinic_id: str, tag_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Delete a tag; patients carrying it lose it."""
    clinic = clinic_access(conn, caller, clinic_id)
    if not c.delete_tag(conn, services.accounts.now(), clinic.id, tag_id):
        raise not_found("patient-tag-not-found", "patient tag", tag_id)
    return _clinic_with_tags(conn, clinic)


# ---- reviews ------------------------------------------------------------------------------------


@router.put("/v1/clinics/{clinic_id}/patients/{patient_id}/reviews")
def mark_reviewed(
    clinic_id: str, patient_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Record that the calling clinician reviewed the patient now; answers the patient's reviews
    ``[{clinicianId, time}]``, newest first."""
    clinic = clinic_access(conn, caller, clinic_id)
    patient = clinic_patient(conn, clinic, patient_id)
    c.add_review(conn, services.accounts.now(), patient, caller.user_id or "service")
    return json_response(c.reviews_of(conn, patient))


@router.delete("/v1/clinics/{clinic_id}/patients/{patient_id}/reviews")
def undo_review(clinic_id: str, patient_id: str, caller: CallerDep, conn: WriteConn) -> Response:
    """Undo the patient's newest review when the caller made it (a service undoes what it recorded
    as ``service``); answers the reviews left, newest first: 409 when another clinician made the
    newest, ``[]`` when there is none to undo."""
    clinic = clinic_access(conn, caller, clinic_id)
    patient = clinic_patient(conn, clinic, patient_id)
    if c.undo_review(conn, patient, caller.user_id or "service") is False:
        raise PlatformError(
            409,
            "review-not-owner",
            "cannot revert review from another clinician",
            "cannot revert review from another clinician",
        )
    return json_response(c.reviews_of(conn, patient))


# ---- TIDE ---------------------------------------------------------------------------------------


@router.get("/v1/clinics/{clinic_id}/tide_report")
def tide_report(
    clinic_id: str,
    caller: CallerDep,
    conn: ReadConn,
    period: Annotated[str | None, Query(max_length=8)] = None,
    tags: Annotated[str | None, Query(max_length=2048)] = None,
    last_data_cutoff: Annotated[str | None, Query(alias="lastDataCutoff", max_length=64)] = None,
    categories: Annotated[str | None, Query(max_length=1024)] = None,
    exclude_no_data: Annotated[bool, Query(alias="excludeNoData")] = False,
) -> Response:
    """The TIDE report of the clinic's patients carrying every tag in ``tags`` (required, with
    ``period`` and ``lastDataCutoff``)."""
    clinic = clinic_access(conn, caller, clinic_id)
    if period is None:
        raise parameter_invalid("period", "period is required")
    chosen = _period(period, None)
    wanted = _tag_list(_text(tags, "tags"))
    if not wanted:
        raise parameter_invalid("tags", "tags is required")
    if last_data_cutoff is None:
        raise parameter_invalid("lastDataCutoff", "lastDataCutoff is required")
    cutoff = _micros(last_data_cutoff)
    if cutoff is None:
        raise parameter_invalid("lastDataCutoff", "lastDataCutoff must be an RFC 3339 time")
    order = tuple(_tag_list(categories)) or tide.DEFAULT_ORDER
    for name in order:
        if name not in tide.CATEGORIES:
            raise parameter_invalid("categories", f"categories must be among {list(tide.CATEGORIES)}")
    report = tide.tide_report(
        conn,
        clinic.id,
        period=chosen,
        tags=wanted,
        cutoff=cutoff,
        categories=tuple(dict.fromkeys(order)),
        exclude_no_data=exclude_no_data,
    )
    return json_response(report)

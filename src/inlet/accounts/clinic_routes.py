"""Clinic endpoints (tidepool-org/clinic's API, the subset a clinician workflow needs).

Who may do what: any signed-in user may create a clinic and becomes its first ``CLINIC_ADMIN``;
clinicians of a clinic (any role) read it and work with its patients; admins change the clinic and
its clinicians; a patient (or the patient's custodian) shares the account with a clinic, changes
what it shares, and may leave; services may do everything. Statuses follow the platform client:
200 for creating clinics, clinicians and patients, 204 for removing a patient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from inlet.accounts import clinic_schemas as s
from inlet.accounts import clinics as c
from inlet.accounts import confirmations
from inlet.accounts import validate as v
from inlet.accounts.deps import (
    Caller,
    CallerDep,
    clinic_access,
    clinic_patient,
    permissions_for,
    require_account,
)
from inlet.accounts.service import User, UsernameTaken, is_user_id, normalize_username
from inlet.api.body import openapi_json_body
from inlet.api.deps import ReadConn, ServicesDep, WriteConn, get_services
from inlet.api.errors import (
    PlatformError,
    json_response,
    not_found,
    parameter_invalid,
    unauthenticated,
    unauthorized,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection


router = APIRouter(tags=["clinics"])

OptionalBody = Annotated[Any, Depends(v.optional_json)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]
SearchText = Annotated[str | None, Query(max_length=256)]

MAX_DEVICES = 20
MAX_TAGS = 50


# ---- who is asking ------------------------------------------------------------------------------


def _query_text(value: str | None, name: str) -> str | None:
    if value is not None and "\x00" in value:
        raise parameter_invalid(name, f"{name} contains a NUL character")
    return value


def _duplicate(what: str, pointer: str | None = None) -> PlatformError:
    return PlatformError(
        409, "value-duplicate", f"{what} already exists", f"{what} already exists", pointer=pointer
    )


def _user_email(user: User) -> str | None:
    return user.emails[0] if user.emails else user.username


def _full_name(user: User) -> str | None:
    name = (user.profile or {}).get("fullName")
    return name if isinstance(name, str) and name.strip() else None


# ---- clinics ------------------------------------------------------------------------------------


def _clinic_fields(body: dict[str, Any], *, creating: bool) -> tuple[str | None, dict[str, Any]]:
    """The clinic's name and other fields from a request; read-only and unknown fields are ignored
    (clients send back whole clinic objects)."""
    name = v.text(body.get("name"), "/name") if creating or body.get("name") is not None else None
    fields: dict[str, Any] = {}
    for key in c.CLINIC_FIELDS:
        if key not in body:
            continue
        value = body[key]
        if value is None:
            fields[key] = None
        elif key in s.TEXT_FIELDS:
            fields[key] = v.text(value, f"/{key}")
        elif key == "phoneNumbers":
            numbers = []
            for i, item in enumerate(v.array(value, "/phoneNumbers", min_items=1, max_items=20)):
                phone = v.obj(item, f"/phoneNumbers/{i}")
                entry = {"number": v.text(phone.get("number"), f"/phoneNumbers/{i}/number", max_length=64)}
                kind = v.opt_text(phone, "type", f"/phoneNumbers/{i}", max_length=64)
                if kind is not None:
                    entry = {"type": kind, **entry}
                numbers.append(entry)
            fields[key] = numbers
        else:
            allowed = {
                "clinicType": s.CLINIC_TYPES,
                "clinicSize": s.CLINIC_SIZES,
                "preferredBgUnits": s.BG_UNITS,
            }[key]
            fields[key] = v.one_of(value, allowed, f"/{key}")
    if creating:
        fields = {k: value for k, value in fields.items() if value is not None}
    return name, fields


@router.post("/v1/clinics", openapi_extra=openapi_json_body({**s.CLINIC_SCHEMA, "required": ["name"]}))
def create_clinic(caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody) -> Response:
    """Create a clinic; the caller becomes its first ``CLINIC_ADMIN``. 200 with the clinic."""
    if caller.is_anonymous:
        raise unauthenticated()
    creator = services.accounts.get_user(conn, caller.user_id) if caller.user_id else None
    if creator is None and not caller.is_service:
        raise unauthenticated()
    name, fields = _clinic_fields(v.obj(body), creating=True)
    assert name is not None
    now = services.accounts.now()
    clinic = c.create_clinic(conn, now, name, fields)
    if creator is not None:
        c.add_clinician(
            conn,
            now,
            clinic.id,
            creator.id,
            email=_user_email(creator),
            name=_full_name(creator),
            roles=[c.CLINIC_ADMIN],
        )
    return json_response({**clinic.public(), "patientTags": []})


@router.get("/v1/clinics")
def list_clinics(
    caller: CallerDep,
    conn: ReadConn,
    offset: Offset = 0,
    limit: Limit = 10,
    share_code: Annotated[str | None, Query(alias="shareCode", max_length=14)] = None,
) -> Response:
    """Clinics: a service sees all; a user the clinics it belongs to, or with ``shareCode`` the clinic
    that code names (how a patient finds a clinic to share with)."""
    if caller.is_anonymous:
        raise unauthenticated()
    code = _query_text(share_code, "shareCode")
    member = None if caller.is_service or code is not None else caller.user_id
    found = c.list_clinics(conn, member=member, share_code=code, offset=offset, limit=limit)
    return json_response([clinic.public() for clinic in found])


@router.get("/v1/clinics/{clinic_id}")
def get_clinic(clinic_id: str, caller: CallerDep, conn: ReadConn) -> Response:
    clinic = clinic_access(conn, caller, clinic_id)
    return json_response({**clinic.public(), "patientTags": c.list_tags(conn, clinic.id)})


@router.put("/v1/clinics/{clinic_id}", openapi_extra=openapi_json_body(s.CLINIC_SCHEMA))
def update_clinic(
    clinic_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """Change a clinic (its admins, services). Fields sent replace the stored ones; null clears."""
    clinic = clinic_access(conn, caller, clinic_id, admin=True)
    name, fields = _clinic_fields(v.obj(body), creating=False)
    updated = c.update_clinic(conn, services.accounts.now(), clinic, name, fields)
    return json_response({**updated.public(), "patientTags": c.list_tags(conn, clinic.id)})


# ---- clinicians ---------------------------------------------------------------------------------


def _roles(value: Any, pointer: str) -> list[str]:
    items = v.array(value, pointer, min_items=1, max_items=len(c.CLINICIAN_ROLES))
    roles = list(dict.fromkeys(v.one_of(r, c.CLINICIAN_ROLES, f"{pointer}/{i}") for i, r in enumerate(items)))
    if c.CLINIC_ADMIN not in roles and c.CLINIC_MEMBER not in roles:
        raise v.invalid(
            "value-not-valid",
            "value is not valid",
            "roles must include CLINIC_ADMIN or CLINIC_MEMBER",
            pointer,
        )
    return roles


@router.get("/v1/clinics/{clinic_id}/clinicians")
def list_clinicians(
    clinic_id: str,
    caller: CallerDep,
    conn: ReadConn,
    offset: Offset = 0,
    limit: Limit = 10,
    search: SearchText = None,
    email: SearchText = None,
    role: SearchText = None,
) -> Response:
    clinic = clinic_access(conn, caller, clinic_id)
    found = c.list_clinicians(
        conn,
        clinic.id,
        search=_query_text(search, "search"),
        email=_query_text(email, "email"),
        role=role,
        offset=offset,
        limit=limit,
    )
    return json_response([clinician.public() for clinician in found])


@router.post(
    "/v1/clinics/{clinic_id}/clinicians",
    openapi_extra=openapi_json_body({**s.CLINICIAN_SCHEMA, "required": ["roles"]}),
)
def add_clinician(
    clinic_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """Add an existing user, by ``id`` or ``email``, as a clinician with ``roles`` (admins,
    services). 200 with the clinician; 409 if already one."""
    clinic = clinic_access(conn, caller, clinic_id, admin=True)
    details = v.obj(body)
    roles = _roles(details.get("roles"), "/roles")
    name = v.opt_text(details, "name")
    user: User | None
    if details.get("id") is not None:
        user_id = v.text(details["id"], "/id", max_length=64)
        user = services.accounts.get_user(conn, user_id) if is_user_id(user_id) else None
        missing = user_id
    elif details.get("email") is not None:
        email = v.text(details["email"], "/email", max_length=v.MAX_NAME)
        user = services.accounts.find_user(conn, email)
        missing = email
    else:
        raise v.invalid("value-not-exists", "value does not exist", "id or email is required", "/id")
    if user is None:
        raise not_found("user-not-found", "user", missing)
    if c.get_clinician(conn, clinic.id, user.id) is not None:
        raise _duplicate("clinician")
    clinician = c.add_clinician(
        conn,
        services.accounts.now(),
        clinic.id,
        user.id,
        email=_user_email(user),
        name=name or _full_name(user),
        roles=roles,
    )
    return json_response(clinician.public())


def _clinician(conn: Connection, clinic: c.Clinic, clinician_id: str) -> c.Clinician:
    found = c.get_clinician(conn, clinic.id, clinician_id)
    if found is None:
        raise not_found("clinician-not-found", "clinician", clinician_id)
    return found


@router.get("/v1/clinics/{clinic_id}/clinicians/{clinician_id}")
def get_clinician(clinic_id: str, clinician_id: str, caller: CallerDep, conn: ReadConn) -> Response:
    clinic = clinic_access(conn, caller, clinic_id)
    return json_response(_clinician(conn, clinic, clinician_id).public())


def _keeps_an_admin(conn: Connection, clinician: c.Clinician, new_roles: list[str] | None) -> None:
    demoted = new_roles is None or c.CLINIC_ADMIN not in new_roles
    if clinician.is_admin and demoted and c.admin_count(conn, clinician.clinic_id) <= 1:
        raise PlatformError(
            409,
            "clinic-admin-required",
            "a clinic needs an admin",
            "the clinic's last CLINIC_ADMIN cannot be removed or demoted",
        )


@router.put(
    "/v1/clinics/{clinic_id}/clinicians/{clinician_id}",
    openapi_extra=openapi_json_body(s.CLINICIAN_UPDATE_SCHEMA),
)
def update_clinician(
    clinic_id: str,
    clinician_id: str,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Change a clinician's roles or name (admins, services); a clinic keeps at least one admin."""
    clinic = clinic_access(conn, caller, clinic_id, admin=True)
    clinician = _clinician(conn, clinic, clinician_id)
    details = v.obj(body)
    roles = _roles(details["roles"], "/roles") if details.get("roles") is not None else None
    name = v.opt_text(details, "name")
    if roles is not None:
        _keeps_an_admin(conn, clinician, roles)
    updated = c.update_clinician(conn, services.accounts.now(), clinician, roles=roles, name=name)
    return json_response(updated.public())


@router.delete("/v1/clinics/{clinic_id}/clinicians/{clinician_id}")
def remove_clinician(clinic_id: str, clinician_id: str, caller: CallerDep, conn: WriteConn) -> Response:
    """Remove a clinician (admins, services, or the clinician leaving); 200. The last admin stays."""
    if caller.is_anonymous:
        raise unauthenticated()
    leaving = caller.user_id == clinician_id and not caller.is_service
    clinic = clinic_access(conn, caller, clinic_id, admin=not leaving)
    clinician = _clinician(conn, clinic, clinician_id)
    _keeps_an_admin(conn, clinician, None)
    c.remove_clinician(conn, clinician)
    return json_response({})


# ---- patients -----------------------------------------------------------------------------------


def _patient_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Patient fields from a request (``fullName`` and ``birthDate`` required when creating); null
    clears an optional field; read-only and unknown fields are ignored."""
    fields: dict[str, Any] = {}
    if creating or body.get("fullName") is not None:
        fields["fullName"] = v.text(body.get("fullName"), "/fullName")
    if creating or body.get("birthDate") is not None:
        fields["birthDate"] = v.calendar_date(body.get("birthDate"), "/birthDate")
    if body.get("email") is not None:
        fields["email"] = normalize_username(v.text(body["email"], "/email", max_length=v.MAX_NAME))
    if body.get("mrn") is not None:
        fields["mrn"] = v.text(body["mrn"], "/mrn", max_length=64)
    if body.get("targetDevices") is not None:
        fields["targetDevices"] = v.texts(
            body["targetDevices"], "/targetDevices", max_items=MAX_DEVICES, max_length=64
        )
    if body.get("tags") is not None:
        fields["tags"] = v.texts(body["tags"], "/tags", max_items=MAX_TAGS, max_length=24)
    for key in ("email", "mrn", "targetDevices"):
        if key in body and body[key] is None and not creating:
            fields[key] = None
    return fields


@router.post("/v1/clinics/{clinic_id}/patients", openapi_extra=openapi_json_body(s.NEW_PATIENT_SCHEMA))
def create_patient(
    clinic_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn, body: OptionalBody
) -> Response:
    """Create a custodial account for a patient (no password) in the clinic's care: the clinic gets
    custodian, view and upload. With an email address, a signup confirmation is recorded for the
    patient to claim the account. 200 with the patient; 409 if the address has an account."""
    clinic = clinic_access(conn, caller, clinic_id)
    fields = _patient_fields(v.obj(body), creating=True)
    tags = _clinic_tag_ids(conn, clinic, fields.pop("tags", None) or [])
    email = fields.get("email")
    accounts = services.accounts
    if email is not None and accounts.find_user(conn, email) is not None:
        raise _duplicate("user", "/email")
    patient_profile: dict[str, Any] = {
        "birthday": fields["birthDate"],
        **{k: fields[k] for k in ("mrn", "email", "targetDevices") if k in fields},
    }
    profile = {"fullName": fields["fullName"], "patient": patient_profile}
    try:
        user = accounts.create_user(
            conn,
            username=email,
            password=None,
            emails=[email] if email else [],
            custodial=True,
            profile=profile,
        )
    except UsernameTaken as taken:
        raise _duplicate("user", "/email") from taken
    now = accounts.now()
    patient = c.add_patient(conn, now, clinic.id, user.id, fields, dict(c.CUSTODIAL_PERMISSIONS))
    if tags:
        patient = c.set_patient_tags(conn, now, patient, tags)
    if email is not None:
        confirmations.request_signup(conn, now, user, creator_id=caller.user_id, clinic_id=clinic.id)
    return json_response(patient.public())


@router.get("/v1/clinics/{clinic_id}/patients/{patient_id}")
def get_patient(clinic_id: str, patient_id: str, caller: CallerDep, conn: ReadConn) -> Response:
    clinic = clinic_access(conn, caller, clinic_id)
    return json_response(clinic_patient(conn, clinic, patient_id).public())


def _patient_or_custodian(request: Request, conn: Connection, caller: Caller, patient_id: str) -> User:
    user, _ = require_account(request, conn, caller, patient_id, "custodian")
    return user


def _shared_permissions(value: Any, pointer: str) -> dict[str, Any]:
    return v.permissions(value, c.PATIENT_PERMISSIONS, pointer)


@router.post(
    "/v1/clinics/{clinic_id}/patients/{patient_id}", openapi_extra=openapi_json_body(s.SHARE_SCHEMA, False)
)
def share_with_clinic(
    clinic_id: str,
    patient_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """A patient (or the patient's custodian, or a service) shares an existing account with a clinic:
    ``{permissions: {view: {}, upload: {}, ...}}`` (default view). 200 with the patient record."""
    user = _patient_or_custodian(request, conn, caller, patient_id)
    details = v.obj(body)
    perms: dict[str, Any] = {"view": {}}
    if details.get("permissions") is not None:
        perms = _shared_permissions(details["permissions"], "/permissions")
        if not perms:
            raise v.invalid("value-empty", "value is empty", "value is empty", "/permissions")
    clinic = c.get_clinic(conn, clinic_id)
    if clinic is None:
        raise not_found("clinic-not-found", "clinic", clinic_id)
    if c.get_patient(conn, clinic.id, user.id) is not None:
        raise _duplicate("patient")
    fields: dict[str, Any] = {"fullName": _full_name(user) or _user_email(user) or user.id}
    birthday = ((user.profile or {}).get("patient") or {}).get("birthday")
    if isinstance(birthday, str) and birthday:
        fields["birthDate"] = birthday
    if user.emails:
        fields["email"] = user.emails[0]
    patient = c.add_patient(conn, services.accounts.now(), clinic.id, user.id, fields, perms)
    return json_response(patient.public())


@router.put(
    "/v1/clinics/{clinic_id}/patients/{patient_id}", openapi_extra=openapi_json_body(s.PATIENT_SCHEMA)
)
def update_patient(
    clinic_id: str,
    patient_id: str,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """Change the clinic's record of a patient (its clinicians, services); 200 with the patient."""
    clinic = clinic_access(conn, caller, clinic_id)
    patient = clinic_patient(conn, clinic, patient_id)
    fields = _patient_fields(v.obj(body), creating=False)
    tags = fields.pop("tags", None)
    doc = {k: value for k, value in {**patient.doc, **fields}.items() if value is not None}
    now = services.accounts.now()
    patient = c.update_patient(conn, now, patient, doc=doc)
    if tags is not None:
        patient = c.set_patient_tags(conn, now, patient, _clinic_tag_ids(conn, clinic, tags))
    return json_response(patient.public())


def _clinic_tag_ids(conn: Connection, clinic: c.Clinic, tags: list[str]) -> list[str]:
    """The tag ids as given, each one of the clinic's tags (a 400 names the first that is not)."""
    known = {tag["id"] for tag in c.list_tags(conn, clinic.id)}
    for i, tag in enumerate(tags):
        if tag not in known:
            raise v.invalid("value-not-exists", "value does not exist", "no such patient tag", f"/tags/{i}")
    return tags


@router.delete("/v1/clinics/{clinic_id}/patients/{patient_id}", status_code=204)
def remove_patient(
    clinic_id: str, patient_id: str, request: Request, caller: CallerDep, conn: WriteConn
) -> Response:
    """End a patient's sharing with the clinic (its admins, the patient or custodian, services): its
    clinicians lose access. 204."""
    if caller.is_anonymous:
        raise unauthenticated()
    if caller.is_service or "custodian" in _own_permissions(request, conn, caller, patient_id):
        clinic = c.get_clinic(conn, clinic_id)
        if clinic is None:
            raise not_found("clinic-not-found", "clinic", clinic_id)
    else:
        clinic = clinic_access(conn, caller, clinic_id, admin=True)
    c.remove_patient(conn, clinic_patient(conn, clinic, patient_id))
    return Response(status_code=204)


def _own_permissions(request: Request, conn: Connection, caller: Caller, patient_id: str) -> frozenset[str]:
    """The caller's permissions on the patient's account other than through clinics: the patient
    itself, or its custodian by a direct grant."""
    if caller.user_id == patient_id:
        return permissions_for(request, conn, caller, patient_id)
    if caller.user_id is None or not is_user_id(patient_id):
        return frozenset()
    direct = get_services(request).accounts.granted(conn, patient_id, caller.user_id)
    return frozenset(direct)


@router.put(
    "/v1/clinics/{clinic_id}/patients/{patient_id}/permissions",
    openapi_extra=openapi_json_body(s.PERMISSIONS_SCHEMA),
)
def update_patient_permissions(
    clinic_id: str,
    patient_id: str,
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    conn: WriteConn,
    body: OptionalBody,
) -> Response:
    """What a patient shares with a clinic (the patient or its custodian, services). ``{}`` ends the
    sharing and removes the patient from the clinic. 200 with the permissions now shared."""
    user = _patient_or_custodian(request, conn, caller, patient_id)
    perms = _shared_permissions(body, "")
    clinic = c.get_clinic(conn, clinic_id)
    if clinic is None:
        raise not_found("clinic-not-found", "clinic", clinic_id)
    patient = clinic_patient(conn, clinic, user.id)
    if not perms:
        c.remove_patient(conn, patient)
        return json_response({})
    updated = c.update_patient(conn, services.accounts.now(), patient, permissions=perms)
    return json_response(updated.permissions)


# ---- a user's clinics ---------------------------------------------------------------------------


@router.get("/v1/patients/{user_id}/clinics")
def clinics_of_patient(
    user_id: str, request: Request, caller: CallerDep, conn: ReadConn, offset: Offset = 0, limit: Limit = 10
) -> Response:
    """``[{patient, clinic}]``: the clinics a user shares with (the user, custodians, services)."""
    user, _ = require_account(request, conn, caller, user_id, "custodian")
    pairs = c.clinics_for_patient(conn, user.id, offset=offset, limit=limit)
    return json_response([{"patient": p.public(), "clinic": clinic.public()} for p, clinic in pairs])


@router.get("/v1/clinicians/{user_id}/clinics")
def clinics_of_clinician(
    user_id: str, caller: CallerDep, conn: ReadConn, offset: Offset = 0, limit: Limit = 10
) -> Response:
    """``[{clinician, clinic}]``: the clinics a user is a clinician of (the user, services)."""
    if caller.is_anonymous:
        raise unauthenticated()
    if not caller.is_service and caller.user_id != user_id:
        raise unauthorized()
    pairs = c.clinics_for_clinician(conn, user_id, offset=offset, limit=limit) if is_user_id(user_id) else []
    return json_response([{"clinician": m.public(), "clinic": clinic.public()} for m, clinic in pairs])

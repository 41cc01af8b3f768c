"""Clinics, their clinicians and their patients (the subset of tidepool-org/clinic a clinician
workflow needs), with Tidepool's field names.

A patient shares an account with a clinic by granting the clinic permissions (a custodial patient a
clinic creates grants it custodian, view and upload). Every clinician of the clinic then holds those
permissions: :func:`clinic_grants` is registered in ``Services.grant_hooks``, so every permission
check sees it. A clinician of another clinic, or a clinic the patient stopped sharing with, sees
nothing.

Functions take the caller's connection and never commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from inlet.accounts.service import is_user_id, timestamp
from inlet.db.schema import (
    clinic_patient_tags,
    clinic_patients,
    clinic_reviews,
    clinic_tags,
    clinicians,
    clinics,
)

CLINIC_ADMIN = "CLINIC_ADMIN"
CLINIC_MEMBER = "CLINIC_MEMBER"
CLINICIAN_ROLES = (CLINIC_ADMIN, CLINIC_MEMBER, "PRESCRIBER")
PATIENT_PERMISSIONS = ("custodian", "view", "note", "upload")
CUSTODIAL_PERMISSIONS: dict[str, dict[str, Any]] = {"custodian": {}, "view": {}, "upload": {}}
CLINIC_FIELDS = (
    "address",
    "city",
    "postalCode",
    "state",
    "country",
    "phoneNumbers",
    "clinicType",
    "clinicSize",
    "website",
    "email",
    "preferredBgUnits",
)
PATIENT_FIELDS = ("fullName", "birthDate", "email", "mrn", "targetDevices")
# Share codes: three groups of four, no look-alike characters (I/1, O/0), as tidepool-org/clinic.
SHARE_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_clinic_id() -> str:
    """24 lowercase hex digits (a Mongo ObjectId in Tidepool)."""
    return secrets.token_hex(12)


def is_clinic_id(value: str) -> bool:
    return len(value) == 24 and all(c in "0123456789abcdef" for c in value)


def new_share_code() -> str:
    chars = "".join(secrets.choice(SHARE_CODE_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


# ---- clinics --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Clinic:
    id: str
    name: str
    share_code: str
    doc: dict[str, Any]
    created_time: int
    updated_time: int

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "name": self.name, "shareCode": self.share_code}
        body.update(self.doc)
        body.setdefault("preferredBgUnits", "mg/dL")
        body.update(
            canMigrate=False,
            tier="tier0100",
            tierDescription="Free",
            createdTime=timestamp(self.created_time),
            updatedTime=timestamp(self.updated_time),
        )
        return body

    @classmethod
    def from_row(cls, row: Any) -> Clinic:
        m = row._mapping
        return cls(m["id"], m["name"], m["share_code"], dict(m["doc"]), m["created_time"], m["updated_time"])


def create_clinic(conn: Connection, now: int, name: str, fields: dict[str, Any]) -> Clinic:
    for _ in range(8):
        code = new_share_code()
        if conn.execute(select(clinics.c.id).where(clinics.c.share_code == code)).first() is None:
            break
    clinic = Clinic(new_clinic_id(), name, code, fields, now, now)
    conn.execute(
        insert(clinics).values(
            id=clinic.id, name=name, share_code=code, doc=fields, created_time=now, updated_time=now
        )
    )
    return clinic


def get_clinic(conn: Connection, clinic_id: str) -> Clinic | None:
    if not is_clinic_id(clinic_id):
        return None
    row = conn.execute(select(clinics).where(clinics.c.id == clinic_id)).first()
    return Clinic.from_row(row) if row else None


def update_clinic(
    conn: Connection, now: int, clinic: Clinic, name: str | None, fields: dict[str, Any]
) -> Clinic:
    doc = {k: v for k, v in {**clinic.doc, **fields}.items() if v is not None}
    values: dict[str, Any] = {"doc": doc, "updated_time": now}
    if name is not None:
        values["name"] = name
    conn.execute(update(clinics).where(clinics.c.id == clinic.id).values(**values))
    updated = get_clinic(conn, clinic.id)
    assert updated is not None
    return updated


def list_clinics(
    conn: Connection, *, member: str | None, share_code: str | None, offset: int, limit: int
) -> list[Clinic]:
    """Clinics by creation, optionally those ``member`` belongs to and those with ``share_code``."""
    query = select(clinics)
    if member is not None:
        query = query.where(
            clinics.c.id.in_(select(clinicians.c.clinic_id).where(clinicians.c.user_id == member))
        )
    if share_code is not None:
        query = query.where(clinics.c.share_code == share_code.upper())
    query = query.order_by(clinics.c.created_time, clinics.c.id).offset(offset).limit(limit)
    return [Clinic.from_row(row) for row in conn.execute(query)]


# ---- clinicians -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Clinician:
    clinic_id: str
    user_id: str
    email: str | None
    name: str | None
    roles: list[str]
    created_time: int
    updated_time: int

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.user_id, "roles": self.roles}
        if self.email:
            body["email"] = self.email
        if self.name:
            body["name"] = self.name
        body["createdTime"] = timestamp(self.created_time)
        body["updatedTime"] = timestamp(self.updated_time)
        return body

    @property
    def is_admin(self) -> bool:
        return CLINIC_ADMIN in self.roles

    @classmethod
    def from_row(cls, row: Any) -> Clinician:
        m = row._mapping
        return cls(
            m["clinic_id"],
            m["user_id"],
            m["email"],
            m["name"],
            list(m["roles"]),
            m["created_time"],
            m["updated_time"],
        )


def get_clinician(conn: Connection, clinic_id: str, user_id: str) -> Clinician | None:
    if not is_clinic_id(clinic_id) or not is_user_id(user_id):
        return None
    row = conn.execute(
        select(clinicians).where(clinicians.c.clinic_id == clinic_id, clinicians.c.user_id == user_id)
    ).first()
    return Clinician.from_row(row) if row else None


def add_clinician(
    conn: Connection,
    now: int,
    clinic_id: str,
    user_id: str,
    *,
    email: str | None,
    name: str | None,
    roles: list[str],
) -> Clinician:
    clinician = Clinician(clinic_id, user_id, email, name, roles, now, now)
    conn.execute(
        insert(clinicians).values(
            clinic_id=clinic_id,
            user_id=user_id,
            email=email,
            name=name,
            roles=roles,
            created_time=now,
            updated_time=now,
        )
    )
    return clinician


def update_clinician(
    conn: Connection, now: int, clinician: Clinician, *, roles: list[str] | None, name: str | None
) -> Clinician:
    values: dict[str, Any] = {"updated_time": now}
    if roles is not None:
        values["roles"] = roles
    if name is not None:
        values["name"] = name
    conn.execute(
        update(clinicians)
        .where(clinicians.c.clinic_id == clinician.clinic_id, clinicians.c.user_id == clinician.user_id)
        .values(**values)
    )
    updated = get_clinician(conn, clinician.clinic_id, clinician.user_id)
    assert updated is not None
    return updated


def remove_clinician(conn: Connection, clinician: Clinician) -> None:
    conn.execute(
        delete(clinicians).where(
            clinicians.c.clinic_id == clinician.clinic_id, clinicians.c.user_id == clinician.user_id
        )
    )


def admin_count(conn: Connection, clinic_id: str) -> int:
    return sum(
        1
        for (roles,) in conn.execute(select(clinicians.c.roles).where(clinicians.c.clinic_id == clinic_id))
        if CLINIC_ADMIN in roles
    )


def list_clinicians(
    conn: Connection,
    clinic_id: str,
    *,
    search: str | None = None,
    email: str | None = None,
    role: str | None = None,
    offset: int = 0,
    limit: int = 10,
) -> list[Clinician]:
    query = select(clinicians).where(clinicians.c.clinic_id == clinic_id)
    if email is not None:
        query = query.where(func.lower(clinicians.c.email) == email.lower())
    if search:
        pattern = f"%{_escape_like(search.lower())}%"
        query = query.where(
            or_(
                func.lower(clinicians.c.name).like(pattern, escape="\\"),
                func.lower(clinicians.c.email).like(pattern, escape="\\"),
            )
        )
    rows = [
        Clinician.from_row(r)
        for r in conn.execute(query.order_by(clinicians.c.created_time, clinicians.c.user_id))
    ]
    if role is not None:  # roles are a JSON list: filtered here, the same on both databases
        rows = [c for c in rows if role in c.roles]
    return rows[offset : offset + limit]


def clinics_for_clinician(
    conn: Connection, user_id: str, *, offset: int, limit: int
) -> list[tuple[Clinician, Clinic]]:
    rows = conn.execute(
        select(clinicians)
        .where(clinicians.c.user_id == user_id)
        .order_by(clinicians.c.created_time, clinicians.c.clinic_id)
        .offset(offset)
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        clinic = get_clinic(conn, row.clinic_id)
        assert clinic is not None
        out.append((Clinician.from_row(row), clinic))
    return out


# ---- patients -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Patient:
    clinic_id: str
    user_id: str
    doc: dict[str, Any]
    permissions: dict[str, Any]
    created_time: int
    updated_time: int

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.user_id}
        body.update(self.doc)
        body.setdefault("tags", [])
        body["permissions"] = self.permissions
        body["createdTime"] = timestamp(self.created_time)
        body["updatedTime"] = timestamp(self.updated_time)
        return body

    @classmethod
    def from_row(cls, row: Any) -> Patient:
        m = row._mapping
        return cls(
            m["clinic_id"],
            m["user_id"],
            dict(m["doc"]),
            dict(m["permissions"]),
            m["created_time"],
            m["updated_time"],
        )


def get_patient(conn: Connection, clinic_id: str, user_id: str) -> Patient | None:
    if not is_clinic_id(clinic_id) or not is_user_id(user_id):
        return None
    row = conn.execute(
        select(clinic_patients).where(
            clinic_patients.c.clinic_id == clinic_id, clinic_patients.c.user_id == user_id
        )
    ).first()
    return Patient.from_row(row) if row else None


def add_patient(
    conn: Connection, now: int, clinic_id: str, user_id: str, doc: dict[str, Any], permissions: dict[str, Any]
) -> Patient:
    conn.execute(
        insert(clinic_patients).values(
            clinic_id=clinic_id,
            user_id=user_id,
            doc=doc,
            permissions=permissions,
            created_time=now,
            updated_time=now,
        )
    )
    return Patient(clinic_id, user_id, doc, permissions, now, now)


def update_patient(
    conn: Connection,
    now: int,
    patient: Patient,
    *,
    doc: dict[str, Any] | None = None,
    permissions: dict[str, Any] | None = None,
) -> Patient:
    values: dict[str, Any] = {"updated_time": now}
    if doc is not None:
        values["doc"] = doc
    if permissions is not None:
        values["permissions"] = permissions
    conn.execute(
        update(clinic_patients)
        .where(clinic_patients.c.clinic_id == patient.clinic_id, clinic_patients.c.user_id == patient.user_id)
        .values(**values)
    )
    updated = get_patient(conn, patient.clinic_id, patient.user_id)
    assert updated is not None
    return updated


def remove_patient(conn: Connection, patient: Patient) -> None:
    pt = clinic_patient_tags.c
    conn.execute(
        delete(clinic_patient_tags).where(pt.clinic_id == patient.clinic_id, pt.user_id == patient.user_id)
    )
    conn.execute(
        delete(clinic_patients).where(
            clinic_patients.c.clinic_id == patient.clinic_id, clinic_patients.c.user_id == patient.user_id
        )
    )


PATIENT_SORTS = ("fullName", "birthDate", "email", "mrn", "createdTime", "updatedTime")


def list_patients(
    conn: Connection, clinic_id: str, *, search: str | None, sort: str | None, offset: int, limit: int
) -> tuple[list[Patient], int]:
    """A page of the clinic's patients and how many match in all. Searching (full name, email, MRN,
    case-insensitive) and sorting happen here, the same way on both databases."""
    rows = [
        Patient.from_row(r)
        for r in conn.execute(
            select(clinic_patients)
            .where(clinic_patients.c.clinic_id == clinic_id)
            .order_by(clinic_patients.c.created_time, clinic_patients.c.user_id)
        )
    ]
    if search:
        needle = search.lower()
        rows = [
            p
            for p in rows
            if any(needle in str(p.doc.get(f) or "").lower() for f in ("fullName", "email", "mrn"))
        ]
    if sort:
        descending, key = sort[0] == "-", sort[1:]
        if key in ("createdTime", "updatedTime"):
            rows.sort(
                key=lambda p: p.created_time if key == "createdTime" else p.updated_time, reverse=descending
            )
        else:
            rows.sort(key=lambda p: str(p.doc.get(key) or "").lower(), reverse=descending)
    return rows[offset : offset + limit], len(rows)


def clinics_for_patient(
    conn: Connection, user_id: str, *, offset: int, limit: int
) -> list[tuple[Patient, Clinic]]:
    rows = conn.execute(
        select(clinic_patients)
        .where(clinic_patients.c.user_id == user_id)
        .order_by(clinic_patients.c.created_time, clinic_patients.c.clinic_id)
        .offset(offset)
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        clinic = get_clinic(conn, row.clinic_id)
        assert clinic is not None
        out.append((Patient.from_row(row), clinic))
    return out


# ---- sharing ------------------------------------------------------------------------------------


def clinic_grants(conn: Connection, owner_id: str, grantee_id: str) -> set[str]:
    """What ``grantee_id`` holds on ``owner_id``'s account through clinics: the union of what the
    patient ``owner_id`` grants each clinic ``grantee_id`` is a clinician of. A grant hook
    (``Services.grant_hooks``)."""
    if not is_user_id(owner_id) or not is_user_id(grantee_id):
        return set()
    rows = conn.execute(
        select(clinic_patients.c.permissions)
        .join(clinicians, clinicians.c.clinic_id == clinic_patients.c.clinic_id)
        .where(clinic_patients.c.user_id == owner_id, clinicians.c.user_id == grantee_id)
    )
    have: set[str] = set()
    for (perms,) in rows:
        have.update(perms)
    return have


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def clinic_contacts(conn: Connection, user_id: str) -> list[str]:
    """Who at each of a patient's clinics hears about the patient's account: the clinic's own
    address, else every clinician's. A contact hook (``Services.contact_hooks``)."""
    found: list[str] = []
    for _, clinic in clinics_for_patient(conn, user_id, offset=0, limit=100):
        email = clinic.doc.get("email")
        if isinstance(email, str) and "@" in email:
            found.append(email)
            continue
        for clinician in list_clinicians(conn, clinic.id, limit=100):
            if clinician.email and "@" in clinician.email:
                found.append(clinician.email)
    return found


# ---- patient tags -----------------------------------------------------------------------------------
# A clinic's tags are ``{id, name}``; a patient's tag ids are kept in its record's ``tags`` (what
# clients read) and in ``clinic_patient_tags`` (what the patient list filters on, indexed).


def list_tags(conn: Connection, clinic_id: str) -> list[dict[str, str]]:
    t = clinic_tags.c
    rows = conn.execute(select(t.id, t.name).where(t.clinic_id == clinic_id).order_by(t.name, t.id))
    return [{"id": row.id, "name": row.name} for row in rows]


def find_tag_by_name(conn: Connection, clinic_id: str, name: str) -> str | None:
    t = clinic_tags.c
    found = conn.execute(
        select(t.id).where(t.clinic_id == clinic_id, func.lower(t.name) == name.lower())
    ).scalar()
    return str(found) if found is not None else None


def create_tag(conn: Connection, now: int, clinic_id: str, name: str) -> str:
    tag_id = new_clinic_id()
    conn.execute(insert(clinic_tags).values(id=tag_id, clinic_id=clinic_id, name=name, created_time=now))
    return tag_id


def rename_tag(conn: Connection, clinic_id: str, tag_id: str, name: str) -> bool:
    t = clinic_tags.c
    result = conn.execute(
        update(clinic_tags).where(t.clinic_id == clinic_id, t.id == tag_id).values(name=name)
    )
    return bool(result.rowcount)


def delete_tag(conn: Connection, now: int, clinic_id: str, tag_id: str) -> bool:
    """Delete a tag and take it off every patient that carries it."""
    t = clinic_tags.c
    if not conn.execute(delete(clinic_tags).where(t.clinic_id == clinic_id, t.id == tag_id)).rowcount:
        return False
    pt = clinic_patient_tags.c
    carriers = conn.execute(
        select(pt.user_id).where(pt.clinic_id == clinic_id, pt.tag_id == tag_id)
    ).scalars()
    for user_id in list(carriers):
        patient = get_patient(conn, clinic_id, user_id)
        if patient is not None:
            tags = [x for x in patient.doc.get("tags") or [] if x != tag_id]
            set_patient_tags(conn, now, patient, tags)
    return True


def set_patient_tags(conn: Connection, now: int, patient: Patient, tag_ids: list[str]) -> Patient:
    """Replace a patient's tags (ids of the clinic's tags, checked by the caller)."""
    pt = clinic_patient_tags.c
    conn.execute(
        delete(clinic_patient_tags).where(pt.clinic_id == patient.clinic_id, pt.user_id == patient.user_id)
    )
    unique = list(dict.fromkeys(tag_ids))
    if unique:
        conn.execute(
            insert(clinic_patient_tags),
            [{"clinic_id": patient.clinic_id, "user_id": patient.user_id, "tag_id": x} for x in unique],
        )
    doc = {**patient.doc, "tags": unique}
    return update_patient(conn, now, patient, doc=doc)


# ---- reviews ------------------------------------------------------------------------------------------


REVIEWS_KEPT = 2
"""Tidepool keeps a patient's two newest reviews (the newest, and the one an undo returns to)."""


def _review_ids(conn: Connection, patient: Patient) -> list[int]:
    r = clinic_reviews.c
    return list(
        conn.execute(
            select(r.id)
            .where(r.clinic_id == patient.clinic_id, r.user_id == patient.user_id)
            .order_by(r.time.desc(), r.id.desc())
        ).scalars()
    )


def add_review(conn: Connection, now: int, patient: Patient, clinician_id: str) -> None:
    """Record a review as the newest; only the newest two are kept, as Tidepool keeps them."""
    conn.execute(
        insert(clinic_reviews).values(
            clinic_id=patient.clinic_id, user_id=patient.user_id, clinician_id=clinician_id, time=now
        )
    )
    older = _review_ids(conn, patient)[REVIEWS_KEPT:]
    if older:
        conn.execute(delete(clinic_reviews).where(clinic_reviews.c.id.in_(older)))


def undo_review(conn: Connection, patient: Patient, clinician_id: str) -> bool | None:
    """Delete the patient's newest review when ``clinician_id`` made it (Tidepool's DeleteReview:
    a clinician undoes only their own). True: deleted; False: another clinician's; None: none."""
    r = clinic_reviews.c
    newest = conn.execute(
        select(r.id, r.clinician_id)
        .where(r.clinic_id == patient.clinic_id, r.user_id == patient.user_id)
        .order_by(r.time.desc(), r.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return None
    if newest.clinician_id != clinician_id:
        return False
    conn.execute(delete(clinic_reviews).where(r.id == newest.id))
    return True


def reviews_of(conn: Connection, patient: Patient, limit: int = 2) -> list[dict[str, Any]]:
    """A patient's reviews, newest first: ``{clinicianId, time}``."""
    r = clinic_reviews.c
    rows = conn.execute(
        select(r.clinician_id, r.time)
        .where(r.clinic_id == patient.clinic_id, r.user_id == patient.user_id)
        .order_by(r.time.desc(), r.id.desc())
        .limit(limit)
    )
    return [{"clinicianId": row.clinician_id, "time": timestamp(row.time)} for row in rows]

"""Clinics: the clinic, its clinicians and patients, and sharing through a clinic."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import confirmations
from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account, signup

SHARE_CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")


def make_clinic(client: TestClient, admin: Account, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/clinics", json={"name": "Sunrise Clinic", **fields}, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def add_member(
    client: TestClient, clinic_id: str, admin: Account, member: Account, role: str = "CLINIC_MEMBER"
) -> None:
    response = client.post(
        f"/v1/clinics/{clinic_id}/clinicians",
        json={"email": member.username, "roles": [role]},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text


def new_patient(client: TestClient, clinic_id: str, clinician: Account, **fields: Any) -> dict[str, Any]:
    body = {"fullName": "Jamie Patient", "birthDate": "2012-08-30", **fields}
    response = client.post(f"/v1/clinics/{clinic_id}/patients", json=body, headers=clinician.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def team(client: TestClient) -> tuple[Account, Account, dict[str, Any]]:
    """An admin (with a profile name), a member, and their clinic."""
    admin = signup(client, "admin@example.org", roles=["clinician"])
    client.put(f"/metadata/{admin.user_id}/profile", json={"fullName": "Dr. Admin"}, headers=admin.headers)
    member = signup(client, "member@example.org", roles=["clinician"])
    clinic = make_clinic(client, admin)
    add_member(client, clinic["id"], admin, member)
    return admin, member, clinic


# ---- clinics ------------------------------------------------------------------------------------


def test_create_clinic(client: TestClient) -> None:
    admin = signup(client, "admin@example.org")
    fields = {
        "address": "1 Main St",
        "city": "Palo Alto",
        "postalCode": "94301",
        "state": "CA",
        "country": "USA",
        "phoneNumbers": [{"type": "main", "number": "+1 555 555 1212"}],
        "clinicType": "provider_practice",
        "clinicSize": "0-249",
        "website": "https://clinic.example.org",
        "id": "ignored",
        "shareCode": "ignored",
    }
    clinic = make_clinic(client, admin, **fields)
    assert re.fullmatch(r"[0-9a-f]{24}", clinic["id"])
    assert SHARE_CODE.fullmatch(clinic["shareCode"])
    assert clinic["name"] == "Sunrise Clinic"
    assert clinic["preferredBgUnits"] == "mg/dL"
    assert {k: clinic[k] for k in fields if k not in ("id", "shareCode")} == {
        k: v for k, v in fields.items() if k not in ("id", "shareCode")
    }
    assert {"createdTime", "updatedTime", "canMigrate", "tier", "tierDescription"} <= set(clinic)

    mine = client.get(f"/v1/clinicians/{admin.user_id}/clinics", headers=admin.headers).json()
    assert [(m["clinic"]["id"], m["clinician"]["id"], m["clinician"]["roles"]) for m in mine] == [
        (clinic["id"], admin.user_id, ["CLINIC_ADMIN"])
    ]
    assert mine[0]["clinician"]["email"] == "admin@example.org"


def test_clinic_validation(client: TestClient) -> None:
    admin = signup(client, "admin@example.org")
    cases = [
        ({}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": "X", "clinicType": "hospital"}, "/clinicType"),
        ({"name": "X", "clinicSize": 100}, "/clinicSize"),
        ({"name": "X", "phoneNumbers": []}, "/phoneNumbers"),
        ({"name": "X", "phoneNumbers": [{"type": "main"}]}, "/phoneNumbers/0/number"),
        ({"name": "X", "preferredBgUnits": "mg"}, "/preferredBgUnits"),
        ({"name": "X\u0000"}, "/name"),
    ]
    for body, pointer in cases:
        response = client.post("/v1/clinics", json=body, headers=admin.headers)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["source"]["pointer"] == pointer
    assert client.post("/v1/clinics", json={"name": "X"}).status_code == 401
    assert client.post("/v1/clinics", json=["X"], headers=admin.headers).status_code == 400


def test_reading_and_changing_a_clinic(
    client: TestClient, team: tuple[Account, Account, dict[str, Any]]
) -> None:
    admin, member, clinic = team
    eve = signup(client, "eve@example.org")
    url = f"/v1/clinics/{clinic['id']}"
    assert client.get(url, headers=member.headers).json() == clinic
    assert client.get(url, headers=SERVICE_HEADERS).status_code == 200
    assert client.get(url, headers=eve.headers).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get("/v1/clinics/" + "0" * 24, headers=SERVICE_HEADERS).status_code == 404
    assert client.get("/v1/clinics/%00", headers=eve.headers).status_code == 403

    changed = client.put(
        url, json={**clinic, "name": "Sunset Clinic", "city": "Menlo Park"}, headers=admin.headers
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["city"], changed.json()["shareCode"]) == (
        "Sunset Clinic",
        "Menlo Park",
        clinic["shareCode"],
    )
    assert client.put(url, json={"city": None}, headers=admin.headers).json().get("city") is None
    assert client.put(url, json={"name": "Mine"}, headers=member.headers).status_code == 403
    assert client.put(url, json={"name": "Mine"}, headers=eve.headers).status_code == 403


def test_listing_clinics(client: TestClient, team: tuple[Account, Account, dict[str, Any]]) -> None:
    admin, member, clinic = team
    other_admin = signup(client, "other@example.org")
    other = make_clinic(client, other_admin, name="Other Clinic")
    eve = signup(client, "eve@example.org")
    assert [c["id"] for c in client.get("/v1/clinics", headers=member.headers).json()] == [clinic["id"]]
    assert client.get("/v1/clinics", headers=eve.headers).json() == []
    # a share code finds its clinic for anyone signed in (how patients find a clinic)
    found = client.get("/v1/clinics", params={"shareCode": other["shareCode"]}, headers=eve.headers).json()
    assert [c["id"] for c in found] == [other["id"]]
    everything = client.get("/v1/clinics", params={"limit": 1, "offset": 1}, headers=SERVICE_HEADERS).json()
    assert [c["id"] for c in everything] == [other["id"]]
    assert client.get("/v1/clinics").status_code == 401
    for params in ({"limit": 0}, {"offset": -1}, {"limit": "x"}, {"offset": 10**12}):
        response = client.get("/v1/clinics", params=params, headers=admin.headers)
        assert response.status_code == 400, params
        assert "parameter" in response.json()["errors"][0]["source"]


# ---- clinicians ---------------------------------------------------------------------------------


def test_clinicians(client: TestClient, team: tuple[Account, Account, dict[str, Any]]) -> None:
    admin, member, clinic = team
    base = f"/v1/clinics/{clinic['id']}/clinicians"
    listed = client.get(base, headers=member.headers).json()
    assert [(c["id"], c["roles"]) for c in listed] == [
        (admin.user_id, ["CLINIC_ADMIN"]),
        (member.user_id, ["CLINIC_MEMBER"]),
    ]
    assert listed[0]["name"] == "Dr. Admin"
    assert [
        c["id"] for c in client.get(base, params={"role": "CLINIC_MEMBER"}, headers=admin.headers).json()
    ] == [member.user_id]
    assert [c["id"] for c in client.get(base, params={"search": "dr. ad"}, headers=admin.headers).json()] == [
        admin.user_id
    ]
    assert [
        c["id"]
        for c in client.get(base, params={"email": "MEMBER@example.org"}, headers=admin.headers).json()
    ] == [member.user_id]
    assert client.get(base, params={"search": "a\u0000"}, headers=admin.headers).status_code == 400
    assert (
        client.get(f"{base}/{member.user_id}", headers=member.headers).json()["email"] == "member@example.org"
    )

    third = signup(client, "third@example.org")
    by_id = client.post(
        base,
        json={"id": third.user_id, "roles": ["CLINIC_MEMBER", "PRESCRIBER"], "name": "Third"},
        headers=admin.headers,
    )
    assert by_id.status_code == 200
    assert (by_id.json()["name"], by_id.json()["roles"]) == ("Third", ["CLINIC_MEMBER", "PRESCRIBER"])
    assert (
        client.post(
            base, json={"id": third.user_id, "roles": ["CLINIC_MEMBER"]}, headers=admin.headers
        ).status_code
        == 409
    )
    for body, status in (
        ({"email": "nobody@example.org", "roles": ["CLINIC_MEMBER"]}, 404),
        ({"roles": ["CLINIC_MEMBER"]}, 400),
        ({"email": "x@example.org", "roles": ["PRESCRIBER"]}, 400),
        ({"email": "x@example.org", "roles": ["OWNER"]}, 400),
        ({"email": "x@example.org", "roles": []}, 400),
    ):
        assert client.post(base, json=body, headers=admin.headers).status_code == status, body
    eve = signup(client, "eve@example.org")
    assert (
        client.post(
            base, json={"id": eve.user_id, "roles": ["CLINIC_ADMIN"]}, headers=member.headers
        ).status_code
        == 403
    )
    assert client.get(base, headers=eve.headers).status_code == 403

    promoted = client.put(f"{base}/{third.user_id}", json={"roles": ["CLINIC_ADMIN"]}, headers=admin.headers)
    assert promoted.json()["roles"] == ["CLINIC_ADMIN"]
    assert client.delete(f"{base}/{third.user_id}", headers=member.headers).status_code == 403
    assert client.delete(f"{base}/{third.user_id}", headers=admin.headers).status_code == 200
    assert client.get(f"{base}/{third.user_id}", headers=admin.headers).status_code == 404


def test_a_clinic_keeps_an_admin(client: TestClient, team: tuple[Account, Account, dict[str, Any]]) -> None:
    admin, member, clinic = team
    base = f"/v1/clinics/{clinic['id']}/clinicians"
    demote = client.put(f"{base}/{admin.user_id}", json={"roles": ["CLINIC_MEMBER"]}, headers=admin.headers)
    assert (demote.status_code, demote.json()["errors"][0]["code"]) == (409, "clinic-admin-required")
    assert client.delete(f"{base}/{admin.user_id}", headers=admin.headers).status_code == 409
    # a member may leave on its own
    assert client.delete(f"{base}/{member.user_id}", headers=member.headers).status_code == 200
    assert client.get(f"/v1/clinics/{clinic['id']}", headers=member.headers).status_code == 403


# ---- patients -----------------------------------------------------------------------------------


def test_custodial_patient(
    client: TestClient, services: Services, team: tuple[Account, Account, dict[str, Any]]
) -> None:
    admin, member, clinic = team
    patient = new_patient(
        client, clinic["id"], member, email="Jamie@Example.org", mrn="MRN-1", targetDevices=["dexcom-g7"]
    )
    assert re.fullmatch(r"[0-9a-f]{10}", patient["id"])
    assert patient["permissions"] == {"custodian": {}, "view": {}, "upload": {}}
    assert (patient["fullName"], patient["birthDate"], patient["email"], patient["mrn"]) == (
        "Jamie Patient",
        "2012-08-30",
        "jamie@example.org",
        "MRN-1",
    )
    assert {"createdTime", "updatedTime", "tags"} <= set(patient)
    pid = patient["id"]
    base = f"/v1/clinics/{clinic['id']}/patients"
    assert client.get(f"{base}/{pid}", headers=admin.headers).json() == patient

    # a custodial account: no password, its profile made from the patient record
    account = client.get(f"/auth/user/{pid}", headers=SERVICE_HEADERS).json()
    assert (account["username"], account["passwordExists"]) == ("jamie@example.org", False)
    profile = client.get(f"/metadata/{pid}/profile", headers=admin.headers).json()
    assert profile["fullName"] == "Jamie Patient"
    assert profile["patient"]["birthday"] == "2012-08-30"

    # a signup confirmation waits for delivery, for the patient to claim the account
    with services.engine.connect() as conn:
        row = conn.execute(select(confirmations).where(confirmations.c.user_id == pid)).one()
    assert (row.status, row.email, row.clinic_id, row.creator_id) == (
        "pending",
        "jamie@example.org",
        clinic["id"],
        member.user_id,
    )

    taken = client.post(
        base,
        json={"fullName": "Again", "birthDate": "2012-08-30", "email": "jamie@example.org"},
        headers=member.headers,
    )
    assert taken.status_code == 409


def test_patient_validation(client: TestClient, team: tuple[Account, Account, dict[str, Any]]) -> None:
    admin, _, clinic = team
    base = f"/v1/clinics/{clinic['id']}/patients"
    cases = [
        ({"birthDate": "2012-08-30"}, "/fullName"),
        ({"fullName": "A"}, "/birthDate"),
        ({"fullName": "A", "birthDate": "30/08/2012"}, "/birthDate"),
        ({"fullName": "A", "birthDate": "2012-08-30", "targetDevices": "dexcom"}, "/targetDevices"),
        ({"fullName": "A", "birthDate": "2012-08-30", "tags": ["0" * 24]}, "/tags/0"),  # no such tag
        ({"fullName": "A", "birthDate": "2012-08-30", "email": 5}, "/email"),
    ]
    for body, pointer in cases:
        response = client.post(base, json=body, headers=admin.headers)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["source"]["pointer"] == pointer
    no_email = new_patient(client, clinic["id"], admin)
    assert "email" not in no_email
    assert client.get(f"/auth/user/{no_email['id']}", headers=SERVICE_HEADERS).json()["emails"] == []


def test_listing_updating_and_removing_patients(
    client: TestClient, team: tuple[Account, Account, dict[str, Any]]
) -> None:
    admin, member, clinic = team
    base = f"/v1/clinics/{clinic['id']}/patients"
    names = ["Casey Zed", "alex young", "Blair Xu"]
    made = [
        new_patient(client, clinic["id"], member, fullName=name, mrn=f"M{i}") for i, name in enumerate(names)
    ]
    listed = client.get(base, headers=member.headers).json()
    assert listed["meta"] == {"count": 3}
    assert [p["fullName"] for p in listed["data"]] == names
    by_name = client.get(base, params={"sort": "+fullName", "limit": 2}, headers=member.headers).json()
    assert ([p["fullName"] for p in by_name["data"]], by_name["meta"]["count"]) == (
        ["alex young", "Blair Xu"],
        3,
    )
    descending = client.get(base, params={"sort": "-fullName", "offset": 2}, headers=member.headers).json()
    assert [p["fullName"] for p in descending["data"]] == ["alex young"]
    found = client.get(base, params={"search": "m2"}, headers=member.headers).json()
    assert [p["fullName"] for p in found["data"]] == ["Blair Xu"]
    assert client.get(base, params={"sort": "fullName"}, headers=member.headers).status_code == 400
    assert client.get(base, params={"sort": "+password"}, headers=member.headers).status_code == 400

    pid = made[0]["id"]
    update = {**made[0], "fullName": "Casey Zee", "mrn": None, "permissions": {"root": {}}, "id": "x"}
    changed = client.put(f"{base}/{pid}", json=update, headers=member.headers)
    assert changed.status_code == 200
    assert changed.json()["fullName"] == "Casey Zee"
    assert "mrn" not in changed.json()
    assert changed.json()["permissions"] == made[0]["permissions"]  # not changed here

    eve = signup(client, "eve@example.org")
    assert client.get(base, headers=eve.headers).status_code == 403
    assert client.get(f"{base}/{pid}", headers=eve.headers).status_code == 403
    assert client.put(f"{base}/{pid}", json={"fullName": "E"}, headers=eve.headers).status_code == 403
    assert client.get(f"{base}/0123456789", headers=admin.headers).status_code == 404
    assert client.get(f"{base}/%00", headers=admin.headers).status_code == 404

    assert client.delete(f"{base}/{pid}", headers=member.headers).status_code == 403
    removed = client.delete(f"{base}/{pid}", headers=admin.headers)
    assert (removed.status_code, removed.content) == (204, b"")
    assert client.get(f"{base}/{pid}", headers=admin.headers).status_code == 404
    # the clinic's clinicians no longer reach the account
    assert client.get(f"/metadata/{pid}/profile", headers=member.headers).status_code == 403
    assert client.delete(f"{base}/{pid}", headers=admin.headers).status_code == 404


# ---- sharing through a clinic -----------------------------------------------------------------


def test_a_patients_grant_to_a_clinic_reaches_every_clinician(
    client: TestClient, services: Services, team: tuple[Account, Account, dict[str, Any]]
) -> None:
    admin, member, clinic = team
    outsider_admin = signup(client, "outsider@example.org")
    make_clinic(client, outsider_admin, name="Elsewhere")
    pat = signup(client, "pat@example.org")
    client.put(
        f"/metadata/{pat.user_id}/profile",
        json={"fullName": "Pat Patient", "patient": {"birthday": "1990-01-02"}},
        headers=pat.headers,
    )
    profile = f"/metadata/{pat.user_id}/profile"
    assert client.get(profile, headers=member.headers).status_code == 403  # nothing shared yet

    shared = client.post(
        f"/v1/clinics/{clinic['id']}/patients/{pat.user_id}",
        json={"permissions": {"view": {}, "upload": {}}},
        headers=pat.headers,
    )
    assert shared.status_code == 200, shared.text
    assert (shared.json()["fullName"], shared.json()["birthDate"], shared.json()["email"]) == (
        "Pat Patient",
        "1990-01-02",
        "pat@example.org",
    )
    for clinician in (admin, member):
        assert client.get(profile, headers=clinician.headers).status_code == 200
        # view and upload, not custodian: the profile stays the patient's to change
        assert client.put(profile, json={"fullName": "X"}, headers=clinician.headers).status_code == 403
    assert client.get(profile, headers=outsider_admin.headers).status_code == 403
    with services.engine.connect() as conn:
        assert services.grants(conn, pat.user_id, member.user_id) == {"view", "upload"}
        assert services.grants(conn, pat.user_id, outsider_admin.user_id) == set()
    # gatekeeper's listing shows direct grants only
    assert client.get(f"/access/{pat.user_id}", headers=pat.headers).json() == {pat.user_id: {"root": {}}}

    listed = client.get(f"/v1/patients/{pat.user_id}/clinics", headers=pat.headers).json()
    assert [(r["clinic"]["id"], r["patient"]["permissions"]) for r in listed] == [
        (clinic["id"], {"view": {}, "upload": {}})
    ]
    assert client.get(f"/v1/patients/{pat.user_id}/clinics", headers=member.headers).status_code == 403
    assert client.get(f"/v1/patients/{pat.user_id}/clinics").status_code == 401
    again = client.post(f"/v1/clinics/{clinic['id']}/patients/{pat.user_id}", json={}, headers=pat.headers)
    assert again.status_code == 409

    # narrowing, then ending the sharing
    perms_url = f"/v1/clinics/{clinic['id']}/patients/{pat.user_id}/permissions"
    assert client.put(perms_url, json={"upload": {}}, headers=member.headers).status_code == 403
    assert client.put(perms_url, json={"upload": {}}, headers=pat.headers).json() == {"upload": {}}
    assert client.get(profile, headers=member.headers).status_code == 403
    assert client.put(perms_url, json={"view": {}}, headers=pat.headers).status_code == 200
    assert client.get(profile, headers=member.headers).status_code == 200
    assert client.put(perms_url, json={}, headers=pat.headers).json() == {}
    assert client.get(profile, headers=member.headers).status_code == 403
    assert (
        client.get(f"/v1/clinics/{clinic['id']}/patients/{pat.user_id}", headers=member.headers).status_code
        == 404
    )


def test_leaving_clinics(client: TestClient, team: tuple[Account, Account, dict[str, Any]]) -> None:
    admin, member, clinic = team
    pat = signup(client, "pat@example.org")
    client.put(f"/metadata/{pat.user_id}/profile", json={"fullName": "Pat"}, headers=pat.headers)
    base = f"/v1/clinics/{clinic['id']}/patients/{pat.user_id}"
    assert client.post(base, headers=pat.headers).json()["permissions"] == {"view": {}}
    profile = f"/metadata/{pat.user_id}/profile"
    assert client.get(profile, headers=member.headers).status_code == 200

    # a clinician who leaves the clinic loses access
    client.delete(f"/v1/clinics/{clinic['id']}/clinicians/{member.user_id}", headers=member.headers)
    assert client.get(profile, headers=member.headers).status_code == 403
    assert client.get(profile, headers=admin.headers).status_code == 200
    # a patient may leave the clinic
    assert client.delete(base, headers=pat.headers).status_code == 204
    assert client.get(profile, headers=admin.headers).status_code == 403


def test_sharing_errors(client: TestClient, team: tuple[Account, Account, dict[str, Any]]) -> None:
    _, member, clinic = team
    pat = signup(client, "pat@example.org")
    eve = signup(client, "eve@example.org")
    base = f"/v1/clinics/{clinic['id']}/patients/{pat.user_id}"
    assert client.post(base, json={}).status_code == 401
    assert client.post(base, json={}, headers=eve.headers).status_code == 403
    assert (
        client.post(base, json={}, headers=member.headers).status_code == 403
    )  # clinics cannot help themselves
    bodies: list[dict[str, Any]] = [{"permissions": {"root": {}}}, {"permissions": {}}, {"permissions": []}]
    for body in bodies:
        assert client.post(base, json=body, headers=pat.headers).status_code == 400, body
    missing = f"/v1/clinics/{'0' * 24}/patients/{pat.user_id}"
    assert client.post(missing, json={}, headers=pat.headers).status_code == 404
    assert client.put(f"{base}/permissions", json={"view": {}}, headers=pat.headers).status_code == 404
    assert client.post(base, json={}, headers=SERVICE_HEADERS).status_code == 200


def test_a_clinicians_own_clinics(client: TestClient, team: tuple[Account, Account, dict[str, Any]]) -> None:
    _, member, clinic = team
    eve = signup(client, "eve@example.org")
    url = f"/v1/clinicians/{member.user_id}/clinics"
    mine = client.get(url, headers=member.headers).json()
    assert [(r["clinic"]["id"], r["clinician"]["roles"]) for r in mine] == [(clinic["id"], ["CLINIC_MEMBER"])]
    assert client.get(url, headers=SERVICE_HEADERS).json() == mine
    assert client.get(url, headers=eve.headers).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get("/v1/clinicians/%00/clinics", headers=SERVICE_HEADERS).json() == []


def test_a_claimed_custodial_patient_keeps_sharing_without_custodianship(
    client: TestClient, team: tuple[Account, Account, dict[str, Any]]
) -> None:
    admin, member, clinic = team
    patient = new_patient(client, clinic["id"], member, email="jamie@example.org")
    pid = patient["id"]
    assert (
        client.put(f"/metadata/{pid}/profile", json={"fullName": "J"}, headers=member.headers).status_code
        == 200
    )
    # the patient claims the account (the confirmation flow, a service, sets its password)
    claim = client.put(
        f"/auth/user/{pid}", json={"updates": {"password": "jamies-own"}}, headers=SERVICE_HEADERS
    )
    assert claim.status_code == 200
    record = client.get(f"/v1/clinics/{clinic['id']}/patients/{pid}", headers=admin.headers).json()
    assert record["permissions"] == {"view": {}, "upload": {}}
    assert client.get(f"/metadata/{pid}/profile", headers=member.headers).status_code == 200
    assert (
        client.put(f"/metadata/{pid}/profile", json={"fullName": "X"}, headers=member.headers).status_code
        == 403
    )

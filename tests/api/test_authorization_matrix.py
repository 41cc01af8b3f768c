"""Every endpoint x every kind of caller -> the expected status, generated from the app's routes.

The operations come from the app's OpenAPI (its route table): an endpoint added without a row in
EXPECTED fails ``test_every_endpoint_is_in_the_matrix``. Each request is well formed for its endpoint,
so the status shows who may do what, not whether the body parsed. Every response is also scanned:
no caller ever sees the ids of users unrelated to it, and no error names another user.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account, basic, signup

CALLERS = (
    "anonymous",
    "other",
    "viewer",
    "uploader",
    "custodian",
    "owner",
    "clinician_with",
    "clinician_without",
    "service",
)

# ---- expected statuses -------------------------------------------------------------------------
# One row per (method, path); columns in CALLERS order. Read them as policies:
PUBLIC = (200,) * 9
ANYONE_201 = (201,) * 9
#                 anon other view upld cust own  cl+  cl-  svc
VIEW = (401, 403, 200, 403, 200, 200, 200, 403, 200)  # the owner's data or account, to read
UPLOAD_201 = (401, 403, 403, 201, 201, 201, 201, 403, 201)  # the owner's data, to write
UPLOAD_200 = (401, 403, 403, 200, 200, 200, 200, 403, 200)
ADMIN = (401, 403, 403, 403, 200, 200, 403, 403, 200)  # the owner's account: owner, custodian, service
OWNER_ONLY = (401, 403, 403, 403, 403, 200, 403, 403, 200)  # the owner (or service) alone
SELF = (401, 200, 200, 200, 200, 200, 200, 200, 401)  # a user acting on its own account
SELF_OR_SERVICE = (401, 200, 200, 200, 200, 200, 200, 200, 200)
CLINIC = (401, 403, 403, 403, 403, 403, 200, 403, 200)  # members of the owner's clinic, services
CLINIC_204 = (401, 403, 403, 403, 403, 403, 204, 403, 204)
ANY_USER = (401, 200, 200, 200, 200, 200, 200, 200, 200)
SERVICE_ONLY = (401, 403, 403, 403, 403, 403, 403, 403, 200)
# Any user connects or disconnects their own partner account; a server has none.
OWN_PARTNER_307 = (401, 307, 307, 307, 307, 307, 307, 307, 403)
OWN_PARTNER_200 = (401, 200, 200, 200, 200, 200, 200, 200, 403)
# Uploaders list a person's data sets (the uploader looks for earlier uploads of a device).
VIEW_OR_UPLOAD = (401, 403, 200, 200, 200, 200, 200, 403, 200)

EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/v1/time"): PUBLIC,
    ("GET", "/info"): PUBLIC,
    ("GET", "/status"): PUBLIC,  # this process's health: no secrets, nothing about anyone
    ("GET", "/metrics"): (404,) * 9,  # only with INLET_METRICS_TOKEN, then its bearer (test_metrics.py)
    ("POST", "/auth/login"): (401, 200, 200, 200, 200, 200, 200, 200, 401),
    ("GET", "/auth/login"): SELF,  # refreshes a session token; the service secret is not one
    ("POST", "/auth/logout"): SELF_OR_SERVICE,
    ("GET", "/auth/user"): SELF,
    ("POST", "/auth/user"): ANYONE_201,
    ("PUT", "/auth/user"): SELF,
    ("GET", "/auth/user/{user_id}"): ADMIN,
    ("PUT", "/auth/user/{user_id}"): ADMIN,
    ("POST", "/auth/user/{user_id}/user"): (401, 403, 403, 403, 403, 201, 403, 403, 201),
    ("POST", "/v1/users/{user_id}/restricted_tokens"): (401, 403, 403, 403, 403, 201, 403, 403, 201),
    ("GET", "/metadata/{user_id}/profile"): VIEW,
    ("PUT", "/metadata/{user_id}/profile"): ADMIN,
    ("GET", "/metadata/{user_id}/settings"): VIEW,
    ("PUT", "/metadata/{user_id}/settings"): ADMIN,
    ("POST", "/confirm/send/signup/{user_id}"): ADMIN,
    # hydrophone: anyone asks for a password reset (the answer never says whether the account exists)
    ("POST", "/confirm/send/forgot/{email}"): PUBLIC,
    ("PUT", "/confirm/accept/forgot"): (404,) * 9,  # a made-up key, whoever asks
    ("POST", "/confirm/send/invite/{user_id}"): ADMIN,
    ("GET", "/confirm/invite/{user_id}"): ADMIN,
    ("GET", "/confirm/invitations/{user_id}"): OWNER_ONLY,
    ("PUT", "/confirm/accept/invite/{user_id}/{invited_by}"): OWNER_ONLY,
    ("PUT", "/confirm/dismiss/invite/{user_id}/{invited_by}"): OWNER_ONLY,
    ("PUT", "/confirm/{user_id}/invited/{email}"): ADMIN,
    ("PATCH", "/confirm/resend/invite/{key}"): ADMIN,
    ("GET", "/access/groups/{user_id}"): ADMIN,
    ("GET", "/access/{user_id}"): ADMIN,
    ("GET", "/access/{group_id}/{user_id}"): (401, 403, 200, 403, 200, 200, 403, 403, 200),
    ("POST", "/access/{group_id}/{user_id}"): ADMIN,
    ("POST", "/v1/clinics"): ANY_USER,
    ("GET", "/v1/clinics"): ANY_USER,
    ("GET", "/v1/clinics/{clinic_id}"): CLINIC,
    ("PUT", "/v1/clinics/{clinic_id}"): CLINIC,
    ("GET", "/v1/clinics/{clinic_id}/clinicians"): CLINIC,
    ("POST", "/v1/clinics/{clinic_id}/clinicians"): CLINIC,
    ("GET", "/v1/clinics/{clinic_id}/clinicians/{clinician_id}"): CLINIC,
    ("PUT", "/v1/clinics/{clinic_id}/clinicians/{clinician_id}"): CLINIC,
    ("DELETE", "/v1/clinics/{clinic_id}/clinicians/{clinician_id}"): CLINIC,
    ("GET", "/v1/clinics/{clinic_id}/patients"): CLINIC,
    ("POST", "/v1/clinics/{clinic_id}/patients"): CLINIC,
    ("GET", "/v1/clinics/{clinic_id}/patients/{patient_id}"): CLINIC,
    ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}"): ADMIN,
    ("PUT", "/v1/clinics/{clinic_id}/patients/{patient_id}"): CLINIC,
    ("DELETE", "/v1/clinics/{clinic_id}/patients/{patient_id}"): (
        401,
        403,
        403,
        403,
        204,
        204,
        204,
        403,
        204,
    ),
    ("PUT", "/v1/clinics/{clinic_id}/patients/{patient_id}/permissions"): ADMIN,
    # a clinician of the patient's clinic (or a service) emails the patient a connect link
    ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}/connect/{slug}"): CLINIC_204,
    ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}/send_dexcom_connect_request"): CLINIC,
    ("GET", "/v1/patients/{user_id}/clinics"): ADMIN,
    # clinician invitations: the clinic's admins (clinician_with is one) invite; the invitee answers
    ("POST", "/v1/clinics/{clinic_id}/invites/clinicians"): CLINIC,
    ("GET", "/v1/clinics/{clinic_id}/invites/clinicians/{invite_id}"): CLINIC,
    ("PATCH", "/v1/clinics/{clinic_id}/invites/clinicians/{invite_id}"): CLINIC,
    ("DELETE", "/v1/clinics/{clinic_id}/invites/clinicians/{invite_id}"): CLINIC,
    ("GET", "/v1/clinicians/{user_id}/invites"): OWNER_ONLY,
    ("PUT", "/v1/clinicians/{user_id}/invites/{invite_id}"): OWNER_ONLY,
    ("DELETE", "/v1/clinicians/{user_id}/invites/{invite_id}"): OWNER_ONLY,
    ("GET", "/v1/clinicians/{user_id}/clinics"): (401, 403, 403, 403, 403, 403, 200, 403, 200),
    ("GET", "/v1/users/{userId}/data_sets"): VIEW_OR_UPLOAD,
    ("POST", "/v1/users/{userId}/data_sets"): UPLOAD_201,
    ("POST", "/v1/users/{userId}/datasets"): UPLOAD_201,
    ("GET", "/v1/data_sets/{id}"): VIEW,
    ("PUT", "/v1/data_sets/{id}"): UPLOAD_200,
    ("PUT", "/v1/datasets/{id}"): UPLOAD_200,
    ("DELETE", "/v1/data_sets/{id}"): (401, 403, 403, 403, 200, 200, 403, 403, 200),
    ("DELETE", "/v1/datasets/{id}"): (401, 403, 403, 403, 200, 200, 403, 403, 200),
    ("POST", "/v1/data_sets/{id}/data"): UPLOAD_200,
    ("POST", "/v1/datasets/{id}/data"): UPLOAD_200,
    ("DELETE", "/v1/data_sets/{id}/data"): UPLOAD_200,
    ("GET", "/v1/users/{userId}/data_sources"): VIEW,
    ("GET", "/v1/data_sources/{id}"): VIEW,
    ("PUT", "/v1/data_sources/{id}"): SERVICE_ONLY,  # the sync engine records progress and errors
    ("DELETE", "/v1/data_sources/{id}"): ADMIN,
    ("GET", "/v1/oauth/{slug}/authorize"): OWN_PARTNER_307,
    # the browser back from the partner: no credential; without a valid state, the error page
    ("GET", "/v1/oauth/{slug}/redirect"): (303,) * 9,
    ("DELETE", "/v1/oauth/{slug}/authorize"): OWN_PARTNER_200,
    ("DELETE", "/v1/users/{userId}/oauth/{slug}/authorize"): ADMIN,
    # a person's Nightscout site: the person, a custodian or a service manages it
    ("PUT", "/v1/users/{user_id}/nightscout"): ADMIN,
    ("GET", "/v1/users/{user_id}/nightscout"): ADMIN,
    ("DELETE", "/v1/users/{user_id}/nightscout"): (401, 403, 403, 403, 204, 204, 403, 403, 204),
    ("POST", "/v1/users/{user_id}/nightscout/tokens"): (401, 403, 403, 403, 201, 201, 403, 403, 201),
    ("GET", "/v1/users/{user_id}/nightscout/tokens"): ADMIN,
    ("DELETE", "/v1/users/{user_id}/nightscout/tokens/{token_id}"): (
        401,
        403,
        403,
        403,
        204,
        204,
        403,
        403,
        204,
    ),
    # tide-whisperer answers 403 data_cant_view to anyone who may not view, a missing token included
    ("GET", "/data/{userId}"): (403, 403, 200, 403, 200, 200, 200, 403, 200),
    ("GET", "/v1/summaries/{kind}/{user_id}"): VIEW,
    ("POST", "/v1/summaries/{kind}/{user_id}"): VIEW,
    ("POST", "/v1/clinics/{clinic_id}/patient_tags"): CLINIC,
    ("PUT", "/v1/clinics/{clinic_id}/patient_tags/{tag_id}"): CLINIC,
    ("DELETE", "/v1/clinics/{clinic_id}/patient_tags/{tag_id}"): CLINIC,
    ("PUT", "/v1/clinics/{clinic_id}/patients/{patient_id}/reviews"): CLINIC,
    ("DELETE", "/v1/clinics/{clinic_id}/patients/{patient_id}/reviews"): CLINIC,
    ("GET", "/v1/clinics/{clinic_id}/tide_report"): CLINIC,
    ("GET", "/export/{userId}"): VIEW,
    ("GET", "/v1/fhir/metadata"): PUBLIC,
    ("GET", "/v1/reports/{userId}/agp.pdf"): VIEW,
    ("GET", "/v1/fhir/cgm/{userId}"): VIEW,
    # a submission is filed under the person who sends it; a server has no one to file it under
    ("POST", "/v1/fhir/$submit-cgm-bundle"): (401, 200, 200, 200, 200, 200, 200, 200, 403),
}


FHIR_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "transaction",
    "timestamp": "2026-10-01T00:00:00Z",
    "entry": [
        {
            "fullUrl": "urn:uuid:5b1c0c6e-0000-4000-8000-000000000001",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "identifier": [{"system": "urn:example", "value": "matrix-1"}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
                "subject": {"reference": "Patient/anyone"},
                "effectiveDateTime": "2026-10-01T00:00:00Z",
                "valueQuantity": {
                    "value": 100,
                    "unit": "mg/dL",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg/dL",
                },
            },
            "request": {
                "method": "POST",
                "url": "Observation",
                "ifNoneExist": "identifier=urn:example|matrix-1",
            },
        }
    ],
}


# ---- the world the requests run in -----------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    services: Services
    accounts: dict[str, Account]
    clinic_with: str
    clinic_without: str
    data_set: str
    data_source: str = ""
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def id_of(self, name: str) -> str:
        return self.accounts[name].user_id

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}@example.org"

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller == "service":
            return dict(SERVICE_HEADERS)
        return self.accounts[caller].headers

    def fresh_headers(self, caller: str) -> dict[str, str]:
        """A new session for callers whose request ends it (refresh, logout)."""
        if caller in ("anonymous", "service"):
            return self.headers(caller)
        with self.services.engine.begin() as conn:
            token = self.services.accounts.create_session(conn, self.id_of(caller))
        return {"x-tidepool-session-token": token}

    def new_data_set(self) -> str:
        response = self.client.post(
            f"/v1/users/{self.id_of('owner')}/data_sets",
            json={"deviceId": "Meter-1", "client": {"name": "org.example.matrix", "version": "1.0.0"}},
            headers=self.accounts["owner"].headers,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    def connected_source(self, slug: str) -> str:
        """The owner's data source for ``slug``, connected (with made-up tokens) if it was not."""
        partners = self.services.partners
        partner = partners.registry.get(slug)
        assert partner is not None
        owner = self.id_of("owner")
        with self.services.engine.begin() as conn:
            source = partners.find_source(conn, owner, slug)
            if source is None or source.state != "connected":
                token = {"access_token": f"matrix-access-{slug}", "refresh_token": f"matrix-refresh-{slug}"}
                source = partners.connect(conn, partner, owner, token, None)
        return source.id

    def disconnected(self, slug: str) -> None:
        """The owner's ``slug`` account disconnected (a clinician may ask to connect it)."""
        with self.services.engine.begin() as conn:
            self.services.partners.disconnect(conn, slug, self.id_of("owner"))

    def new_member(self) -> str:
        member = signup(self.client, self.unique("member"), roles=["clinician"])
        response = self.client.post(
            f"/v1/clinics/{self.clinic_with}/clinicians",
            json={"email": member.username, "roles": ["CLINIC_MEMBER"]},
            headers=self.accounts["clinician_with"].headers,
        )
        assert response.status_code == 200, response.text
        return member.user_id

    def invite(self, inviter: Account, email: str) -> str:
        """A pending care-team invitation from ``inviter`` to ``email``; answers its key."""
        response = self.client.post(
            f"/confirm/send/invite/{inviter.user_id}",
            json={"email": email, "permissions": {"view": {}}},
            headers=inviter.headers,
        )
        if response.status_code == 409:  # already pending: find it
            sent = self.client.get(f"/confirm/invite/{inviter.user_id}", headers=inviter.headers).json()
            return str(next(i["key"] for i in sent if i["email"] == email))
        assert response.status_code == 200, response.text
        return str(response.json()["key"])

    def clinician_invite(self, email: str, clinic_id: str | None = None) -> str:
        """A live invitation of ``email`` to a clinic of clinician_with (``clinic_with`` unless
        given); answers its id."""
        url = f"/v1/clinics/{clinic_id or self.clinic_with}/invites/clinicians"
        headers = self.accounts["clinician_with"].headers
        response = self.client.post(url, json={"email": email, "roles": ["CLINIC_MEMBER"]}, headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["inviteId"])

    def new_clinic(self) -> str:
        response = self.client.post(
            "/v1/clinics",
            json={"name": "Yet another clinic"},
            headers=self.accounts["clinician_with"].headers,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def new_patient(self) -> str:
        response = self.client.post(
            f"/v1/clinics/{self.clinic_with}/patients",
            json={"fullName": "Matrix Patient", "birthDate": "2010-01-01"},
            headers=self.accounts["clinician_with"].headers,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])


def cbg(minute: int) -> dict[str, Any]:
    return {
        "type": "cbg",
        "units": "mg/dL",
        "value": 100 + minute,
        "time": f"2026-10-01T10:{minute:02d}:00Z",
        "deviceId": "Meter-1",
    }


def build_world(client: TestClient, services: Services) -> World:
    accounts = {
        name: signup(client, f"{name}@example.org")
        for name in CALLERS
        if name not in ("anonymous", "service")
    }
    owner = accounts["owner"]
    client.put(f"/metadata/{owner.user_id}/profile", json={"fullName": "Owen Owner"}, headers=owner.headers)
    client.put(f"/metadata/{owner.user_id}/settings", json={"units": {"bg": "mmol/L"}}, headers=owner.headers)
    for name, perms in (
        ("viewer", {"view": {}}),
        ("uploader", {"upload": {}}),
        ("custodian", {"custodian": {}}),
    ):
        response = client.post(
            f"/access/{owner.user_id}/{accounts[name].user_id}", json=perms, headers=owner.headers
        )
        assert response.status_code == 200, response.text
    clinics = {}
    for name in ("clinician_with", "clinician_without"):
        response = client.post(
            "/v1/clinics", json={"name": f"Clinic of {name}"}, headers=accounts[name].headers
        )
        assert response.status_code == 200, response.text
        clinics[name] = response.json()["id"]
    shared = client.post(
        f"/v1/clinics/{clinics['clinician_with']}/patients/{owner.user_id}",
        json={"permissions": {"view": {}, "upload": {}}},
        headers=owner.headers,
    )
    assert shared.status_code == 200, shared.text
    world = World(client, services, accounts, clinics["clinician_with"], clinics["clinician_without"], "")
    world.data_set = world.new_data_set()
    world.data_source = world.connected_source("dexcom")
    assert (
        client.post(
            f"/v1/data_sets/{world.data_set}/data", json=[cbg(0), cbg(5)], headers=owner.headers
        ).status_code
        == 200
    )
    assert (
        client.put(
            f"/v1/data_sets/{world.data_set}", json={"dataState": "closed"}, headers=owner.headers
        ).status_code
        == 200
    )
    return world


# ---- one well-formed request per endpoint ---------------------------------------------------------------


@dataclass
class Request:
    params: dict[str, str]
    body: Any = None
    headers: dict[str, str] | None = None
    query: dict[str, str] | None = None


Prepare = Callable[[World, str], Request]


def default_params(world: World) -> dict[str, str]:
    return {
        "user_id": world.id_of("owner"),
        "userId": world.id_of("owner"),
        "group_id": world.id_of("owner"),
        "clinic_id": world.clinic_with,
        "clinician_id": world.id_of("clinician_with"),
        "patient_id": world.id_of("owner"),
        "id": world.data_set,
        "slug": "dexcom",
    }


def prepare(world: World, caller: str, method: str, path: str) -> Request:
    params = default_params(world)
    key = (method, path)
    if key == ("POST", "/auth/login"):
        if caller in ("anonymous", "service"):
            return Request(params, headers=world.headers(caller))
        account = world.accounts[caller]
        return Request(params, headers=basic(account.username, account.password))
    if key in (("GET", "/auth/login"), ("POST", "/auth/logout")):
        return Request(params, headers=world.fresh_headers(caller))
    if key == ("POST", "/auth/user"):
        return Request(params, {"username": world.unique("new"), "password": "a-long-password"}, headers={})
    if key == ("POST", "/v1/fhir/$submit-cgm-bundle"):
        return Request(params, FHIR_BUNDLE)
    if key == ("PUT", "/auth/user"):
        return Request(params, {"updates": {"termsAccepted": "2026-01-01T00:00:00Z"}})
    if key == ("PUT", "/auth/user/{user_id}"):
        return Request(params, {"updates": {"emails": ["owner@example.org"]}})
    if key == ("POST", "/auth/user/{user_id}/user"):
        return Request(params, {"username": world.unique("kid"), "emails": [world.unique("kid")]})
    if key == ("POST", "/v1/users/{user_id}/restricted_tokens"):
        return Request(params, {})
    if key == ("POST", "/confirm/send/forgot/{email}"):
        params["email"] = world.unique("forgot")
        return Request(params, headers={} if caller == "anonymous" else None)
    if key == ("PUT", "/confirm/accept/forgot"):
        return Request(
            params, {"key": "made-up", "email": "owner@example.org", "password": "a-long-password"}
        )
    if key == ("POST", "/confirm/send/invite/{user_id}"):
        return Request(params, {"email": world.unique("invitee"), "permissions": {"view": {}}})
    if key == ("GET", "/confirm/invite/{user_id}"):
        world.invite(world.accounts["owner"], "pending-invitee@example.org")
        return Request(params)
    if key == ("GET", "/confirm/invitations/{user_id}"):
        world.invite(world.accounts["viewer"], "owner@example.org")
        return Request(params)
    if path.startswith(("/confirm/accept/invite/", "/confirm/dismiss/invite/")):
        inviter = signup(world.client, world.unique("inviter"))
        params["invited_by"] = inviter.user_id
        return Request(params, {"key": world.invite(inviter, "owner@example.org")})
    if key == ("PUT", "/confirm/{user_id}/invited/{email}"):
        params["email"] = world.unique("canceled")
        world.invite(world.accounts["owner"], params["email"])
        return Request(params)
    if key == ("PATCH", "/confirm/resend/invite/{key}"):
        params["key"] = world.invite(world.accounts["owner"], world.unique("resent"))
        return Request(params)
    if key == ("POST", "/v1/clinics/{clinic_id}/invites/clinicians"):
        return Request(params, {"email": world.unique("clinician-invitee"), "roles": ["CLINIC_MEMBER"]})
    if path == "/v1/clinics/{clinic_id}/invites/clinicians/{invite_id}":
        params["invite_id"] = world.clinician_invite(world.unique("clinician-invitee"))
        return Request(params)
    if path == "/v1/clinicians/{user_id}/invites/{invite_id}":
        # a throwaway clinic each time: accepting makes the owner its clinician
        params["invite_id"] = world.clinician_invite("owner@example.org", world.new_clinic())
        return Request(params)
    if key == ("PUT", "/metadata/{user_id}/settings"):
        return Request(params, {"units": {"bg": "mmol/L"}, "bgTarget": {"low": 3.9, "high": 10.0}})
    if key == ("PUT", "/metadata/{user_id}/profile"):
        return Request(params, {"fullName": "Owen Owner"})
    if path == "/access/{group_id}/{user_id}":
        params["user_id"] = world.id_of("viewer")
        return Request(params, {"view": {}} if method == "POST" else None)
    if key == ("POST", "/v1/clinics"):
        return Request(params, {"name": "Another Clinic"})
    if key == ("PUT", "/v1/clinics/{clinic_id}"):
        return Request(params, {"name": "Clinic of clinician_with"})
    if key == ("POST", "/v1/clinics/{clinic_id}/clinicians"):
        member = signup(world.client, world.unique("invitee"), roles=["clinician"])
        return Request(params, {"email": member.username, "roles": ["CLINIC_MEMBER"]})
    if key == ("PUT", "/v1/clinics/{clinic_id}/clinicians/{clinician_id}"):
        params["clinician_id"] = world.new_member()
        return Request(params, {"roles": ["CLINIC_MEMBER"]})
    if key == ("DELETE", "/v1/clinics/{clinic_id}/clinicians/{clinician_id}"):
        params["clinician_id"] = world.new_member()
        return Request(params)
    if key == ("POST", "/v1/clinics/{clinic_id}/patients"):
        return Request(params, {"fullName": "New Patient", "birthDate": "2011-02-03"})
    if key == ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}"):
        params["clinic_id"] = world.new_clinic()  # the owner shares with a clinic it has not joined yet
        return Request(params, {"permissions": {"view": {}, "upload": {}}})
    if key == ("PUT", "/v1/clinics/{clinic_id}/patients/{patient_id}"):
        return Request(params, {"fullName": "Owen Owner"})
    if key == ("DELETE", "/v1/clinics/{clinic_id}/patients/{patient_id}"):
        return Request(params)  # the owner's own record: removed and shared again after each call
    if key == ("PUT", "/v1/clinics/{clinic_id}/patients/{patient_id}/permissions"):
        return Request(params, {"view": {}, "upload": {}})
    if key == ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}/connect/{slug}"):
        params["slug"] = "acme"  # the owner's ACME account must not be connected (409)
        world.disconnected("acme")
        return Request(params)
    if key == ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}/send_dexcom_connect_request"):
        world.disconnected("dexcom")
        return Request(params)
    if key == ("GET", "/v1/clinicians/{user_id}/clinics"):
        params["user_id"] = world.id_of("clinician_with")
        return Request(params)
    if path.startswith("/v1/users/{userId}/data") and method == "POST":
        return Request(
            params, {"deviceId": "Meter-1", "client": {"name": "org.example.matrix", "version": "1.0.0"}}
        )
    if key in (("PUT", "/v1/data_sets/{id}"), ("PUT", "/v1/datasets/{id}")):
        params["id"] = world.new_data_set()
        return Request(params, {"dataState": "closed"})
    if key in (("DELETE", "/v1/data_sets/{id}"), ("DELETE", "/v1/datasets/{id}")):
        params["id"] = world.new_data_set()
        return Request(params)
    if key in (("POST", "/v1/data_sets/{id}/data"), ("POST", "/v1/datasets/{id}/data")):
        params["id"] = world.new_data_set()
        return Request(params, [cbg(10)])
    if key == ("DELETE", "/v1/data_sets/{id}/data"):
        params["id"] = world.new_data_set()  # closed sets refuse changes (409)
        return Request(params, [{"origin": {"id": "no-such-origin"}}])
    if path == "/v1/data_sources/{id}":
        params["id"] = world.connected_source("acme") if method == "DELETE" else world.data_source
        return Request(params, {"latestDataTime": "2026-10-01T10:05:00Z"} if method == "PUT" else None)
    if path.endswith("/oauth/{slug}/authorize") and method == "DELETE":
        world.connected_source("dexcom")
    if path == "/v1/summaries/{kind}/{user_id}":
        params["kind"] = "cgm"
        if method == "GET":  # computed first, so whoever may see it gets it
            url = f"/v1/summaries/cgm/{world.id_of('owner')}"
            assert world.client.post(url, headers=world.headers("service")).status_code == 200
        return Request(params)
    if key == ("POST", "/v1/clinics/{clinic_id}/patient_tags"):
        return Request(params, {"name": world.unique("tag")})
    if path == "/v1/clinics/{clinic_id}/patient_tags/{tag_id}":
        made = world.client.post(
            f"/v1/clinics/{world.clinic_with}/patient_tags",
            json={"name": world.unique("tag")},
            headers=world.accounts["clinician_with"].headers,
        )
        params["tag_id"] = made.json()["patientTags"][-1]["id"]
        return Request(params, {"name": world.unique("renamed")} if method == "PUT" else None)
    if key == ("GET", "/v1/clinics/{clinic_id}/tide_report"):
        query = {"period": "14d", "tags": "0" * 24, "lastDataCutoff": "2026-01-01T00:00:00Z"}
        return Request(params, query=query)
    if path.startswith("/v1/users/{user_id}/nightscout"):
        owner = world.accounts["owner"]
        site = f"/v1/users/{owner.user_id}/nightscout"
        world.client.put(site, headers=owner.headers)  # enabled before each request (DELETE disables)
        if path.endswith("{token_id}"):
            made = world.client.post(
                f"{site}/tokens", json={"name": "m", "roles": ["readable"]}, headers=owner.headers
            )
            params["token_id"] = made.json()["id"]
        if method == "POST":
            return Request(params, {"name": "matrix", "roles": ["readable"]})
    return Request(params)


def restore(world: World, method: str, path: str) -> None:
    """Put back what a request changed that later requests rely on."""
    if (method, path) == ("DELETE", "/v1/clinics/{clinic_id}/patients/{patient_id}"):
        owner = world.accounts["owner"]
        world.client.post(
            f"/v1/clinics/{world.clinic_with}/patients/{owner.user_id}",
            json={"permissions": {"view": {}, "upload": {}}},
            headers=owner.headers,
        )


def operations(services: Services) -> list[tuple[str, str]]:
    from inlet.app import create_app

    paths = create_app(services=services).openapi()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops)


def test_every_endpoint_is_in_the_matrix(services: Services) -> None:
    assert set(operations(services)) == set(EXPECTED)


def test_authorization_matrix(client: TestClient, services: Services) -> None:
    world = build_world(client, services)
    bystanders = {"other", "clinician_without"}
    mismatches = []
    for method, path in operations(services):
        expected = EXPECTED[(method, path)]
        for caller, want in zip(CALLERS, expected, strict=True):
            request = prepare(world, caller, method, path)
            url = path.format(**request.params)
            headers = world.headers(caller) if request.headers is None else request.headers
            response = client.request(
                method, url, json=request.body, headers=headers, params=request.query, follow_redirects=False
            )
            if response.status_code != want:
                mismatches.append(
                    f"{method} {path} as {caller}: {response.status_code} (want {want}) {response.text[:160]}"
                )
            text = response.text
            for name in bystanders - {caller}:
                assert world.id_of(name) not in text, f"{method} {path} as {caller} shows {name}'s id"
            if response.status_code >= 400:
                for name, account in world.accounts.items():
                    if name != caller:
                        assert account.user_id not in text, f"{method} {path} as {caller}: error names {name}"
            restore(world, method, path)
    assert not mismatches, "\n".join(mismatches)

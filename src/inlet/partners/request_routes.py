"""A clinic asks a patient, by email, to connect a partner account (``inlet.partners.requests``).

| method | path | who | success |
| --- | --- | --- | --- |
| POST | /v1/clinics/:clinicId/patients/:patientId/connect/:slug | the clinic's clinicians, services | 204 |
| POST | /v1/clinics/:clinicId/patients/:patientId/send_dexcom_connect_request | the same | 200 patient |

They live with the partner framework, not with the clinic endpoints, because the request is about a
partner connection: the clinic domain knows nothing of partners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import Connection

from inlet.accounts import clinics as c
from inlet.accounts.deps import Caller, CallerDep, clinic_access, clinic_patient
from inlet.accounts.service import timestamp
from inlet.api.deps import ServicesDep, WriteConn
from inlet.api.errors import PlatformError, json_response
from inlet.partners import requests as r

if TYPE_CHECKING:
    from inlet.services import Services

router = APIRouter(tags=["clinics"])


def _connection_request(
    clinic_id: str, patient_id: str, slug: str, caller: Caller, services: Services, conn: Connection
) -> tuple[c.Patient, int]:
    """Email the patient a connect link for ``slug`` (clinicians of the clinic, services); the
    patient record and when the request was sent."""
    clinic = clinic_access(conn, caller, clinic_id)
    patient = clinic_patient(conn, clinic, patient_id)
    partner = services.partners.registry.available(slug)
    if partner is None:
        raise PlatformError(
            404, "partner-not-found", "partner not found", f"no partner {slug!r} is offered by this server"
        )
    try:
        request = r.request_connection(conn, services, clinic, patient, partner, caller.user_id)
    except r.AlreadyConnected as connected:
        raise PlatformError(
            409,
            "data-source-connected",
            "already connected",
            f"the patient's {partner.display_name} account is already connected",
        ) from connected
    except r.NoEmailAddress as missing:
        raise PlatformError(
            400,
            "value-not-exists",
            "value does not exist",
            "the patient has no email address to send the request to",
        ) from missing
    return patient, request.last_sent_time


@router.post("/v1/clinics/{clinic_id}/patients/{patient_id}/connect/{slug}", status_code=204)
def send_provider_connect_request(
    clinic_id: str, patient_id: str, slug: str, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Email the patient a link (a restricted token for ``/v1/oauth/<slug>``, 30 days) that connects
    their ``slug`` account (clinicians of the clinic, services). Also a resend while not connected;
    a reminder follows after 7 days unless connected. 204; 409 when already connected."""
    _connection_request(clinic_id, patient_id, slug, caller, services, conn)
    return Response(status_code=204)


@router.post("/v1/clinics/{clinic_id}/patients/{patient_id}/send_dexcom_connect_request")
def send_dexcom_connect_request(
    clinic_id: str, patient_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """The older Dexcom-only form of ``.../connect/dexcom``: 200 with the patient record and its
    ``lastRequestedDexcomConnectTime``, as Tidepool's clinic service answers."""
    patient, sent = _connection_request(clinic_id, patient_id, "dexcom", caller, services, conn)
    return json_response({**patient.public(), "lastRequestedDexcomConnectTime": timestamp(sent)})

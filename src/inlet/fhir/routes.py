"""FHIR endpoints (HL7 FHIR CGM IG): ``GET /v1/fhir/metadata``, ``POST /v1/fhir/$submit-cgm-bundle``,
``GET /v1/fhir/cgm/:userId``. Answers are ``application/fhir+json``; errors are OperationOutcome.

Who is asking: the session header or a restricted token for the path (``restricted_token=``).
``metadata`` needs no credentials. A submission needs a person (a service has no one to file data
under: 403) and stores for that person, whoever the bundle's subject is. A CGM bundle needs view
permission on ``userId`` (owner, custodian, a viewer or clinic, a server).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response

from inlet import __version__
from inlet.accounts.deps import SESSION_HEADER, Caller, current_caller, permissions_for
from inlet.api.deps import get_services
from inlet.api.errors import PlatformError
from inlet.data import queries
from inlet.db.engine import read_only
from inlet.fhir import codes
from inlet.fhir.bundle import cgm_bundle
from inlet.fhir.reads import cgm_docs
from inlet.fhir.receive import Rejected, operation_outcome, submit
from inlet.model.glucose import MGDL, MMOLL

router = APIRouter(tags=["fhir"])
FHIR_JSON = "application/fhir+json"
VIEW = frozenset({"root", "custodian", "view"})
DEFAULT_DAYS = 14
MAX_DAYS = 90
Text = Annotated[str | None, Query()]


def fhir_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)


class FhirError(Exception):
    """An error answered as an OperationOutcome."""

    def __init__(self, status: int, text: str, code: str = "invalid", where: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.body = operation_outcome([(where, text)], code=code)


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(FhirError)
    async def fhir_error(request: Request, exc: FhirError) -> Response:
        return fhir_response(exc.body, exc.status)


def _bearer(request: Request) -> Caller | None:
    """``Authorization: Bearer <session token>``, as FHIR clients send it (the same sessions as the
    ``x-tidepool-session-token`` header, which wins when both are sent)."""
    header = request.headers.get("authorization", "")
    if SESSION_HEADER in request.headers or not header.lower().startswith("bearer "):
        return None
    token = header[7:].strip()
    services = get_services(request)
    with read_only(services.engine) as conn:
        session = services.accounts.resolve_session(conn, token)
    if session is None:
        raise FhirError(401, "the bearer token is not valid", "login")
    if session.kind == "server":
        return Caller("service", session_token=token)
    return Caller("user", user_id=session.user_id, session_token=token)


def _caller(request: Request) -> Caller:
    bearer = _bearer(request)
    if bearer is not None:
        return bearer
    try:
        caller = current_caller(request)
    except PlatformError as error:
        code = "login" if error.status == 401 else "forbidden"
        raise FhirError(error.status, "the credentials are not valid for this path", code) from error
    if caller.is_anonymous:
        raise FhirError(401, "a session token or a restricted token is required", "login")
    return caller


@router.get("/v1/fhir/metadata", responses={200: {"description": "the CapabilityStatement"}})
def metadata(request: Request) -> Response:
    """The CapabilityStatement: a cgm-data-receiver (``$submit-cgm-bundle``) that also serves bundles."""
    base = get_services(request).settings.public_url.rstrip("/") + "/v1/fhir"
    return fhir_response(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-12-01",
            "kind": "instance",
            "instantiates": [codes.RECEIVER_CAPABILITY],
            "software": {"name": "Inlet", "version": __version__},
            "implementation": {"description": "Inlet FHIR CGM endpoint", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": "x-tidepool-session-token header, or a restricted_token for the path"
                    },
                    "operation": [
                        {
                            "name": "submit-cgm-bundle",
                            "definition": f"{codes.IG}/OperationDefinition/submit-cgm-bundle",
                        }
                    ],
                }
            ],
        }
    )


@router.post(
    "/v1/fhir/$submit-cgm-bundle",
    responses={
        200: {"description": "a transaction-response Bundle, one entry per submitted entry"},
        400: {"description": "OperationOutcome: not a Bundle, or not valid FHIR"},
        401: {"description": "OperationOutcome: no valid credentials"},
        403: {"description": "OperationOutcome: not a person's credentials"},
        422: {"description": "OperationOutcome naming the failing Bundle.entry[i]; nothing stored"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/fhir+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def submit_cgm_bundle(request: Request) -> Response:
    """Store the sensor readings of a CGM Data Submission Bundle for the authenticated person."""
    import anyio.to_thread

    caller = await anyio.to_thread.run_sync(_caller, request)
    if caller.user_id is None:
        raise FhirError(403, "a person's credentials are needed: the data is stored for them", "forbidden")
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise FhirError(400, "the body is not JSON", "structure") from error
    services = get_services(request)
    user_id = caller.user_id

    def store() -> dict[str, Any]:
        with services.engine.begin() as conn:
            return submit(conn, services.data, user_id, body)

    try:
        answer = await anyio.to_thread.run_sync(store)
    except Rejected as rejected:
        return fhir_response(operation_outcome(rejected.issues, code=rejected.code), rejected.status)
    return fhir_response(answer)


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = queries.parse_query_time(value)
    if parsed is None:
        raise FhirError(400, f"{name} is not an RFC 3339 time", "value", name)
    return parsed.astimezone(UTC)


@router.get(
    "/v1/fhir/cgm/{userId}",
    responses={
        200: {"description": "a CGM Data Submission Bundle (transaction)"},
        400: {"description": "OperationOutcome: a parameter that cannot be read"},
        401: {"description": "OperationOutcome: no valid credentials"},
        403: {"description": "OperationOutcome: no permission to view"},
    },
)
def cgm(
    request: Request,
    userId: str,
    start: Text = None,
    end: Text = None,
    units: Text = None,
    report: Text = None,
    restricted_token: Text = None,
) -> Response:
    """The window ``[start, end)`` (default: the 14 days before now; at most 90) as a bundle;
    ``report=true`` adds the AGP report PDF as a DiagnosticReport (``presentedForm``)."""
    services = get_services(request)
    caller = _caller(request)
    chosen = units or MGDL
    if chosen not in (MGDL, MMOLL):
        raise FhirError(400, "units must be mg/dL or mmol/L", "value", "units")
    now = services.accounts.clock().astimezone(UTC)
    until = _instant("end", end) or now
    try:
        since = _instant("start", start) or until - timedelta(days=DEFAULT_DAYS)
    except OverflowError as error:
        raise FhirError(400, "the window is out of range", "value", "end") from error
    if until <= since:
        raise FhirError(400, "end must be after start", "value", "end")
    if until - since > timedelta(days=MAX_DAYS):
        raise FhirError(400, f"a window is at most {MAX_DAYS} days", "value", "start")
    with read_only(services.engine) as conn:
        if not permissions_for(request, conn, caller, userId) & VIEW:
            raise FhirError(403, "no permission to view this person's data", "forbidden")
        docs = cgm_docs(conn, userId, since, until)
        pdf = None
        if report in ("true", "1") and services.report_pdf is not None and docs:
            pdf = services.report_pdf(conn, userId, since, until, chosen)
    return fhir_response(cgm_bundle(userId, docs, since, until, units=chosen, now=now, pdf=pdf))

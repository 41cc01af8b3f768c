"""Server facts: the clock and versions (anyone), and the Prometheus metrics (operators only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from inlet import __version__
from inlet.accounts.tokens import same
from inlet.api.errors import PlatformError
from inlet.model.timeutil import format_utc, now_utc

router = APIRouter(tags=["info"])


@router.get("/v1/time")
def server_time() -> dict[str, Any]:
    """The server's clock (uploaders compare it with the computer's)."""
    return {"data": {"time": format_utc(now_utc())}}


@router.get("/info")
def info() -> dict[str, Any]:
    """Versions, as the uploader checks before uploading."""
    return {"versions": {"uploaderMinimum": "2.0.0", "inlet": __version__}}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"description": "no or a wrong bearer token"}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics (``inlet_*``): this process's sync runs, partner requests and records, and
    from the database the sync queue lag, tasks and data sources (read at most every 15 s).

    Only with ``Authorization: Bearer $INLET_METRICS_TOKEN`` (401 otherwise): the figures disclose
    how many people use which partner. Without that variable the API port does not serve metrics at
    all (404, as for any unknown path); ``--metrics-port`` serves them on loopback instead."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from inlet.sync import metrics as sync_metrics

    services = request.app.state.services
    configured = services.settings.metrics_token
    if configured is None:
        raise HTTPException(404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same(given.strip(), configured.get_secret_value()):
        raise PlatformError(
            401,
            "unauthenticated",
            "authentication token is invalid",
            "metrics need Authorization: Bearer with INLET_METRICS_TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
    body = generate_latest(sync_metrics.serving_registry(services.engine))
    return Response(body, media_type=CONTENT_TYPE_LATEST)

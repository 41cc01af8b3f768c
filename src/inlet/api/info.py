"""Unauthenticated server facts: the clock and versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet import __version__
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


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics (``inlet_*``): this process's sync runs, partner requests and records, and
    from the database the sync queue lag, tasks and data sources. Unauthenticated, as scrapers expect;
    it carries no personal data."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    from inlet.sync import metrics as sync_metrics

    services = request.app.state.services
    body = generate_latest(REGISTRY) + generate_latest(sync_metrics.database_registry(services.engine))
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""The application factory: an app assembled around one :class:`~inlet.services.Services`, built from
settings when not given; nothing happens at import time. Only the CLI, the demo and tests import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from inlet import __version__
from inlet.accounts import (
    access_routes,
    clinic_routes,
    clinician_invite_routes,
    confirm_routes,
    routes,
    settings_routes,
)
from inlet.api import errors, info, status
from inlet.api.body import BodyLimit
from inlet.data import read_routes
from inlet.data import routes as data_routes
from inlet.exports import routes as export_routes
from inlet.fhir import routes as fhir_routes
from inlet.nightscout import routes as nightscout_routes
from inlet.nightscout import routes_v3 as nightscout_v3
from inlet.partners import request_routes
from inlet.partners import routes as partner_routes
from inlet.services import Services, create_services
from inlet.settings import Settings, load_settings
from inlet.summaries import clinic_routes as population_routes
from inlet.summaries import routes as summary_routes
from inlet.sync.service import WorkerStatus, running_worker
from inlet.web import agp_pdf
from inlet.web import routes as web_routes

ROUTERS = (
    info,
    status,
    routes,  # with the user routes (inlet.accounts.user_routes)
    access_routes,
    settings_routes,  # /metadata/:userId/settings
    confirm_routes,  # invitations and password resets (hydrophone)
    clinic_routes,
    clinician_invite_routes,
    request_routes,
    data_routes,
    read_routes,
    partner_routes,
    summary_routes,
    population_routes,
    export_routes,
    fhir_routes,
    agp_pdf,
    nightscout_routes,
    nightscout_v3,
)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    services: Services | None = None,
    worker: bool = False,
    worker_options: dict[str, Any] | None = None,
) -> FastAPI:
    """The app. ``worker``: also run the sync worker (and its housekeeping) in the server's event
    loop while it serves (``inlet serve --worker``, ``inlet demo``); without it the server never syncs."""
    settings = settings or (services.settings if services else load_settings())
    services = services or create_services(settings, engine)
    built = services
    worker_status = WorkerStatus()  # GET /status: this process's worker

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running_worker(built, status=worker_status, **(worker_options or {})):
            yield

    app = FastAPI(
        title="Inlet",
        version=__version__,
        description="Tidepool-compatible diabetes data platform",
        lifespan=lifespan if worker else None,
    )
    app.state.services = services
    app.state.worker_status = worker_status
    services.report_pdf = services.report_pdf or agp_pdf.report_pdf  # FHIR bundles may carry the PDF
    errors.install(app)
    data_routes.install_errors(app)
    fhir_routes.install_errors(app)
    nightscout_routes.install_errors(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    for module in ROUTERS:
        app.include_router(module.router)
    web_routes.install(app)  # the web pages (not in the OpenAPI document) and /static
    return app

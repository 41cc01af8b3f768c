"""The application factory: everything is built here from settings, nothing at import time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Connection, Engine

from inlet import __version__
from inlet.accounts.clinics import clinic_grants
from inlet.accounts.service import AccountService
from inlet.api import errors
from inlet.api.body import BodyLimit
from inlet.data.service import DataService
from inlet.db.engine import create_db_engine
from inlet.notify import Notifier
from inlet.partners.registry import load_registry
from inlet.partners.service import PartnerService
from inlet.partners.vault import load_vault
from inlet.settings import Settings, load_settings

GrantHook = Callable[[Connection, str, str], set[str]]


@dataclass
class Services:
    """What request handlers need, held on ``app.state.services``."""

    settings: Settings
    engine: Engine
    data: DataService
    accounts: AccountService
    partners: PartnerService
    notifier: Notifier = field(default_factory=Notifier)  # outbox only, unless built from settings
    grant_hooks: list[GrantHook] = field(default_factory=list)

    def grants(self, conn: Connection, owner_id: str, grantee_id: str) -> set[str]:
        """Every permission ``owner_id`` gives ``grantee_id``: direct grants, then each hook's (clinics)."""
        have = set(self.accounts.granted(conn, owner_id, grantee_id))
        for hook in self.grant_hooks:
            have |= hook(conn, owner_id, grantee_id)
        return have


def create_services(settings: Settings, engine: Engine | None = None, **overrides: Any) -> Services:
    engine = engine or create_db_engine(settings.resolved_database_url())
    accounts = AccountService(
        password_profile=settings.password_hashing,
        session_ttl_seconds=settings.session_ttl_minutes * 60,
    )
    partners = PartnerService(registry=load_registry(), vault=load_vault(settings))
    services = Services(
        settings=settings,
        engine=engine,
        data=DataService(),
        accounts=accounts,
        partners=partners,
        notifier=Notifier.from_settings(settings),
    )
    # Clinics: what a patient shares with a clinic, every clinician of that clinic holds.
    services.grant_hooks.append(clinic_grants)
    for key, value in overrides.items():
        setattr(services, key, value)
    return services


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
    from inlet.sync.service import WorkerStatus

    worker_status = WorkerStatus()  # GET /status: this process's worker

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from inlet.sync.service import running_worker

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
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    from inlet.accounts import access_routes, clinic_routes, routes
    from inlet.api import info, status
    from inlet.data import read_routes
    from inlet.data import routes as data_routes
    from inlet.partners import routes as partner_routes
    from inlet.web import routes as web_routes

    for module in (
        info,
        status,
        routes,
        access_routes,
        clinic_routes,
        data_routes,
        read_routes,
        partner_routes,
    ):
        app.include_router(module.router)
    web_routes.install(app)  # the web pages (not in the OpenAPI document) and /static
    return app

"""The application factory: everything is built here from settings, nothing at import time."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import Engine

from inlet import __version__
from inlet.data.service import DataService
from inlet.db.engine import create_db_engine
from inlet.model.timeutil import format_utc, now_utc
from inlet.settings import Settings, load_settings


@dataclass
class Services:
    """What request handlers need, held on ``app.state.services``."""

    settings: Settings
    engine: Engine
    data: DataService


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = engine or create_db_engine(settings.resolved_database_url())
    services = Services(settings=settings, engine=engine, data=DataService())

    app = FastAPI(
        title="Inlet", version=__version__, description="Tidepool-compatible diabetes data platform"
    )
    app.state.services = services

    @app.get("/v1/time", tags=["info"])
    def server_time() -> dict[str, dict[str, str]]:
        """The server's clock (uploaders compare it with the computer's)."""
        return {"data": {"time": format_utc(now_utc())}}

    @app.get("/info", tags=["info"])
    def info() -> dict[str, dict[str, str]]:
        """Versions, as the uploader checks before uploading."""
        return {"versions": {"uploaderMinimum": "2.0.0", "inlet": __version__}}

    return app

"""A live Inlet server on loopback for tests that speak real HTTP (the platform client, schemathesis,
the authorization matrix).

One server per test session, over a fresh migrated SQLite file, served by uvicorn in a background
thread on ``127.0.0.1`` and a port the kernel picks. ``public_url`` is the server's own base URL, so
links it builds point back at it.

Use it from a conftest.py (or a test module) by importing the fixtures you need::

    from tests.live import live_inlet, live_server  # noqa: F401

``live_server`` is the base URL (``http://127.0.0.1:<port>``, no trailing slash); ``live_inlet`` is the
same server as a :class:`LiveServer`, which also holds the services (engine, settings) and the service
secret, for tests that look at the database or call as a server. However many modules import the
fixtures, the session shares one server (kept in the pytest config's stash), stopped at the end.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller

from inlet.app import create_app
from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade
from inlet.services import Services, create_services
from inlet.settings import Settings

SERVICE_SECRET = "live-server-service-secret-0123456789"
STARTUP_TIMEOUT_SECONDS = 20.0


@dataclass
class LiveServer:
    url: str
    services: Services
    service_secret: str
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def service_headers(self) -> dict[str, str]:
        return {"X-Tidepool-Service-Secret": self.service_secret}

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        self.services.engine.dispose()


def start_live_server(
    directory: Path,
    database_url: str | None = None,
    configure: Callable[[Services], None] | None = None,
    *,
    smtp_url: str | None = None,
    worker_options: dict[str, Any] | None = None,
) -> LiveServer:
    """Migrate a SQLite file in ``directory`` (or ``database_url``) and serve Inlet over it until
    :meth:`LiveServer.stop`; ``directory`` is the data dir. ``configure(services)`` runs before the
    first request (tests set partners, clocks, transports there). ``worker_options``: also run the
    sync worker in the server's event loop, with these options (``create_app(worker=True)``)."""
    database_url = database_url or f"sqlite:///{directory / 'inlet.db'}"
    engine = create_db_engine(database_url)
    upgrade(engine)

    # Bind first: the port must be known before the settings (public_url) are built.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    settings = Settings(
        data_dir=directory,
        database_url=database_url,
        password_hashing="fast-insecure-for-tests",
        service_secret=SERVICE_SECRET,  # type: ignore[arg-type]
        public_url=url,
        smtp_url=smtp_url,
    )
    services = create_services(settings, engine)
    if configure is not None:
        configure(services)
    app = create_app(services=services, worker=worker_options is not None, worker_options=worker_options)
    config = uvicorn.Config(
        app,
        log_config=None,  # leave logging to pytest
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=False,  # as ``inlet serve``: X-Forwarded-For only from INLET_TRUSTED_PROXIES
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="inlet-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
            sock.close()
            engine.dispose()
            raise RuntimeError("the live Inlet server did not start (see the captured log)")
        time.sleep(0.02)
    return LiveServer(url, services, SERVICE_SECRET, server, thread)


_SERVER_KEY = pytest.StashKey[LiveServer]()


def _session_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """The session's one server, started on first use (each fixture below works imported alone)."""
    stash = request.config.stash
    if _SERVER_KEY not in stash:
        stash[_SERVER_KEY] = start_live_server(tmp_path_factory.mktemp("live-server"))
    return stash[_SERVER_KEY]


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The live server's base URL, e.g. ``http://127.0.0.1:43817`` (no trailing slash)."""
    server = _session_server(request, tmp_path_factory)
    yield server.url
    server.stop()  # idempotent: the first fixture torn down at the end of the session stops it


@pytest.fixture(scope="session")
def live_inlet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The same server as :func:`live_server`, with its services and service secret."""
    server = _session_server(request, tmp_path_factory)
    yield server
    server.stop()


class LoopbackSmtpController(Controller):
    """aiosmtpd's controller on port 0 (an SMTP sink for tests): learns its port before its readiness
    probe, which would otherwise connect to port 0."""

    def _trigger_server(self) -> None:
        server: Any = self.server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]

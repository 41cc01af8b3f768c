"""``inlet demo``: the whole platform embedded on one machine.

SQLite in the data directory, both partner simulators (Dexcom-like and ACME) on loopback with Inlet's
partners pointed at them, demo accounts (a patient, and a clinician whose clinic the patient shares
with), and the web API on ``host:port``. Everything it starts is stopped when the server stops.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import uvicorn
from sqlalchemy import Engine

from inlet.accounts import clinics
from inlet.app import create_app
from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade
from inlet.logs import configure_logging
from inlet.model.timeutil import now_utc
from inlet.services import Services, create_services
from inlet.settings import Settings, load_settings
from inlet.simulator.acme import create_acme_app, default_acme_config
from inlet.simulator.core import DEFAULT_CLIENT
from inlet.simulator.dexcom import create_dexcom_app, default_dexcom_config
from inlet.simulator.server import BackgroundSimulator, start_simulator

PATIENT = ("demo-patient@example.org", "demo-patient-password")
CLINICIAN = ("demo-clinician@example.org", "demo-clinician-password")
CLINIC_NAME = "Demo Clinic"

DEMO_HISTORY_DAYS = 14
DEMO_PACE = {
    "INLET_PARTNER_DEXCOM_INTERVAL_MIN": "1",
    "INLET_PARTNER_DEXCOM_INTERVAL_MAX": "2",
    "INLET_PARTNER_ACME_INTERVAL_MIN": "1",
    "INLET_PARTNER_ACME_INTERVAL_MAX": "2",
}

_PARTNER_PATHS = {
    "DEXCOM": ("/v2/oauth2/login", "/v2/oauth2/token", "/v2/oauth2/revoke"),
    "ACME": ("/oauth/authorize", "/oauth/token", "/oauth/revoke"),
}


@dataclass
class Demo:
    url: str
    services: Services
    simulators: dict[str, BackgroundSimulator]

    def stop(self) -> None:
        for simulator in self.simulators.values():
            simulator.stop()
        self.services.engine.dispose()


def partner_environment(simulators: dict[str, BackgroundSimulator]) -> dict[str, str]:
    """``INLET_PARTNER_*`` pointing each partner at its simulator, as an operator would set them."""
    env: dict[str, str] = {}
    for slug, server in simulators.items():
        key = slug.upper()
        authorize, token, revoke = _PARTNER_PATHS[key]
        env.update(
            {
                f"INLET_PARTNER_{key}_AUTHORIZE_URL": server.url + authorize,
                f"INLET_PARTNER_{key}_TOKEN_URL": server.url + token,
                f"INLET_PARTNER_{key}_REVOKE_URL": server.url + revoke,
                f"INLET_PARTNER_{key}_API_URL": server.url,
                f"INLET_PARTNER_{key}_CLIENT_ID": DEFAULT_CLIENT.client_id,
                f"INLET_PARTNER_{key}_CLIENT_SECRET": DEFAULT_CLIENT.client_secret,
            }
        )
    return env


def ensure_demo_accounts(services: Services) -> None:
    """The demo patient and clinician, the clinic, and the patient's sharing with it (idempotent)."""
    accounts = services.accounts
    with services.engine.begin() as conn:
        patient = accounts.find_user(conn, PATIENT[0]) or accounts.create_user(
            conn,
            username=PATIENT[0],
            password=PATIENT[1],
            roles=["patient"],
            profile={"fullName": "Pat Demo"},
        )
        clinician = accounts.find_user(conn, CLINICIAN[0]) or accounts.create_user(
            conn,
            username=CLINICIAN[0],
            password=CLINICIAN[1],
            roles=["clinician"],
            profile={"fullName": "Dr. Casey Demo"},
        )
        if clinics.clinics_for_clinician(conn, clinician.id, offset=0, limit=1):
            return
        now = accounts.now()
        clinic = clinics.create_clinic(conn, now, CLINIC_NAME, {})
        clinics.add_clinician(
            conn,
            now,
            clinic.id,
            clinician.id,
            email=CLINICIAN[0],
            name="Dr. Casey Demo",
            roles=["CLINIC_ADMIN"],
        )
        clinics.add_patient(
            conn,
            now,
            clinic.id,
            patient.id,
            {"fullName": "Pat Demo", "email": PATIENT[0], "birthDate": "1990-04-01"},
            {"view": {}, "upload": {}},
        )


def start_demo(
    settings: Settings | None = None, host: str = "127.0.0.1", port: int = 8000
) -> tuple[Demo, socket.socket]:
    """Start the simulators, prepare the database and accounts; bind the web port (0: any free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    # Demo pace: 14 days of history back-filled on connect, readings uploaded a minute after they
    # happen, and every person polled every 1-2 minutes (the real policy is 45-75 minutes).
    history = now_utc() - timedelta(days=DEMO_HISTORY_DAYS)
    dexcom_config = default_dexcom_config(seed=1)
    acme_config = default_acme_config(seed=1)
    dexcom_config = replace(
        dexcom_config,
        upload_delay=60,
        accounts=tuple(replace(a, history_start=history) for a in dexcom_config.accounts),
    )
    acme_config = replace(
        acme_config,
        upload_delay=60,
        accounts=tuple(replace(a, history_start=history) for a in acme_config.accounts),
    )
    simulators = {
        "dexcom": start_simulator(create_dexcom_app(dexcom_config)),
        "acme": start_simulator(create_acme_app(acme_config)),
    }
    for key, value in {**partner_environment(simulators), **DEMO_PACE}.items():
        os.environ.setdefault(key, value)
    base = settings or load_settings()
    if "INLET_PUBLIC_URL" not in os.environ:
        base = base.model_copy(update={"public_url": url})
    engine: Engine = create_db_engine(base.resolved_database_url())
    upgrade(engine)
    services = create_services(base, engine)
    ensure_demo_accounts(services)
    return Demo(url, services, simulators), sock


def describe(demo: Demo) -> str:
    dexcom = demo.simulators["dexcom"]
    acme = demo.simulators["acme"]
    dexcom_accounts = ", ".join(a.username for a in default_dexcom_config(seed=1).accounts)
    acme_accounts = ", ".join(a.username for a in default_acme_config(seed=1).accounts)
    return "\n".join(
        [
            f"Inlet demo: {demo.url}/   (the web app; Ctrl-C stops)",
            f"  API documentation: {demo.url}/docs",
            f"  patient:    {PATIENT[0]} / {PATIENT[1]}",
            f"  clinician:  {CLINICIAN[0]} / {CLINICIAN[1]}   ({CLINIC_NAME}; the patient shares with it)",
            f"  Dexcom simulator: {dexcom.url}   accounts: {dexcom_accounts} (no password needed)",
            f"  ACME simulator:   {acme.url}   accounts: {acme_accounts}",
            f"  data: {demo.services.settings.resolved_database_url()}",
        ]
    )


def run_demo(host: str, port: int, echo: Callable[[str], None] = print) -> None:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    demo, sock = start_demo(settings, host=host, port=port)
    try:
        echo(describe(demo))
        app = create_app(
            services=demo.services, worker=True, worker_options={"concurrency": 4, "poll_seconds": 2.0}
        )
        config = uvicorn.Config(app, log_config=None, lifespan="on", proxy_headers=False)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        demo.stop()

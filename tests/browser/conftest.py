"""Browser tests: a real Chromium (Debian's, headless, driven by Playwright's sync API) against a real
Inlet server with its sync worker, both partner simulators and an SMTP sink, all on loopback.

One of each per test session: the browser (``chromium``), the stack (``stack``: Inlet served by
uvicorn in a thread over a fresh SQLite file, ``worker=True``, the Dexcom and ACME simulators on real
time with a few days of history, partner intervals of one minute, ``INLET_SMTP_URL`` pointing at an
aiosmtpd server that keeps every message). Each test gets fresh browser contexts from ``new_page``,
closed after the test.

When Chromium is not installed, or cannot start, every browser test is skipped with the reason
(``make browser`` or ``.ci/run`` installs it). Screenshots go to ``docs/screenshots/<name>.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select, update

from inlet.db.schema import sync_tasks
from inlet.demo import partner_environment
from inlet.model.timeutil import now_utc, to_micros
from inlet.partners.registry import load_registry
from inlet.services import Services
from inlet.simulator import (
    BackgroundSimulator,
    create_acme_app,
    create_dexcom_app,
    default_acme_config,
    default_dexcom_config,
    start_simulator,
)
from tests.live import LiveServer, LoopbackSmtpController, start_live_server

try:  # the browser tests skip, with the reason, when Playwright is missing
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INSTALL_HINT = "install it with `make browser` (root: apt-get install chromium); .ci/run does"
# docs/screenshots/ is refreshed on request (INLET_UPDATE_SCREENSHOTS=1 make browser), so an ordinary
# test run never changes committed files; otherwise the screenshots go to a temporary directory.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("INLET_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "inlet-screenshots"
)
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
ADMIN_TOKEN = "browser-tests-simulator-admin"
SERVICE_SECRET = "browser-tests-service-secret-0123456789"
PASSWORD = "a-long-password"
HISTORY = timedelta(days=3)
UPLOAD_DELAY_SECONDS = 60
STARTUP_TIMEOUT_SECONDS = 20.0
SYNC_TIMEOUT_SECONDS = 30.0
# Partner policy: a newly connected person is synced at once (connect makes the task due), then every
# minute; Dexcom's maintenance blackout is dropped so the suite runs at any hour.
PACE = {
    "INLET_PARTNER_DEXCOM_INTERVAL_MIN": "1",
    "INLET_PARTNER_DEXCOM_INTERVAL_MAX": "1",
    "INLET_PARTNER_ACME_INTERVAL_MIN": "1",
    "INLET_PARTNER_ACME_INTERVAL_MAX": "1",
}


# ---- the SMTP sink ----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """The aiosmtpd handler: accepts every message and keeps it."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def wait_for(self, to: str, subject_contains: str, timeout: float = 10.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [m for m in self.messages if m["To"] == to and subject_contains in str(m["Subject"])]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                subjects = [(m["To"], m["Subject"]) for m in self.messages]
                raise AssertionError(f"no email to {to} about {subject_contains!r}; got {subjects}")
            time.sleep(0.1)


# ---- the stack ---------------------------------------------------------------------------------------


@dataclass
class Stack:
    """Inlet (with its worker), both simulators and the SMTP sink."""

    server: LiveServer
    dexcom: BackgroundSimulator
    acme: BackgroundSimulator
    mailbox: Mailbox
    counter: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def services(self) -> Services:
        return self.server.services

    def email(self, label: str) -> str:
        self.counter += 1
        return f"{label}-{self.counter}-{os.getpid()}@example.org"

    def create_user(self, email: str, roles: tuple[str, ...] = ()) -> str:
        """A person with ``PASSWORD``, made directly through the account service; their id."""
        with self.services.engine.begin() as conn:
            user = self.services.accounts.create_user(
                conn, username=email, password=PASSWORD, roles=list(roles), profile={"fullName": "Sam Keys"}
            )
        return str(user.id)

    def user_id(self, email: str) -> str:
        with self.services.engine.connect() as conn:
            user = self.services.accounts.find_user(conn, email)
        assert user is not None, email
        return str(user.id)

    def simulator_admin(self, simulator: BackgroundSimulator, path: str, body: dict[str, Any]) -> Any:
        with httpx.Client(timeout=10) as http:
            response = http.post(
                f"{simulator.url}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
        assert response.status_code == 200, response.text
        return response.json()

    def wait_idle(self, user_id: str, slug: str = "dexcom", timeout: float = SYNC_TIMEOUT_SECONDS) -> None:
        """Until no worker holds the person's sync task (a run in progress would reschedule it)."""
        deadline = time.monotonic() + timeout
        t = sync_tasks.c
        while True:
            with self.services.engine.connect() as conn:
                owner = conn.execute(
                    select(t.lease_owner).where(t.user_id == user_id, t.provider_name == slug)
                ).scalar_one()
            if owner is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the {slug} sync of {user_id} still runs after {timeout:.0f} s")
            time.sleep(0.1)

    def make_due(self, user_id: str, slug: str = "dexcom") -> None:
        """The person's sync task due now, as if its interval had passed."""
        with self.services.engine.begin() as conn:
            conn.execute(
                update(sync_tasks)
                .where(sync_tasks.c.user_id == user_id, sync_tasks.c.provider_name == slug)
                .values(next_run_time=to_micros(now_utc()))
            )


def _simulators() -> tuple[BackgroundSimulator, BackgroundSimulator]:
    history_start = now_utc() - HISTORY
    dexcom = default_dexcom_config(1, admin_token=ADMIN_TOKEN, upload_delay=UPLOAD_DELAY_SECONDS)
    dexcom = replace(dexcom, accounts=tuple(replace(a, history_start=history_start) for a in dexcom.accounts))
    acme = default_acme_config(1, admin_token=ADMIN_TOKEN, upload_delay=UPLOAD_DELAY_SECONDS)
    acme = replace(acme, accounts=tuple(replace(a, history_start=history_start) for a in acme.accounts))
    dexcom_server = start_simulator(create_dexcom_app(dexcom))
    try:
        return dexcom_server, start_simulator(create_acme_app(acme))
    except BaseException:
        dexcom_server.stop()
        raise


def start_inlet(
    directory: Path, smtp_url: str, configure: Callable[[Services], None] | None = None
) -> LiveServer:
    """Inlet over a fresh SQLite file in ``directory`` on a free port, with the sync worker in its
    event loop (``create_app(worker=True)``) polling every 0.2 s."""
    return start_live_server(
        directory,
        configure=configure,
        smtp_url=smtp_url,
        worker_options={"concurrency": 2, "poll_seconds": 0.2},
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    mailbox = Mailbox()
    smtp = LoopbackSmtpController(mailbox, hostname="127.0.0.1", port=0)
    smtp.start()
    try:
        dexcom, acme = _simulators()
        try:

            def configure(services: Services) -> None:
                env = {**partner_environment({"dexcom": dexcom, "acme": acme}), **PACE}
                registry = load_registry(env)
                for partner in list(registry):
                    registry.add(replace(partner, policy=replace(partner.policy, blackouts=())))
                services.partners.registry = registry

            server = start_inlet(
                tmp_path_factory.mktemp("browser-inlet"), f"smtp://127.0.0.1:{smtp.port}", configure
            )
            try:
                yield Stack(server, dexcom, acme, mailbox)
            finally:
                server.stop()
        finally:
            acme.stop()
            dexcom.stop()
    finally:
        smtp.stop()


# ---- the browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the session; skips every browser test, saying why, when it cannot."""
    if sync_playwright is None:
        pytest.skip("browser tests skipped: the playwright Python package is not installed")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip(f"browser tests skipped: Debian's chromium is not installed; {INSTALL_HINT}")
    manager: Playwright = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except Exception as failure:
        manager.stop()
        first = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        pytest.skip(f"browser tests skipped: {executable} could not start ({first}); {INSTALL_HINT}")
    try:
        yield browser
    finally:
        browser.close()
        manager.stop()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(chromium: Browser, stack: Stack) -> Iterator[NewPage]:
    """``new_page(viewport=...)``: a page in a fresh browser context (its own cookies: one person)."""
    contexts: list[BrowserContext] = []

    def make(viewport: dict[str, int] | None = None) -> Page:
        context = chromium.new_context(viewport=viewport or VIEWPORT, base_url=stack.url)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


def screenshot(page: Page, name: str) -> None:
    """A full-page screenshot to ``docs/screenshots/<name>.png`` (with INLET_UPDATE_SCREENSHOTS=1;
    else a temporary directory)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


LINK = re.compile(r"https?://\S+/v1/oauth/(?P<slug>[a-z]+)/authorize\?restricted_token=\S+")

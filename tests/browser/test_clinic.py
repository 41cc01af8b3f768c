"""The clinic screen in a real browser: a clinician creates a clinic and adds patients from the page,
filters to "any low > 4 %", sorts by time in range, opens a patient and marks them reviewed; on the
session's SQLite stack and on an Inlet served over PostgreSQL (when the tests have one)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from inlet.db.engine import create_db_engine
from inlet.summaries import store
from tests.browser.conftest import PASSWORD, VIEWPORT, NewPage, Stack, screenshot
from tests.conftest import DATABASES, _truncate_all
from tests.live import start_live_server

UPLOADER = {"name": "org.example.browser", "version": "1.0.0"}


def _store_cgm(stack: Stack, user_id: str, values: list[int]) -> None:
    """A day and an hour of 5-minute readings ending now, stored as a continuous upload would."""
    services = stack.services
    start = datetime.now(UTC) - timedelta(minutes=5 * len(values))
    with services.engine.begin() as conn:
        data_set = services.data.create_data_set(
            conn, user_id, {"client": UPLOADER, "dataSetType": "continuous", "deviceId": "DexG6_1"}
        )
        services.data.add_data(
            conn,
            data_set,
            [
                {
                    "type": "cbg",
                    "units": "mg/dL",
                    "value": mg,
                    "time": (start + timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "deviceId": "DexG6_1",
                    "timezone": "America/New_York",
                    "timezoneOffset": -300,
                }
                for i, mg in enumerate(values)
            ],
        )
        store.recompute(conn, user_id, services.data.now())


def _log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/profile$"))


@pytest.fixture(scope="module", params=DATABASES)
def clinic_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's stack (SQLite), or Inlet served over the session's PostgreSQL database (emptied;
    no worker: the test computes summaries itself) beside the same simulators."""
    stack: Stack = request.getfixturevalue("stack")
    if request.param == "sqlite":
        yield stack
        return
    url: str = request.getfixturevalue("postgres_database")
    engine = create_db_engine(url)
    _truncate_all(engine)
    engine.dispose()
    server = start_live_server(tmp_path_factory.mktemp("browser-inlet-pg"), url)
    try:
        yield Stack(server, stack.dexcom, stack.acme, stack.mailbox)
    finally:
        server.stop()


@pytest.fixture
def clinic_page(chromium: Browser, clinic_stack: Stack) -> Iterator[NewPage]:
    """Pages on ``clinic_stack``'s server."""
    contexts = []

    def make(viewport: dict[str, int] | None = None) -> Page:
        context = chromium.new_context(viewport=viewport or VIEWPORT, base_url=clinic_stack.url)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


def test_a_clinician_filters_sorts_opens_and_reviews(clinic_page: NewPage, clinic_stack: Stack) -> None:
    stack, new_page = clinic_stack, clinic_page
    shots = stack.server.services.engine.dialect.name == "sqlite"  # one set of screenshots
    email = stack.email("population-doc")
    stack.create_user(email, roles=("clinician",))
    page = new_page()
    _log_in(page, email)
    page.goto("/clinic")
    page.get_by_text("Create a clinic", exact=True).click()
    page.get_by_label("Clinic name").fill("Riverside Diabetes Clinic")
    page.get_by_role("button", name="Create clinic").click()
    expect(page.get_by_role("status")).to_contain_text("The clinic was created.")

    for count, name in enumerate(("Ann Lowe", "Bea Steady", "Cal Hightower"), start=1):
        page.get_by_text("Add a patient", exact=True).click()
        page.get_by_label("Full name").fill(name)
        page.get_by_label("Birth date").fill("2011-04-05")
        page.get_by_role("button", name="Add patient").click()
        expect(page.get_by_role("status")).to_contain_text("The patient was added.")
        expect(page.locator("tr.patient")).to_have_count(count)
    ids = {}
    for row in page.locator("tr.patient").all():
        ids[row.locator("th").inner_text().split()[0]] = row.get_attribute("data-patient")
    _store_cgm(stack, ids["Ann"], [120] * 270 + [60] * 30)
    _store_cgm(stack, ids["Bea"], [120] * 300)
    _store_cgm(stack, ids["Cal"], [120] * 150 + [200] * 150)

    page.reload()
    page.get_by_label("Period").select_option("1d")
    page.get_by_label("Any low > 4 %").check()
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("tr.patient")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-patient", ids["Ann"])
    expect(rows.first.locator('[data-col="lastData"]')).to_contain_text("(America/New_York)")
    if shots:
        screenshot(page, "clinic-any-low")

    page.get_by_label("Any low > 4 %").uncheck()
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(3)
    page.get_by_role("link", name="Time in ranges").click()
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Time in ranges")
    expect(rows.nth(0)).to_have_attribute("data-patient", ids["Bea"])
    expect(rows.nth(1)).to_have_attribute("data-patient", ids["Ann"])
    expect(rows.nth(2)).to_have_attribute("data-patient", ids["Cal"])
    if shots:
        screenshot(page, "clinic-sorted-by-time-in-range")

    ann = page.locator(f'tr.patient[data-patient="{ids["Ann"]}"]')
    ann.get_by_role("link", name="Ann Lowe").click()
    expect(page).to_have_url(re.compile(rf"/data/view/{ids['Ann']}"))
    page.go_back()
    ann = page.locator(f'tr.patient[data-patient="{ids["Ann"]}"]')
    expect(ann.locator('[data-col="reviewed"]')).to_have_text("never")
    ann.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_role("status")).to_contain_text("Marked as reviewed.")
    ann = page.locator(f'tr.patient[data-patient="{ids["Ann"]}"]')
    expect(ann.locator('[data-col="reviewed"]')).to_contain_text("(America/New_York)")
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Time in ranges")  # kept the sort
    if shots:
        screenshot(page, "clinic-reviewed")

"""The web pages in a real browser: sign up and connect Dexcom through the simulator's consent page, the
first sync and the data view; a clinician's connection request by email; a revoked grant and
reconnecting; the login form by keyboard and the profile page on a phone."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from inlet.demo import CLINICIAN, PATIENT, ensure_demo_accounts
from tests.browser.conftest import (
    LINK,
    PASSWORD,
    PHONE,
    SYNC_TIMEOUT_SECONDS,
    NewPage,
    Stack,
    screenshot,
)


def card(page: Page, slug: str = "dexcom") -> Locator:
    return page.locator(f'section.card[data-partner="{slug}"]')


def state_of(scope: Locator) -> Locator:
    return scope.locator("[data-state]")


def reload_until(
    page: Page, ready: Callable[[], bool], what: str, timeout: float = SYNC_TIMEOUT_SECONDS
) -> None:
    """Reload the page until ``ready()`` (the worker runs in the background)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:.0f} s still waiting for {what}")
        time.sleep(0.5)
        page.reload()


def sign_up(page: Page, email: str, name: str = "Robin Example") -> None:
    page.goto("/signup")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/profile$"))
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/profile$"))


def consent(page: Page, account: str, shot: str | None = None) -> None:
    """At the Dexcom simulator's consent page: pick the account and Allow; back on Inlet's page."""
    expect(page.get_by_role("heading", name="Dexcom (simulated)")).to_be_visible()
    page.get_by_label("Username").fill(account)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Allow").click()
    expect(page).to_have_url(re.compile(r"/oauth/dexcom/authorized$"))
    expect(page.get_by_role("heading", name="Dexcom is connected")).to_be_visible()


def wait_for_first_import(page: Page) -> None:
    page.goto("/profile")
    expect(state_of(card(page))).to_have_text("connected")
    last_import = card(page).locator("dt:text-is('Last import') + dd")
    reload_until(
        page, lambda: not last_import.inner_text().startswith("not yet"), "the worker's first Dexcom import"
    )


def connect_dexcom(page: Page, account: str, button: str = "Connect", shot: str | None = None) -> None:
    page.goto("/profile")
    card(page).get_by_role("button", name=button).click()
    consent(page, account, shot)


def test_sign_up_connect_dexcom_and_see_the_synced_chart(new_page: NewPage, stack: Stack) -> None:
    page = new_page()
    email = stack.email("robin")
    sign_up(page, email)

    page.goto("/profile")
    dexcom = card(page)
    expect(dexcom.get_by_role("heading", name="Dexcom")).to_be_visible()
    expect(state_of(dexcom)).to_have_text("disconnected")
    expect(state_of(card(page, "acme"))).to_have_text("disconnected")
    dexcom.get_by_role("button", name="Connect").click()

    consent(page, "SandboxUser1", shot="dexcom-consent")
    page.get_by_role("link", name="Back to your profile").click()
    expect(page).to_have_url(re.compile(r"/profile$"))
    expect(state_of(card(page))).to_have_text("connected")
    expect(card(page).get_by_role("button", name="Disconnect")).to_be_visible()

    wait_for_first_import(page)
    expect(card(page).locator("dt:text-is('Last import') + dd")).not_to_have_text(re.compile("not yet"))
    screenshot(page, "profile-connected")

    page.get_by_role("link", name="See your data").click()
    expect(page).to_have_url(re.compile(rf"/data/view/{stack.user_id(email)}$"))
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    # Imports arrive batch by batch: the readings may follow the first import by a moment.
    daily = page.locator("#daily-heading ~ figure svg[role=img]")
    reload_until(page, lambda: daily.count() == 1, "the daily chart of the imported readings")
    # The chart's accessible name (its <title> and <desc>) says, in words, what it draws.
    expect(daily).to_have_accessible_name(re.compile(r"^Daily view, .* \d+ CGM readings, .* mg/dL"))
    description = daily.locator("desc").text_content() or ""
    match = re.match(r"(\d+) CGM readings, ", description)
    assert match, description
    assert int(match.group(1)) > 0
    assert "mean" in description
    assert "mg/dL" in description
    marks = daily.locator("circle")
    assert marks.count() > 0
    expect(page.locator("#daily-heading ~ p.hint").first).to_contain_text("CGM readings")
    # The time-in-ranges bar keeps its own size (its svg is width="100%": it must not fill the page).
    tir = page.locator("svg.chart-tir").bounding_box()
    assert tir is not None
    assert tir["width"] <= 480, tir
    screenshot(page, "data-view")


def test_clinician_requests_a_connection_and_the_patient_connects_from_the_email(
    new_page: NewPage, stack: Stack
) -> None:
    ensure_demo_accounts(stack.services)
    patient_id = stack.user_id(PATIENT[0])
    clinician = new_page()
    log_in(clinician, CLINICIAN[0], CLINICIAN[1])
    clinician.goto("/clinic")
    expect(clinician.get_by_role("heading", name="Clinic workspace")).to_be_visible()
    row = clinician.locator(f'tr.patient[data-patient="{patient_id}"]')
    dexcom = row.locator('li[data-partner="dexcom"]')
    expect(state_of(dexcom)).to_have_text("disconnected")
    dexcom.get_by_role("button", name="Request connection").click()

    expect(clinician.get_by_role("status")).to_contain_text("The Dexcom connection request was emailed")
    dexcom = clinician.locator(f'tr.patient[data-patient="{patient_id}"] li[data-partner="dexcom"]')
    expect(dexcom.get_by_role("button", name="Resend")).to_be_visible()
    expect(dexcom.locator("[data-request]")).to_have_attribute("data-request", "requested")
    acme = clinician.locator(f'tr.patient[data-patient="{patient_id}"] li[data-partner="acme"]')
    expect(acme.get_by_role("button", name="Request connection")).to_be_visible()
    screenshot(clinician, "clinic-requested")

    email = stack.mailbox.wait_for(PATIENT[0], "Dexcom")
    body = email.get_content()
    found = LINK.search(body)
    assert found, body
    assert found.group(0).startswith(f"{stack.url}/v1/oauth/dexcom/authorize?restricted_token=")

    patient = new_page()  # the patient's own browser: not logged in, the link alone authorizes
    patient.goto(found.group(0))
    consent(patient, "SandboxUser7")

    clinician.reload()
    dexcom = clinician.locator(f'tr.patient[data-patient="{patient_id}"] li[data-partner="dexcom"]')
    expect(state_of(dexcom)).to_have_text("connected")
    expect(dexcom.get_by_role("button")).to_have_count(0)
    screenshot(clinician, "clinic-connected")


def test_a_revoked_grant_shows_an_error_and_reconnect_fixes_it(new_page: NewPage, stack: Stack) -> None:
    page = new_page()
    email = stack.email("revoked")
    sign_up(page, email, "Alex Revoked")
    connect_dexcom(page, "SandboxUser2")
    wait_for_first_import(page)

    # The person withdraws Inlet's access at Dexcom; the access token has run out, so the next run
    # asks for a new one and is refused.
    user_id = stack.user_id(email)
    stack.wait_idle(user_id)  # the first run over, so nothing reschedules the task after make_due
    revoked = stack.simulator_admin(stack.dexcom, "/admin/grants/revoke", {"account": "SandboxUser2"})
    assert revoked["revoked"] >= 1
    stack.simulator_admin(stack.dexcom, "/admin/tokens/expire", {"kind": "access"})
    stack.make_due(user_id)

    reload_until(page, lambda: state_of(card(page)).inner_text() == "error", "the Dexcom card to show error")
    dexcom = card(page)
    problem = dexcom.locator(".problem")
    expect(problem).to_contain_text("What went wrong:")
    expect(problem).to_contain_text("Dexcom no longer lets Inlet read your data")
    expect(problem).to_contain_text("Choose Reconnect")
    expect(dexcom.get_by_role("button", name="Reconnect")).to_be_visible()
    screenshot(page, "profile-error")

    dexcom.get_by_role("button", name="Reconnect").click()
    consent(page, "SandboxUser2")
    page.goto("/profile")
    expect(state_of(card(page))).to_have_text("connected")
    expect(card(page).get_by_role("button", name="Disconnect")).to_be_visible()


def test_login_by_keyboard_and_the_profile_on_a_phone(new_page: NewPage, stack: Stack) -> None:
    email = stack.email("keys")
    stack.create_user(email)

    page = new_page()
    page.goto("/login")
    screenshot(page, "login")

    def focused() -> str:
        return str(page.evaluate("document.activeElement && document.activeElement.id"))

    for _ in range(15):  # the skip link and the navigation come first
        page.keyboard.press("Tab")
        if focused() == "email":
            break
    assert focused() == "email", "Tab never reached the email field"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert focused() == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/profile$"))
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()

    phone = new_page(viewport=PHONE)
    log_in(phone, email)
    phone.goto("/profile")
    expect(state_of(card(phone))).to_have_text("disconnected")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the profile page scrolls sideways on a phone: {width} px wide"
    screenshot(phone, "profile-phone")

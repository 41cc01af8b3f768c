"""Accessibility and care-team sharing in a real browser.

- Every page is audited with axe-core (the npm package in tests/client, injected by Playwright into a
  context that bypasses the pages' content security policy): no serious or critical violation.
- A parent invites a partner from the Share page; the partner gets the email (the SMTP sink), signs up
  from its link with the address filled in, accepts, and sees the child's daily view in mmol/L.
- Each new view is screenshotted (docs/screenshots/ with INLET_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PASSWORD, VIEWPORT, Stack, screenshot

AXE = Path(__file__).resolve().parents[1] / "client" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture
def audited_page(chromium: Browser, stack: Stack) -> Iterator[Any]:
    """``make()``: a page whose context lets Playwright inject axe-core despite the pages' CSP."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed in tests/client: run `make client` (npm)")
    contexts = []

    def make() -> Page:
        context = chromium.new_context(viewport=VIEWPORT, base_url=stack.url, bypass_csp=True)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


def audit(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


# ---- data through the API ------------------------------------------------------------------------


def api_account(stack: Stack, email: str, name: str) -> tuple[str, dict[str, str]]:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        made = http.post("/auth/user", json={"username": email, "password": PASSWORD})
        assert made.status_code == 201, made.text
        headers = {"x-tidepool-session-token": made.headers["x-tidepool-session-token"]}
        user_id = str(made.json()["userid"])
        http.put(f"/metadata/{user_id}/profile", json={"fullName": name}, headers=headers)
    return user_id, headers


def upload(stack: Stack, user_id: str, headers: dict[str, str], datums: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=stack.url, timeout=60) as http:
        made = http.post(
            f"/v1/users/{user_id}/data_sets",
            json={
                "deviceId": datums[0]["deviceId"],
                "client": {"name": "org.example.browser", "version": "1.0.0"},
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
        set_id = made.json()["data"]["id"]
        sent = http.post(f"/v1/datasets/{set_id}/data", json=datums, headers=headers)
        assert sent.status_code == 200, sent.text
        assert (
            http.put(f"/v1/datasets/{set_id}", json={"dataState": "closed"}, headers=headers).status_code
            == 200
        )


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-04-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def child_data(stack: Stack, user_id: str, headers: dict[str, str]) -> None:
    """Two weeks of CGM, a pump day with a suspend, meter readings and pump settings (UTC)."""
    offset = 0

    def datum(kind: str, when: str, device: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "time": when, "timezoneOffset": offset, "deviceId": device, **fields}

    cgm = [
        datum("cbg", at(d, h, m), "Dex-1", units="mg/dL", value=110 + ((h * 37 + d * 11 + m) % 150) - 30)
        for d in range(1, 15)
        for h in range(24)
        for m in (0, 15, 30, 45)
    ]
    upload(stack, user_id, headers, cgm)
    schedule = [
        {"start": 0, "rate": 0.45},
        {"start": 21_600_000, "rate": 0.8},
        {"start": 75_600_000, "rate": 0.6},
    ]
    pump: list[dict[str, Any]] = [
        datum(
            "pumpSettings",
            at(day, 7),
            "Pump-1",
            activeSchedule="School days",
            basalSchedules={"School days": schedule, "Weekend": [{"start": 0, "rate": 0.55}]},
            units={"bg": "mmol/L", "carb": "grams"},
            bgTarget=[{"start": 0, "low": 5.0, "high": 7.0}],
            carbRatio=[{"start": 0, "amount": 12}, {"start": 43_200_000, "amount": 15}],
            insulinSensitivity=[{"start": 0, "amount": 3.0}],
        )
        for day in (2, 9)
    ]
    for day in range(1, 15):
        pump.append(
            datum("basal", at(day, 0), "Pump-1", deliveryType="scheduled", rate=0.6, duration=10 * 3_600_000)
        )
        pump.append(datum("basal", at(day, 10), "Pump-1", deliveryType="temp", rate=0.3, duration=3_600_000))
        pump.append(
            datum("basal", at(day, 11), "Pump-1", deliveryType="scheduled", rate=0.7, duration=13 * 3_600_000)
        )
        for hour, carbs in ((7, 45), (12, 60), (18, 55)):
            pump.append(
                datum("bolus", at(day, hour), "Pump-1", subType="normal", normal=round(carbs / 12, 1))
            )
            pump.append(
                datum(
                    "food",
                    at(day, hour),
                    "Pump-1",
                    nutrition={"carbohydrate": {"net": carbs, "units": "grams"}},
                )
            )
        if day % 3 == 0:
            pump.append(
                datum(
                    "deviceEvent", at(day, 20), "Pump-1", subType="prime", primeTarget="cannula", volume=0.3
                )
            )
        pump.append(datum("smbg", at(day, 7, 5), "Pump-1", units="mg/dL", value=95 + day * 4))
        pump.append(datum("smbg", at(day, 21, 30), "Pump-1", units="mg/dL", value=160 - day * 3))
    pump.append(datum("basal", at(14, 14), "Pump-1", deliveryType="suspend", duration=1_800_000))
    upload(stack, user_id, headers, pump)
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        settings = {"units": {"bg": "mmol/L"}, "siteChangeSource": "cannulaPrime"}
        assert http.put(f"/metadata/{user_id}/settings", json=settings, headers=headers).status_code == 200


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/profile$"))


# ---- the tests ----------------------------------------------------------------------------------


def test_a_parent_invites_a_partner_who_signs_up_from_the_email(audited_page: Any, stack: Stack) -> None:
    parent_email, partner_email = stack.email("parent"), stack.email("partner")
    child_id, headers = api_account(stack, parent_email, "Alex Child")
    child_data(stack, child_id, headers)

    parent = audited_page()
    log_in(parent, parent_email)
    parent.get_by_role("link", name="Share").click()
    expect(parent.get_by_role("heading", name="Share your data")).to_be_visible()
    parent.get_by_label("Their email address").fill(partner_email)
    parent.get_by_label("Also allow them to upload data for you").check()
    parent.get_by_role("button", name="Send the invitation").click()
    expect(parent.get_by_text("Invite sent")).to_be_visible()

    email = stack.mailbox.wait_for(partner_email, "invited you")
    body = email.get_content()
    link = re.search(r"http://\S+/signup\?email=\S+", body)
    assert link, body
    assert "Alex Child invited you" in body

    partner = audited_page()
    partner.goto(link.group(0))
    expect(partner.get_by_label("Email address")).to_have_value(partner_email)
    partner.get_by_label("Your name").fill("Pat Partner")
    partner.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
    partner.get_by_label("Password again").fill(PASSWORD)
    partner.get_by_role("button", name="Sign up").click()
    expect(partner).to_have_url(re.compile(r"/share$"))
    expect(partner.get_by_text("Alex Child invited you to follow their data")).to_be_visible()
    partner.get_by_role("button", name="Accept").click()
    partner.get_by_role("link", name="Alex Child’s data").click()
    expect(partner.get_by_role("heading", name="Data of Alex Child")).to_be_visible()
    expect(partner.locator("[data-units]")).to_have_attribute("data-units", "mmol/L")
    expect(partner.locator("svg.chart-daily, figure svg").first).to_contain_text("mmol/L")
    assert re.search(r"\d+\.\d mmol/L \(\d+ mg/dL\)", partner.locator('[data-stat="mean"]').inner_text())
    screenshot(partner, "shared-daily-mmol")

    parent.reload()
    expect(parent.get_by_role("button", name="Remove Pat Partner")).to_be_visible()
    expect(parent.locator(".person .status")).to_have_text("Sharing")
    screenshot(parent, "share")


def test_every_page_passes_axe(audited_page: Any, stack: Stack) -> None:
    email = stack.email("audited")
    user_id, headers = api_account(stack, email, "Robin Audit")
    child_data(stack, user_id, headers)
    clinician = stack.email("audited-clinician")
    clinician_id = stack.create_user(clinician, roles=("clinician",))
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        token = http.post("/auth/login", auth=(clinician, PASSWORD)).headers["x-tidepool-session-token"]
        made = http.post(
            "/v1/clinics", json={"name": "Harbour Clinic"}, headers={"x-tidepool-session-token": token}
        )
        assert made.status_code == 200, made.text
        http.post(
            f"/v1/clinics/{made.json()['id']}/invites/clinicians",
            json={"email": stack.email("new-doc"), "roles": ["CLINIC_MEMBER"]},
            headers={"x-tidepool-session-token": token},
        )
    assert clinician_id

    findings: dict[str, list[dict[str, Any]]] = {}
    anonymous = audited_page()
    for path in ("/", "/signup", "/login", "/forgot-password", "/confirm-password-reset?resetKey=example"):
        anonymous.goto(path)
        findings[path] = audit(anonymous)
    anonymous.goto("/forgot-password")
    screenshot(anonymous, "forgot-password")
    anonymous.goto("/confirm-password-reset?resetKey=example")
    screenshot(anonymous, "choose-new-password")

    page = audited_page()
    log_in(page, email)
    views = {
        f"/data/view/{user_id}/basics": "basics",
        f"/data/view/{user_id}/trends": "trends",
        f"/data/view/{user_id}/bglog": "bglog",
        f"/data/view/{user_id}/device-settings": "device-settings",
    }
    for path in ("/profile", "/share", f"/data/view/{user_id}", *views, "/logout"):
        page.goto(path)
        findings[path] = audit(page)
        if path in views:
            screenshot(page, views[path])

    doctor = audited_page()
    log_in(doctor, clinician)
    for path in ("/clinic", "/clinic/team"):
        doctor.goto(path)
        findings[path] = audit(doctor)
    doctor.goto("/clinic/team")
    screenshot(doctor, "clinic-team")

    # The audit itself works: an image without a text alternative is a critical violation.
    anonymous.goto("/")
    anonymous.evaluate(
        "document.querySelector('main').appendChild(document.createElement('img')).src = 'data:,'"
    )
    assert "image-alt" in [v["id"] for v in audit(anonymous)]

    failing = {path: found for path, found in findings.items() if found}
    assert not failing, json.dumps(failing, indent=1)[:6000]
    assert len(findings) == 15

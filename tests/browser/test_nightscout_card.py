"""The profile page's "Nightscout uploaders" card in a real browser: enable (the secret shown once and
working at the site), make a token, regenerate, revoke, disable."""

from __future__ import annotations

import hashlib

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewPage, Stack, screenshot
from tests.browser.test_pages import log_in


def ns_card(page: Page):  # type: ignore[no-untyped-def]
    return page.locator('section.card[data-card="nightscout"]')


def status_code(url: str, secret: str) -> int:
    sha1 = hashlib.sha1(secret.encode()).hexdigest()
    return httpx.get(f"{url}api/v1/entries.json", headers={"api-secret": sha1}).status_code


def test_nightscout_card_enable_token_regenerate_disable(new_page: NewPage, stack: Stack) -> None:
    email = stack.email("nightscout")
    stack.create_user(email)
    page = new_page()
    log_in(page, email)
    card = ns_card(page)
    expect(card.locator("[data-state]")).to_have_text("disabled")
    card.get_by_role("button", name="Enable").click()
    expect(card.locator("[data-state]")).to_have_text("enabled")
    secret = card.locator("[data-secret]").inner_text()
    site_url = card.locator("[data-site-url]").inner_text()
    assert site_url.startswith(stack.url + "/ns/")
    assert status_code(site_url, secret) == 200
    card.get_by_text("How to set up your apps").click()
    expect(card.get_by_text("nightscout-librelink-up")).to_be_visible()
    screenshot(page, "profile-nightscout")

    # the secret is shown once: a fresh visit shows no secret
    page.goto("/profile")
    expect(card.locator("[data-secret]")).to_have_count(0)

    card.get_by_label("Token name").fill("Nightguard")
    card.get_by_label("Role").select_option("readable")
    card.get_by_role("button", name="Create token").click()
    token = card.locator("[data-token]").inner_text()
    assert token.startswith("nightguard-")
    assert httpx.get(f"{site_url}api/v1/entries.json?token={token}").status_code == 200
    expect(card.locator("li[data-token-id]")).to_have_count(1)
    card.get_by_role("button", name="Revoke").click()
    expect(card.locator("li[data-token-id]")).to_have_count(0)
    assert httpx.get(f"{site_url}api/v1/entries.json?token={token}").status_code == 401

    card.get_by_role("button", name="Regenerate secret").click()
    new_secret = card.locator("[data-secret]").inner_text()
    assert new_secret != secret
    assert status_code(site_url, new_secret) == 200

    card.get_by_role("button", name="Disable").click()
    expect(card.locator("[data-state]")).to_have_text("disabled")
    assert status_code(site_url, new_secret) == 401

"""Every asset is served from this server; pages load nothing from another site and are no API."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from .conftest import Web, account


def test_the_vendored_assets_are_served(web: Web) -> None:
    htmx = web.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:200]
    css = web.get("/static/inlet.css")
    assert css.status_code == 200
    assert ":focus-visible" in css.text


def test_pages_load_nothing_from_elsewhere_and_are_not_api_endpoints(web: Web, client: TestClient) -> None:
    person = account(client, "pat")
    pages = [web.get(path).text for path in ("/", "/login", "/signup")]
    web.login(person.username)
    pages += [web.get(path).text for path in ("/profile", "/clinic", f"/data/view/{person.user_id}")]
    for page in pages:
        assert not re.search(r'(src|href)="(https?:)?//', page), page
        assert '<script src="/static/htmx.min.js" defer></script>' in page
        assert "<main" in page
        assert 'name="viewport"' in page
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/", "/login", "/signup", "/logout", "/profile", "/clinic", "/data/view/{user_id}"):
        assert path not in paths


def test_every_input_has_a_label(web: Web, client: TestClient) -> None:
    person = account(client, "pat")
    pages = [web.get("/login").text, web.get("/signup").text]
    web.login(person.username)
    pages.append(web.get(f"/data/view/{person.user_id}?day=2026-10-01").text)
    for page in pages:
        for field in re.finditer(r"<input\b[^>]*>", page):
            tag = field.group(0)
            if 'type="hidden"' in tag or 'type="radio"' in tag:
                continue
            found = re.search(r'id="([^"]+)"', tag)
            assert found, tag
            assert f'<label for="{found.group(1)}"' in page, tag

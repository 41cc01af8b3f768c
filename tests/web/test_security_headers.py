"""The pages' content security policy: forms may lead only to this server and to the authorize
endpoints of the partners people can connect (not to any http: or https: site)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from inlet.app import create_app
from inlet.partners.registry import load_registry
from inlet.services import Services
from tests.api.conftest import PARTNER_ENV
from tests.web.conftest import Web, account


def form_action(response: object) -> list[str]:
    policy = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    found = re.search(r"form-action ([^;]+)", policy)
    assert found, policy
    return found.group(1).split()


def test_forms_lead_only_here_and_to_offered_partners(web: Web) -> None:
    targets = form_action(web.get("/login"))
    assert targets == [
        "'self'",
        "http://testserver",  # INLET_PUBLIC_URL
        "https://api.acme-pump.example",
        "https://api.dexcom.com",
    ]


def test_the_policy_follows_the_configured_partners(services: Services) -> None:
    env = {
        **PARTNER_ENV,
        "INLET_PARTNER_DEXCOM_AUTHORIZE_URL": "https://Sandbox.Example.test:8443/v2/oauth2/login?x=1",
        "INLET_PARTNER_ACME_CLIENT_SECRET": "",  # not offered: no credentials
    }
    services.partners.registry = load_registry(env)
    with TestClient(create_app(services=services)) as client:
        account(client, "pat")
        web = Web(client)
        web.login("pat@example.org")
        page = web.get("/profile")
        assert page.status_code == 200
        assert form_action(page) == ["'self'", "http://testserver", "https://sandbox.example.test:8443"]

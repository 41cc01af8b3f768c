"""The whole connect dance over real HTTP, Inlet and the partner simulators on loopback, for Dexcom
(client_secret_post, no PKCE) and ACME (HTTP Basic, PKCE S256); disconnection and revocation;
reconnection; data sources over the API."""

from __future__ import annotations

from urllib.parse import urlsplit

from inlet.model.timeutil import to_micros
from inlet.simulator import BackgroundSimulator
from inlet.simulator.faults import FaultUpdate

from .conftest import CLIENT_ID, Browser, Inlet, outcome, query


def live_grants(sim: BackgroundSimulator) -> list[dict[str, object]]:
    return [g for g in sim.simulator.oauth.store.describe(sim.simulator.now()) if g["revoked"] is None]


def test_dexcom_connect_and_disconnect(
    inlet: Inlet, browser: Browser, dexcom_sim: BackgroundSimulator
) -> None:
    person = inlet.signup()
    token = inlet.restricted_token(person, ["/v1/oauth/dexcom"])

    partner_url = browser.authorize(inlet.url, "dexcom", token)
    assert partner_url.startswith(f"{dexcom_sim.url}/v2/oauth2/login?")
    params = query(partner_url)
    assert params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code"
    assert params["scope"] == "offline_access"
    assert params["redirect_uri"] == f"{inlet.url}/v1/oauth/dexcom/redirect"
    assert "code_challenge" not in params  # Dexcom: no PKCE
    assert len(params["state"]) > 40

    redirect_url = browser.consent(partner_url, "SandboxUser1")
    assert redirect_url.startswith(f"{inlet.url}/v1/oauth/dexcom/redirect?")
    page_url = browser.finish(redirect_url)
    assert page_url == f"{inlet.url}/oauth/dexcom/authorized"
    assert "Dexcom is connected" in inlet.http.get(page_url).text

    # the data source, over the API
    [source] = inlet.data_sources(person)
    assert source["providerType"] == "oauth"
    assert source["providerName"] == "dexcom"
    assert source["state"] == "connected"
    assert source["userId"] == person.user_id
    account = dexcom_sim.simulator.users["SandboxUser1"]  # type: ignore[attr-defined]
    assert source["providerExternalId"] == account.user_id(CLIENT_ID)
    assert len(source["id"]) == 32
    assert source["revision"] == 0
    one = inlet.http.get(f"{inlet.url}/v1/data_sources/{source['id']}", headers=person.headers)
    assert one.status_code == 200
    assert one.json() == source

    # one encrypted provider session, holding the partner's tokens; a sync task due at once
    [session] = inlet.sessions(person.user_id)
    assert session.id == source["providerSessionId"]
    stored = inlet.services.partners.vault.decrypt_json(session.token)
    store = dexcom_sim.simulator.oauth.store
    assert stored["access_token"] in store.by_access
    assert stored["refresh_token"] in store.by_refresh
    assert stored["access_token"] not in session.token
    [task] = inlet.tasks(person.user_id)
    assert task.data_source_id == source["id"]
    assert task.next_run_time <= to_micros(inlet.clock())
    assert task.failure_count == 0
    assert task.lease_owner is None
    assert len(live_grants(dexcom_sim)) == 1

    # the restricted token that started the flow is spent
    again = inlet.http.get(f"{inlet.url}/v1/oauth/dexcom/authorize", params={"restricted_token": token})
    assert again.status_code == 401

    # disconnect: 200, revoked at the partner, tokens gone, state disconnected, no sync task
    response = inlet.http.delete(f"{inlet.url}/v1/oauth/dexcom/authorize", headers=person.headers)
    assert response.status_code == 200
    assert live_grants(dexcom_sim) == []
    assert inlet.sessions(person.user_id) == []
    assert inlet.tasks(person.user_id) == []
    [source] = inlet.data_sources(person)
    assert source["state"] == "disconnected"
    assert "providerSessionId" not in source
    assert source["revision"] == 1
    # disconnecting again is fine (the platform client retries)
    assert (
        inlet.http.delete(f"{inlet.url}/v1/oauth/dexcom/authorize", headers=person.headers).status_code == 200
    )


def test_acme_connect_with_pkce_and_disconnect_by_a_server(
    inlet: Inlet, browser: Browser, acme_sim: BackgroundSimulator
) -> None:
    person = inlet.signup()
    token = inlet.restricted_token(person)  # the default paths (/v1/oauth, /export) cover every partner
    partner_url = browser.authorize(inlet.url, "acme", token)
    params = query(partner_url)
    assert urlsplit(partner_url).path == "/oauth/authorize"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["scope"] == "pump:read offline_access"
    page_url = browser.finish(browser.consent(partner_url, "acme-user-2"))
    assert outcome(page_url) == "authorized"

    [source] = inlet.data_sources(person)
    assert source["state"] == "connected"
    assert source["providerExternalId"] == acme_sim.simulator.users["acme-user-2"].user_id(CLIENT_ID)  # type: ignore[attr-defined]
    [grant] = live_grants(acme_sim)
    assert grant["account"] == "acme-user-2"

    response = inlet.http.delete(
        f"{inlet.url}/v1/users/{person.user_id}/oauth/acme/authorize", headers=inlet.server.service_headers
    )
    assert response.status_code == 200
    assert live_grants(acme_sim) == []
    assert inlet.data_sources(person)[0]["state"] == "disconnected"
    assert inlet.sessions(person.user_id) == []
    assert inlet.tasks(person.user_id) == []


def test_declining_connects_nothing(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    page_url = browser.connect(inlet, person, "dexcom", "SandboxUser1", decision="deny")
    assert outcome(page_url) == "declined"
    page = inlet.http.get(page_url).text
    assert "not connected" in page
    assert "chose not to" in page
    assert inlet.data_sources(person) == []
    assert inlet.sessions(person.user_id) == []
    assert inlet.tasks(person.user_id) == []


def test_reconnecting_replaces_the_session(
    inlet: Inlet, browser: Browser, dexcom_sim: BackgroundSimulator
) -> None:
    person = inlet.signup()
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser1")) == "authorized"
    [first_session] = inlet.sessions(person.user_id)
    [first] = inlet.data_sources(person)
    first_tokens = inlet.services.partners.vault.decrypt_json(first_session.token)

    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser1")) == "authorized"
    [second_session] = inlet.sessions(person.user_id)
    [second] = inlet.data_sources(person)
    assert second_session.id != first_session.id
    assert second["id"] == first["id"]
    assert second["providerSessionId"] == second_session.id
    assert second["revision"] == first["revision"] + 1
    assert len(inlet.tasks(person.user_id)) == 1
    second_tokens = inlet.services.partners.vault.decrypt_json(second_session.token)
    assert second_tokens["access_token"] != first_tokens["access_token"]

    # reconnecting after a disconnect works the same way
    assert (
        inlet.http.delete(f"{inlet.url}/v1/oauth/dexcom/authorize", headers=person.headers).status_code == 200
    )
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser1")) == "authorized"
    [third] = inlet.data_sources(person)
    assert third["id"] == first["id"]
    assert third["state"] == "connected"
    assert len(inlet.tasks(person.user_id)) == 1


def test_connecting_another_partner_account_resets_the_watermarks(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser1")) == "authorized"
    [source] = inlet.data_sources(person)
    progress = {
        "latestDataTime": "2026-03-19T10:00:00Z",
        "earliestDataTime": "2026-03-04T12:00:00Z",
        "lastImportTime": "2026-03-19T11:00:00Z",
    }
    url = f"{inlet.url}/v1/data_sources/{source['id']}"
    updated = inlet.http.put(url, json=progress, headers=inlet.server.service_headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["latestDataTime"] == "2026-03-19T10:00:00.000Z"

    # the same partner account again keeps the progress; another account starts afresh
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser1")) == "authorized"
    assert inlet.data_sources(person)[0]["latestDataTime"] == "2026-03-19T10:00:00.000Z"
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser2")) == "authorized"
    [after] = inlet.data_sources(person)
    assert after["id"] == source["id"]
    assert after["providerExternalId"] != source["providerExternalId"]
    assert not {"latestDataTime", "earliestDataTime", "lastImportTime", "dataSetId"} & after.keys()


def test_a_failed_revoke_never_blocks_the_disconnect(
    inlet: Inlet, browser: Browser, dexcom_sim: BackgroundSimulator
) -> None:
    person = inlet.signup()
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser7")) == "authorized"
    dexcom_sim.simulator.faults.update(FaultUpdate(error_rate=1.0, targets=["revoke"]))
    response = inlet.http.delete(f"{inlet.url}/v1/oauth/dexcom/authorize", headers=person.headers)
    assert response.status_code == 200
    assert len(live_grants(dexcom_sim)) == 1  # the partner still holds the grant ...
    assert inlet.sessions(person.user_id) == []  # ... but Inlet forgot the tokens
    assert inlet.tasks(person.user_id) == []
    assert inlet.data_sources(person)[0]["state"] == "disconnected"


def test_an_unanswered_who_am_i_never_blocks_the_connection(
    inlet: Inlet, browser: Browser, acme_sim: BackgroundSimulator
) -> None:
    acme_sim.simulator.faults.update(FaultUpdate(error_rate=1.0, targets=["data"]))
    person = inlet.signup()
    assert outcome(browser.connect(inlet, person, "acme", "acme-user-1")) == "authorized"
    [source] = inlet.data_sources(person)
    assert source["state"] == "connected"
    assert "providerExternalId" not in source


def test_deleting_a_data_source_disconnects_and_removes_it(
    inlet: Inlet, browser: Browser, acme_sim: BackgroundSimulator
) -> None:
    person = inlet.signup()
    assert outcome(browser.connect(inlet, person, "acme", "acme-user-1")) == "authorized"
    [source] = inlet.data_sources(person)
    url = f"{inlet.url}/v1/data_sources/{source['id']}"
    stranger = inlet.signup()
    assert inlet.http.delete(url, headers=stranger.headers).status_code == 403
    assert inlet.http.delete(url, headers=person.headers).status_code == 200
    assert live_grants(acme_sim) == []
    assert inlet.data_sources(person) == []
    assert inlet.sessions(person.user_id) == []
    assert inlet.tasks(person.user_id) == []
    assert inlet.http.get(url, headers=person.headers).status_code == 404


def test_data_source_updates_are_for_servers_and_validated(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    assert outcome(browser.connect(inlet, person, "dexcom", "SandboxUser1")) == "authorized"
    [source] = inlet.data_sources(person)
    url = f"{inlet.url}/v1/data_sources/{source['id']}"
    server = inlet.server.service_headers
    assert inlet.http.put(url, json={"state": "error"}, headers=person.headers).status_code == 403

    failed = {"state": "error", "error": {"code": "unauthenticated", "detail": "the grant is gone"}}
    response = inlet.http.put(url, json=failed, params={"revision": "0"}, headers=server)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "error"
    assert response.json()["revision"] == 1
    stale = inlet.http.put(url, json={"state": "connected"}, params={"revision": "0"}, headers=server)
    assert stale.status_code == 409
    for body in (
        {"state": "sleeping"},
        {"latestDataTime": "yesterday"},
        {"dataSetId": "not/an/id"},
        {"error": "text"},
        {"providerName": "acme"},
        [],
    ):
        bad = inlet.http.put(url, json=body, headers=server)
        assert bad.status_code == 400, (body, bad.text)
    assert (
        inlet.http.put(f"{inlet.url}/v1/data_sources/{'0' * 32}", json={}, headers=server).status_code == 404
    )
    assert inlet.data_sources(person)[0]["revision"] == 1  # nothing else changed it

"""Every way the connect flow must refuse: a tampered, replayed, expired or foreign state, a replayed
code, a restricted token for another partner or past its time, and callers with no account to
connect. A refusal stores nothing and never disturbs a connection already made."""

from __future__ import annotations

import pytest

from inlet.simulator import BackgroundSimulator
from inlet.simulator.faults import FaultUpdate

from .conftest import Browser, Inlet, outcome, query


def redirect_with(redirect_url: str, **changes: str | None) -> str:
    """``redirect_url`` with query values replaced (``None`` drops one)."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    params = {**query(redirect_url), **changes}
    kept = {k: v for k, v in params.items() if v is not None}
    return urlunsplit(urlsplit(redirect_url)._replace(query=urlencode(kept)))


def nothing_stored(inlet: Inlet, user_id: str) -> bool:
    return not (inlet.sessions(user_id) or inlet.sources(user_id) or inlet.tasks(user_id))


def test_a_tampered_state_is_refused_and_the_real_one_still_works(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    partner_url = browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person))
    redirect_url = browser.consent(partner_url, "SandboxUser1")
    state = query(redirect_url)["state"]
    nonce, signature = state.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    for forged in (
        f"{nonce}.{flipped}{signature[1:]}",  # the signature changed
        f"{nonce[:-1]}{'x' if nonce[-1] != 'x' else 'y'}.{signature}",  # the nonce changed
        nonce,  # no signature
        "",
    ):
        page_url = browser.finish(redirect_with(redirect_url, state=forged))
        assert outcome(page_url) in ("error:state-invalid", "error:state-missing"), forged
    assert outcome(browser.finish(redirect_with(redirect_url, state=None))) == "error:state-missing"
    assert nothing_stored(inlet, person.user_id)
    assert outcome(browser.finish(redirect_url)) == "authorized"


def test_a_replayed_state_is_refused_and_the_connection_stays(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    partner_url = browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person))
    redirect_url = browser.consent(partner_url, "SandboxUser1")
    assert outcome(browser.finish(redirect_url)) == "authorized"
    [session] = inlet.sessions(person.user_id)
    [source] = inlet.sources(person.user_id)

    page_url = browser.finish(redirect_url)
    assert outcome(page_url) == "error:state-used"
    assert "already completed" in inlet.http.get(page_url).text
    assert inlet.sessions(person.user_id) == [session]
    assert inlet.sources(person.user_id) == [source]


def test_an_expired_state_is_refused(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    partner_url = browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person))
    redirect_url = browser.consent(partner_url, "SandboxUser1")
    inlet.clock.advance(minutes=16)
    page_url = browser.finish(redirect_url)
    assert outcome(page_url) == "error:state-expired"
    assert "expired" in inlet.http.get(page_url).text
    assert nothing_stored(inlet, person.user_id)


def test_a_replayed_code_is_refused(inlet: Inlet, browser: Browser, dexcom_sim: BackgroundSimulator) -> None:
    person = inlet.signup()
    first = browser.consent(
        browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person)), "SandboxUser1"
    )
    assert outcome(browser.finish(first)) == "authorized"
    [session] = inlet.sessions(person.user_id)

    # a fresh, valid state carrying the code that was already exchanged
    second = browser.consent(
        browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person)), "SandboxUser1"
    )
    replay = redirect_with(second, code=query(first)["code"])
    assert outcome(browser.finish(replay)) == "error:exchange-failed"
    assert inlet.sessions(person.user_id) == [session]  # nothing replaced
    # (the partner, per RFC 6749 4.1.2, revokes what the reused code had issued: the sync engine
    # will find that connection's tokens refused and ask the person to reconnect)


def test_a_state_for_another_partner_is_refused(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    redirect_url = browser.consent(
        browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person)), "SandboxUser1"
    )
    foreign = redirect_url.replace("/v1/oauth/dexcom/redirect", "/v1/oauth/acme/redirect")
    assert outcome(browser.finish(foreign)) == "error:state-invalid"
    assert nothing_stored(inlet, person.user_id)
    assert outcome(browser.finish(redirect_url)) == "authorized"  # not spent by the foreign attempt


def test_a_restricted_token_for_another_partner_is_refused(inlet: Inlet) -> None:
    person = inlet.signup()
    token = inlet.restricted_token(person, ["/v1/oauth/acme"])
    response = inlet.http.get(f"{inlet.url}/v1/oauth/dexcom/authorize", params={"restricted_token": token})
    assert response.status_code == 403
    ok = inlet.http.get(f"{inlet.url}/v1/oauth/acme/authorize", params={"restricted_token": token})
    assert ok.status_code == 307


def test_an_expired_restricted_token_is_refused(inlet: Inlet) -> None:
    person = inlet.signup()
    token = inlet.restricted_token(person, ["/v1/oauth/dexcom"])  # valid for one hour
    inlet.clock.advance(minutes=61)
    response = inlet.http.get(f"{inlet.url}/v1/oauth/dexcom/authorize", params={"restricted_token": token})
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "unauthenticated"


def test_who_may_start_a_connection(inlet: Inlet) -> None:
    url = f"{inlet.url}/v1/oauth/dexcom/authorize"
    assert inlet.http.get(url).status_code == 401  # nobody
    assert inlet.http.get(url, params={"restricted_token": "made-up"}).status_code == 401
    assert inlet.http.get(url, headers=inlet.server.service_headers).status_code == 403  # no account
    person = inlet.signup()
    assert inlet.http.get(url, headers=person.headers).status_code == 307  # a session works too
    token = inlet.restricted_token(person)
    unknown = inlet.http.get(f"{inlet.url}/v1/oauth/fitbit/authorize", params={"restricted_token": token})
    assert unknown.status_code == 404
    assert inlet.http.get(f"{inlet.url}/oauth/fitbit/authorized").status_code == 404


def test_a_partner_without_credentials_is_not_offered(inlet: Inlet) -> None:
    from dataclasses import replace

    registry = inlet.services.partners.registry
    dexcom = registry.get("dexcom")
    assert dexcom is not None
    registry.add(replace(dexcom, oauth=replace(dexcom.oauth, client_id=None)))
    person = inlet.signup()
    token = inlet.restricted_token(person)
    response = inlet.http.get(f"{inlet.url}/v1/oauth/dexcom/authorize", params={"restricted_token": token})
    assert response.status_code == 404
    registry.add(replace(dexcom, enabled=False))
    response = inlet.http.get(f"{inlet.url}/v1/oauth/dexcom/authorize", params={"restricted_token": token})
    assert response.status_code == 404


def test_partner_errors_end_on_the_error_page(inlet: Inlet, browser: Browser) -> None:
    person = inlet.signup()
    partner_url = browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person))
    state = query(partner_url)["state"]
    redirect = f"{inlet.url}/v1/oauth/dexcom/redirect"
    page_url = browser.finish(f"{redirect}?error=server_error&state={state}")
    assert outcome(page_url) == "error:partner-error"
    # access_denied with a state Inlet never issued is an error, not a polite "declined"
    assert (
        outcome(browser.finish(f"{redirect}?error=access_denied&state=forged.state")) == "error:state-invalid"
    )
    partner_url = browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person))
    assert outcome(browser.finish(f"{redirect}?state={query(partner_url)['state']}")) == "error:code-missing"
    assert nothing_stored(inlet, person.user_id)
    page = inlet.http.get(page_url)
    assert "could not be connected" in page.text
    assert "Nothing was connected" in page.text


@pytest.mark.parametrize("fault", [{"error_rate": 1.0}, {"malformed_rate": 1.0}, {"truncated_rate": 1.0}])
def test_a_token_endpoint_in_trouble_ends_on_the_error_page(
    inlet: Inlet, browser: Browser, dexcom_sim: BackgroundSimulator, fault: dict[str, float]
) -> None:
    person = inlet.signup()
    redirect_url = browser.consent(
        browser.authorize(inlet.url, "dexcom", inlet.restricted_token(person)), "SandboxUser1"
    )
    dexcom_sim.simulator.faults.update(FaultUpdate(targets=["token"], **fault))  # type: ignore[arg-type]
    page_url = browser.finish(redirect_url)
    assert outcome(page_url) == "error:partner-unreachable"
    assert "Try again later" in inlet.http.get(page_url).text
    assert nothing_stored(inlet, person.user_id)

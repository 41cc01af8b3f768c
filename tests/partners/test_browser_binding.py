"""The connect flow is bound to the browser that started it (RFC 6749 section 10.12).

The attack it stops: someone starts connecting *their own* Inlet account, sends the partner's genuine
consent link to a victim, the victim approves at the partner, and the victim's browser lands on
Inlet's redirect URI with a valid code and state: without the binding, the victim's partner data
would flow into the attacker's account. With it, the redirect leg finds no ``inlet_oauth`` cookie
for that state in the victim's browser, never exchanges the code and connects nothing.
SQLite and PostgreSQL (the ``inlet`` fixture)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx

from inlet.simulator import BackgroundSimulator

from .conftest import Browser, Inlet, outcome, query


def codes_exchanged(sim: BackgroundSimulator) -> int:
    store = sim.simulator.oauth.store
    with store.lock:
        return sum(1 for code in store.codes.values() if code.used) + len(store.by_access)


def test_a_consent_completed_in_another_browser_connects_nothing(
    inlet: Inlet, browser: Browser, dexcom_sim: BackgroundSimulator
) -> None:
    attacker = inlet.signup()
    partner_url = browser.authorize(
        inlet.url, "dexcom", inlet.restricted_token(attacker, ["/v1/oauth/dexcom"])
    )
    # The victim's browser: its own cookie jar, which never saw the attacker's authorize leg.
    with httpx.Client(follow_redirects=False, timeout=20) as victim_http:
        victim = Browser(victim_http)
        redirect_url = victim.consent(partner_url, "SandboxUser1")  # genuine consent at the partner
        page_url = victim.finish(redirect_url)
        assert outcome(page_url) == "error:browser-mismatch"
        assert "different browser" in victim_http.get(page_url).text
    assert codes_exchanged(dexcom_sim) == 0  # the code never reached the partner's token endpoint
    assert not inlet.sessions(attacker.user_id)
    assert not inlet.sources(attacker.user_id)
    assert not inlet.tasks(attacker.user_id)

    # The state was spent by that attempt: the attacker cannot replay the victim's code either.
    assert outcome(browser.finish(redirect_url)) == "error:state-used"
    assert codes_exchanged(dexcom_sim) == 0
    assert not inlet.sources(attacker.user_id)


def test_a_cookie_of_another_flow_does_not_match(
    inlet: Inlet, browser: Browser, dexcom_sim: BackgroundSimulator
) -> None:
    """The victim has a flow of their own in progress: its cookie is not the attacker's flow's."""
    attacker, victim_account = inlet.signup(), inlet.signup()
    attack_url = browser.authorize(inlet.url, "dexcom", inlet.restricted_token(attacker))
    with httpx.Client(follow_redirects=False, timeout=20) as victim_http:
        victim = Browser(victim_http)
        victim.authorize(inlet.url, "dexcom", inlet.restricted_token(victim_account))  # sets its cookie
        assert victim_http.cookies.get("inlet_oauth", path="/v1/oauth/dexcom")
        redirect_url = victim.consent(attack_url, "SandboxUser1")
        assert outcome(victim.finish(redirect_url)) == "error:browser-mismatch"
    assert codes_exchanged(dexcom_sim) == 0
    assert not inlet.sources(attacker.user_id)
    assert not inlet.sources(victim_account.user_id)


def test_the_cookie_is_short_lived_http_only_lax_and_scoped_to_the_partner(
    inlet: Inlet, browser: Browser
) -> None:
    person = inlet.signup()
    response = inlet.http.get(
        f"{inlet.url}/v1/oauth/acme/authorize", params={"restricted_token": inlet.restricted_token(person)}
    )
    assert response.status_code == 307
    header = response.headers["set-cookie"]
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie["inlet_oauth"]
    assert len(morsel.value) >= 43  # an HMAC, not the state
    assert morsel.value not in response.headers["location"]
    assert morsel["path"] == "/v1/oauth/acme"
    assert morsel["max-age"] == "900"
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert not morsel["secure"]  # INLET_PUBLIC_URL is http here; https makes it Secure

    # The same browser finishes: connected, and the spent cookie is cleared.
    redirect_url = browser.consent(response.headers["location"], "acme-user-1")
    finished = inlet.http.get(redirect_url)
    assert finished.status_code == 303
    assert outcome(finished.headers["location"]) == "authorized"
    assert 'inlet_oauth=""' in finished.headers["set-cookie"] or "Max-Age=0" in finished.headers["set-cookie"]
    assert query(redirect_url)["state"]

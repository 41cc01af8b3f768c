"""No credential in any log line of a served process: a real ``inlet serve`` subprocess, its access log
on (as in production), its real stdout and stderr captured; the test drives signup, logins (API and
web form, one failing), restricted tokens, both OAuth legs with their code and state, session headers,
cookies, the service secret and credentials in query strings, then searches everything the process
wrote for every one of those values (raw, URL-encoded, hex, base64). SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inlet.simulator import BackgroundSimulator

from .conftest import Browser, outcome, partner_env, query
from .test_no_leaks import leaks

SERVICE_SECRET = "served-logs-service-secret-0123456789"
PASSWORD = "served-logs-password-of-pat"
WRONG_PASSWORD = "served-logs-wrong-password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``inlet serve`` in a subprocess; ``output()`` is everything it wrote (stdout, then stderr)."""

    def __init__(self, directory: Path, env: dict[str, str], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.out, self.err = directory / "serve.out", directory / "serve.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inlet.cli", "serve", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=err,
                cwd=directory,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/v1/time", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"inlet serve did not start:\n{self.output().decode(errors='replace')}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> bytes:
        return self.out.read_bytes() + b"\n" + self.err.read_bytes()


@pytest.fixture
def served(
    db_url: str, tmp_path: Path, dexcom_sim: BackgroundSimulator, acme_sim: BackgroundSimulator
) -> Iterator[Served]:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("INLET_") and not key.startswith("PYTEST")
    }
    env.update(partner_env(dexcom_sim, acme_sim))
    env.update(
        {
            "INLET_DATA_DIR": str(tmp_path),
            "INLET_DATABASE_URL": db_url,
            "INLET_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "INLET_SERVICE_SECRET": SERVICE_SECRET,
            "INLET_PASSWORD_HASHING": "fast-insecure-for-tests",
            "INLET_LOG_LEVEL": "DEBUG",  # every line any library writes, not only the production INFO
        }
    )
    server = Served(tmp_path, env, port)
    try:
        yield server
    finally:
        server.stop()
        dexcom_sim.simulator.reset()
        acme_sim.simulator.reset()


def short_forms(secret: str) -> set[bytes]:
    """Secrets under 16 characters are not searched by ``leaks``: their raw and encoded forms here."""
    raw = secret.encode()
    return {raw, base64.b64encode(raw), raw.hex().encode()}


def test_no_credential_in_the_output_of_a_served_process(served: Served) -> None:
    url = served.url
    secrets: dict[str, str] = {"password": PASSWORD, "wrong password": WRONG_PASSWORD}
    secrets["service secret"] = SERVICE_SECRET
    with httpx.Client(follow_redirects=False, timeout=20) as http:
        browser = Browser(http)
        # signup and API logins: the password in a body and in Basic auth, session tokens in headers
        signup = http.post(f"{url}/auth/user", json={"username": "pat@example.org", "password": PASSWORD})
        assert signup.status_code == 201, signup.text
        user_id = signup.json()["userid"]
        secrets["signup session token"] = signup.headers["x-tidepool-session-token"]
        login = http.post(f"{url}/auth/login", auth=("pat@example.org", PASSWORD))
        assert login.status_code == 200, login.text
        session = login.headers["x-tidepool-session-token"]
        secrets["session token"] = session
        headers = {"x-tidepool-session-token": session}
        assert http.post(f"{url}/auth/login", auth=("pat@example.org", WRONG_PASSWORD)).status_code == 401
        refreshed = http.get(f"{url}/auth/login", headers=headers)
        assert refreshed.status_code == 200, refreshed.text
        session = refreshed.headers.get("x-tidepool-session-token", session)
        secrets["refreshed session token"] = session
        headers = {"x-tidepool-session-token": session}

        # the API's connect: a restricted token in the query, then code and state on the redirect
        token = http.post(f"{url}/v1/users/{user_id}/restricted_tokens", json={}, headers=headers).json()[
            "id"
        ]
        secrets["restricted token"] = token
        partner_url = browser.authorize(url, "dexcom", token)
        secrets["browser cookie (dexcom)"] = http.cookies["inlet_oauth"]
        redirect_url = browser.consent(partner_url, "SandboxUser1")
        params = query(redirect_url)
        secrets.update({"code (dexcom)": params["code"], "state (dexcom)": params["state"]})
        secrets["state nonce (dexcom)"] = params["state"].partition(".")[0]
        assert outcome(browser.finish(redirect_url)) == "authorized"
        assert (
            http.get(f"{url}/v1/oauth/dexcom/authorize", params={"restricted_token": token}).status_code
            == 401
        )

        # the web: the login form (password in a form body), the session cookie, profile Connect
        http.cookies.clear()
        page = http.get(f"{url}/login")
        csrf = CSRF.search(page.text)
        assert csrf is not None
        secrets["login form csrf token"] = csrf.group(1)
        form = {"email": "pat@example.org", "password": WRONG_PASSWORD, "csrf_token": csrf.group(1)}
        assert http.post(f"{url}/login", data=form).status_code == 401
        form["password"] = PASSWORD
        logged_in = http.post(f"{url}/login", data=form)
        assert logged_in.status_code == 303, logged_in.text
        secrets["web session cookie"] = http.cookies["inlet_session"]
        profile = http.get(f"{url}/profile")
        profile_csrf = CSRF.search(profile.text)
        assert profile_csrf is not None
        connect = http.post(
            f"{url}/profile/partners/acme/connect", data={"csrf_token": profile_csrf.group(1)}
        )
        assert connect.status_code == 303, connect.text
        secrets["profile connect token"] = query(connect.headers["location"])["restricted_token"]
        leg = http.get(f"{url}{connect.headers['location']}")
        assert leg.status_code == 307, leg.text
        secrets["browser cookie (acme)"] = http.cookies["inlet_oauth"]
        acme_redirect = browser.consent(leg.headers["location"], "acme-user-1")
        acme = query(acme_redirect)
        secrets.update({"code (acme)": acme["code"], "state (acme)": acme["state"]})
        assert outcome(browser.finish(acme_redirect)) == "authorized"

        # credentials where nobody should put them: query strings, headers, a service call
        stray: dict[str, Any] = {
            "token": "stray-query-token-0123456789",
            "secret": "stray-query-secret-0123456789",
            "password": "stray-query-password-0123456789",
            "api-secret": "stray-query-api-secret-0123456789",
            "code": "stray-query-code-0123456789",
            "state": "stray-query-state-0123456789",
        }
        secrets.update({f"stray {name}": value for name, value in stray.items()})
        http.get(f"{url}/nowhere", params=stray)
        bearer = "stray-bearer-token-0123456789"
        secrets["bearer token"] = bearer
        http.get(
            f"{url}/v1/time",
            headers={"Authorization": f"Bearer {bearer}", "Cookie": "a=stray-cookie-0123456789"},
        )
        secrets["stray cookie"] = "stray-cookie-0123456789"
        bad = "made-up-restricted-token-0123456789"
        secrets["invalid restricted token"] = bad
        assert (
            http.get(f"{url}/v1/oauth/dexcom/authorize", params={"restricted_token": bad}).status_code == 401
        )
        assert (
            http.get(
                f"{url}/auth/user/{user_id}", headers={"X-Tidepool-Service-Secret": SERVICE_SECRET}
            ).status_code
            == 200
        )
        assert http.delete(f"{url}/v1/oauth/dexcom/authorize", headers=headers).status_code == 200
    served.stop()

    output = served.output()
    text = output.decode(errors="replace")
    long_ones = {name: value for name, value in secrets.items() if len(value) >= 16}
    assert leaks(output, long_ones) == []
    for name, value in secrets.items():
        if len(value) < 16:
            assert not any(form in output for form in short_forms(value)), name
    # the access log was on and did log the requests: with their values masked
    assert '"GET /v1/oauth/dexcom/authorize?restricted_token=[masked] HTTP/1.1" 307' in text
    assert re.search(r'"GET /v1/oauth/dexcom/redirect\?code=\[masked\]&state=\[masked\] HTTP/1\.1" 303', text)
    assert '"POST /auth/login HTTP/1.1" 401' in text
    assert "partner dexcom: connected user" in text

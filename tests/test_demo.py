"""``inlet demo`` as a new user runs it: the home page, both simulated partners offered, demo accounts
that work, and data flowing from both partners once they are connected (the worker runs inside)."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_demo_offers_both_partners_and_the_demo_accounts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["INLET_DATA_DIR"] = str(tmp_path / "state")
    process = subprocess.Popen(
        [sys.executable, "-m", "inlet.cli", "demo", "--port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any("ACME simulator" in line for line in lines) and time.monotonic() < deadline:
            lines.append(process.stdout.readline())
        text = "".join(lines)
        base = re.search(r"Inlet demo: (http://127\.0\.0\.1:\d+)", text)
        dexcom = re.search(r"Dexcom simulator: (http://127\.0\.0\.1:\d+)", text)
        acme = re.search(r"ACME simulator: +(http://127\.0\.0\.1:\d+)", text)
        assert base, text
        assert dexcom, text
        assert acme, text
        assert "demo-patient@example.org / demo-patient-password" in text
        with httpx.Client(base_url=base.group(1), timeout=10) as http:
            while time.monotonic() < deadline:  # the accounts are printed just before the server listens
                try:
                    if http.get("/v1/time").status_code == 200:
                        break
                except httpx.ConnectError:
                    time.sleep(0.1)
            credentials = base64.b64encode(b"demo-patient@example.org:demo-patient-password").decode()
            login = http.post("/auth/login", headers={"Authorization": f"Basic {credentials}"})
            assert login.status_code == 200, login.text
            headers = {"x-tidepool-session-token": login.headers["x-tidepool-session-token"]}
            user_id = login.json()["userid"]
            home = http.get("/")
            assert home.status_code == 200
            assert home.headers["content-type"].startswith("text/html")
            for slug, simulator, username in (
                ("dexcom", dexcom.group(1), "SandboxUser1"),
                ("acme", acme.group(1), "acme-user-1"),
            ):
                # a restricted token per flow: a successful connection spends it
                token = http.post(f"/v1/users/{user_id}/restricted_tokens", json={}, headers=headers).json()[
                    "id"
                ]
                response = http.get(f"/v1/oauth/{slug}/authorize", params={"restricted_token": token})
                assert response.status_code == 307
                partner_url = response.headers["location"]
                assert partner_url.startswith(simulator)
                consent = httpx.get(partner_url, timeout=10)
                assert consent.status_code == 200
                assert "Allow" in consent.text
                allowed = httpx.post(
                    partner_url, data={"username": username, "password": "", "decision": "allow"}, timeout=10
                )
                assert allowed.status_code == 302, allowed.text
                back = http.get(allowed.headers["location"])
                assert back.status_code == 303
                assert back.headers["location"].endswith(f"/oauth/{slug}/authorized"), back.headers[
                    "location"
                ]
            # the worker back-fills both partners' history at once (types from each partner)
            seen: set[str] = set()
            while time.monotonic() < deadline + 60 and not {"cbg", "basal", "bolus"} <= seen:
                data = http.get(f"/data/{user_id}", headers=headers)
                assert data.status_code == 200, data.text
                seen = {datum["type"] for datum in data.json()}
                time.sleep(0.5)
            assert {"cbg", "basal", "bolus"} <= seen, seen
            clinician = base64.b64encode(b"demo-clinician@example.org:demo-clinician-password").decode()
            assert (
                http.post("/auth/login", headers={"Authorization": f"Basic {clinician}"}).status_code == 200
            )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        if process.stdout:
            process.stdout.close()

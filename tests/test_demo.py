"""``inlet demo`` as a new user runs it: both simulated partners are offered, demo accounts work."""

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
            token = http.post(f"/v1/users/{user_id}/restricted_tokens", json={}, headers=headers).json()["id"]
            for slug, simulator in (("dexcom", dexcom.group(1)), ("acme", acme.group(1))):
                response = http.get(f"/v1/oauth/{slug}/authorize", params={"restricted_token": token})
                assert response.status_code == 307
                assert response.headers["location"].startswith(simulator)
                consent = httpx.get(response.headers["location"], timeout=10)
                assert consent.status_code == 200
                assert "Allow" in consent.text
            clinician = base64.b64encode(b"demo-clinician@example.org:demo-clinician-password").decode()
            assert (
                http.post("/auth/login", headers={"Authorization": f"Basic {clinician}"}).status_code == 200
            )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        if process.stdout:
            process.stdout.close()

"""``GET /v1/reports/:userId/agp.pdf`` (SQLite and PostgreSQL): one page (pdftoppm), the report's
sections and numbers as text (pdftotext), "not enough data" under 24 hours, who may ask."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inlet.services import Services
from tests.api.conftest import Account
from tests.api.test_data_sets import grant, upload, user

POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")
needs_poppler = pytest.mark.skipif(
    not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) is not installed: apt-get install poppler-utils"
)
WINDOW = {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-10-15T00:00:00Z"}


def cgm_days(days: int, start_day: int = 1, step: int = 15) -> list[dict[str, object]]:
    """``days`` full UTC days of readings every ``step`` minutes (sampleInterval = step)."""
    items = []
    for day in range(start_day, start_day + days):
        for minute in range(0, 1440, step):
            hour, rest = divmod(minute, 60)
            items.append(
                {
                    "type": "cbg",
                    "units": "mg/dL",
                    "value": 60 + (minute // step) % 200,
                    "time": f"2026-10-{day:02d}T{hour:02d}:{rest:02d}:00Z",
                    "deviceId": "Libre_1",
                    "sampleInterval": step * 60_000,
                }
            )
    return items


def pages(pdf: bytes, tmp_path: Path) -> list[Path]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    return sorted(tmp_path.glob("page*.png"))


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def get_pdf(client: TestClient, account: Account, user_id: str, **params: str) -> bytes:
    response = client.get(f"/v1/reports/{user_id}/agp.pdf", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    return response.content


@needs_poppler
def test_a_fortnight_is_one_page_with_every_section(client: TestClient, tmp_path: Path) -> None:
    pat = user(client, "pat")
    upload(client, pat, cgm_days(14), dataSetType="continuous", deviceId="Libre_1")
    pdf = get_pdf(client, pat, pat.user_id, bgUnits="mmol/L", **WINDOW)
    assert len(pages(pdf, tmp_path)) == 1
    text = text_of(pdf, tmp_path)
    for words in (
        "Time in Ranges",
        "Glucose metrics",
        "Ambulatory Glucose Profile",
        "Daily Glucose Profiles",
        "2026-10-01 to 2026-10-14",
        "14 days with CGM data",
        "over 70%",
        "mmol/L",
        "100.0%",  # time CGM active: every 15 minutes with a 15-minute interval
    ):
        assert words in text, words


@needs_poppler
def test_under_24_hours_says_not_enough_data(client: TestClient, tmp_path: Path) -> None:
    pat = user(client, "pat")
    upload(client, pat, cgm_days(1)[:-1], dataSetType="continuous", deviceId="Libre_1")  # 23 h 45 min
    pdf = get_pdf(client, pat, pat.user_id, **WINDOW)
    assert len(pages(pdf, tmp_path)) == 1
    text = text_of(pdf, tmp_path)
    assert "Not enough data" in text
    assert "Ambulatory Glucose Profile" not in text
    upload(client, pat, cgm_days(1, start_day=2)[:1], dataSetType="continuous", deviceId="Libre_1")
    assert "Not enough data" not in text_of(get_pdf(client, pat, pat.user_id, **WINDOW), tmp_path)


def test_who_may_ask(client: TestClient, services: Services) -> None:
    pat, viewer, stranger = user(client, "pat"), user(client, "viewer"), user(client, "stranger")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    url = f"/v1/reports/{pat.user_id}/agp.pdf"
    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert "errors" in anonymous.json()
    assert client.get(url, headers=stranger.headers).status_code == 403
    assert client.get(url, headers=viewer.headers).status_code == 200
    assert client.get(url, params={"bgUnits": "g"}, headers=pat.headers).status_code == 400
    assert (
        client.get(url, params={"startDate": "2020-01-01T00:00:00Z"}, headers=pat.headers).status_code == 400
    )


def test_a_period_off_the_calendar_is_400(client: TestClient) -> None:
    pat = user(client, "pat")
    url = f"/v1/reports/{pat.user_id}/agp.pdf"
    assert client.get(url, params={"endDate": "0001-01-02T00:00:00Z"}, headers=pat.headers).status_code == 400


def test_days_worn_counts_the_persons_calendar_days() -> None:
    """A 14 x 24 h window that starts at noon UTC touches 15 local days (UTC-5): the report says
    "15 of 15" days, never more days worn than the period has."""
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from inlet.web.agp_pdf import report_html

    start = datetime(2026, 10, 1, 12, tzinfo=UTC)
    docs = [
        {
            "type": "cbg",
            "units": "mmol/L",
            "value": 6.5,
            "time": (start + timedelta(minutes=5 * step)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "timezoneOffset": -300,
            "sampleInterval": 300000,
        }
        for step in range(14 * 288)
    ]
    person = SimpleNamespace(profile={"fullName": "Pat"}, username="pat@example.org")
    html = report_html(person, docs, start, start + timedelta(days=14), "mg/dL", start + timedelta(days=14))
    assert "2026-10-01 to 2026-10-15 (15 days)" in html
    assert "15 of 15" in html

"""The export dialog and the printed report in a real browser: open the dialog on the data view,
download the Excel workbook it offers, and print the AGP report (a one-page PDF). Screenshots:
``export-dialog`` and ``agp-report`` (the PDF's page, through pdftoppm)."""

from __future__ import annotations

import base64
import io
import math
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, SCREENSHOTS, NewPage, Stack, screenshot
from tests.browser.test_pages import log_in


def _fortnight(now: datetime) -> list[dict[str, object]]:
    """Fourteen days of 5-minute CGM up to now, with a daily rhythm."""
    start = (now - timedelta(days=14)).replace(second=0, microsecond=0)
    items = []
    for step in range(14 * 288):
        moment = start + timedelta(minutes=5 * step)
        wave = 130 + 55 * math.sin((moment.hour + moment.minute / 60) / 24 * 2 * math.pi)
        items.append(
            {
                "type": "cbg",
                "units": "mg/dL",
                "value": round(wave + 25 * math.sin(step / 7.0)),
                "time": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "timezoneOffset": -300,
                "deviceId": "DexG7_Browser",
                "sampleInterval": 300000,
            }
        )
    return items


def _upload(stack: Stack, email: str, user_id: str) -> None:
    auth = base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        login = http.post("/auth/login", headers={"Authorization": f"Basic {auth}"})
        headers = {"x-tidepool-session-token": login.headers["x-tidepool-session-token"]}
        body = {"client": {"name": "org.example.browser", "version": "1.0.0"}, "dataSetType": "continuous"}
        body["deviceId"] = "DexG7_Browser"
        data_set = http.post(f"/v1/users/{user_id}/data_sets", json=body, headers=headers).json()["data"]
        answer = http.post(
            f"/v1/data_sets/{data_set['id']}/data", json=_fortnight(datetime.now(UTC)), headers=headers
        )
        assert answer.status_code == 200, answer.text


def test_export_dialog_and_printed_report(new_page: NewPage, stack: Stack) -> None:
    email = stack.email("exporter")
    user_id = stack.create_user(email)
    _upload(stack, email, user_id)
    page = new_page()
    log_in(page, email)
    page.goto(f"/data/view/{user_id}")
    page.get_by_text("Export data or print a report").click()
    expect(page.get_by_role("radio", name="Last 30 days")).to_be_visible()
    page.get_by_role("radio", name="Excel workbook (.xlsx)").check()
    page.get_by_role("radio", name="mg/dL").check()
    page.locator("details.export-dialog").scroll_into_view_if_needed()
    screenshot(page, "export-dialog")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export", exact=True).click()
    assert download.value.suggested_filename == "TidepoolExport.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert book.sheetnames[0] == "cbg"
    assert book["cbg"].max_row > 3000

    csrf = page.locator('details.export-dialog input[name="csrf_token"]').input_value()
    report = page.request.post(
        f"/data/view/{user_id}/report", form={"csrf_token": csrf, "period": "14", "bgUnits": "mg/dL"}
    )
    assert report.ok, report.status
    assert report.headers["content-type"] == "application/pdf"
    if shutil.which("pdftoppm") is None:
        return  # the PDF itself is checked page by page in tests/web/test_agp_pdf.py
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "report.pdf"
        pdf.write_bytes(report.body())
        subprocess.run(
            ["pdftoppm", "-r", "80", "-png", "-singlefile", str(pdf), str(Path(tmp) / "page")], check=True
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "page.png", SCREENSHOTS / "agp-report.png")

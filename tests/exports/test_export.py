"""``GET /export/:userId`` on SQLite and PostgreSQL: the workbook opened back with openpyxl (sheets,
header, units, dates, counts equal to ``GET /data``), the JSON export, the NO DATA and EXPORT ERROR
sheets, the window, and who may export."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from inlet.exports.xlsx import EXPORT_ERROR, NO_DATA, write_workbook
from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account
from tests.api.test_data_sets import cbg, grant, read, upload, user

PUMP_SETTINGS = {
    "type": "pumpSettings",
    "time": "2026-10-01T08:00:00Z",
    "timezoneOffset": 120,
    "deviceId": "Pump-1",
    "activeSchedule": "Default",
    "units": {"bg": "mg/dL", "carb": "grams"},
    "basalSchedules": {"Default": [{"start": 0, "rate": 0.8}, {"start": 3600000, "rate": 0.9}]},
    "bgTargets": {"Default": [{"start": 0, "low": 80, "high": 120}]},
    "carbRatios": {"Default": [{"start": 0, "amount": 10}]},
    "insulinSensitivities": {"Default": [{"start": 0, "amount": 40}]},
}
SMBG = {"type": "smbg", "units": "mg/dL", "value": 120, "time": "2026-10-01T09:00:00Z", "deviceId": "Pump-1"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def pat(client: TestClient) -> Account:
    person = user(client, "pat")
    readings = [cbg(m, value=60 + m, timezoneOffset=-300, sampleInterval=300000) for m in range(0, 60, 5)]
    upload(client, person, readings)
    upload(client, person, [PUMP_SETTINGS, SMBG], deviceId="Pump-1")
    return person


def workbook(response: Any) -> openpyxl.Workbook:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert 'filename="TidepoolExport.xlsx"' in response.headers["content-disposition"]
    assert response.headers["content-disposition"].startswith("attachment")
    return openpyxl.load_workbook(io.BytesIO(response.content))


def rows(book: openpyxl.Workbook, name: str) -> list[dict[str, Any]]:
    sheet = book[name]
    values = list(sheet.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, row, strict=True)) for row in values[1:]]


def test_workbook_sheets_header_units_dates_and_counts(client: TestClient, pat: Account) -> None:
    data = read(client, pat.headers, pat.user_id)
    book = workbook(client.get(f"/export/{pat.user_id}", params={"bgUnits": "mg/dL"}, headers=pat.headers))
    by_type: dict[str, int] = {}
    for item in data:
        by_type[item["type"]] = by_type.get(item["type"], 0) + 1
    assert set(book.sheetnames) == set(by_type)
    assert book.sheetnames[:3] == ["cbg", "smbg", "pumpSettings"]  # Tidepool's order, then the rest
    for name in book.sheetnames:
        sheet = book[name]
        header = next(sheet.iter_rows(values_only=True))
        assert header[:2] == ("time", "localTime")
        assert sheet.freeze_panes == "A2"
        assert sheet["A1"].font.b
    cbg_rows = rows(book, "cbg")
    assert len(cbg_rows) == by_type["cbg"] == 12  # equal to GET /data
    first = cbg_rows[0]
    assert first["time"] == datetime(2026, 10, 1, 0, 0)  # a real date cell, UTC
    assert first["localTime"] == datetime(2026, 9, 30, 19, 0)  # time + timezoneOffset
    assert [r["value"] for r in cbg_rows] == [60 + m for m in range(0, 60, 5)]  # back in whole mg/dL
    assert {r["units"] for r in cbg_rows} == {"mg/dL"}
    assert rows(book, "smbg")[0]["value"] == 120
    settings = rows(book, "pumpSettings")
    # the settings row, then one row per schedule entry: 2 basal, 1 target, 1 ratio, 1 sensitivity
    assert len(settings) == 6
    assert settings[0]["activeSchedule"] == "Default"
    assert settings[0]["units.bg"] == "mg/dL"
    entries = {(r["schedule"], r["start"]): r for r in settings[1:]}
    assert entries[("basalSchedules", 3600000)]["rate"] == 0.9
    assert entries[("basalSchedules", 0)]["scheduleName"] == "Default"
    assert (entries[("bgTargets", 0)]["low"], entries[("bgTargets", 0)]["high"]) == (80, 120)
    assert entries[("insulinSensitivities", 0)]["amount"] == 40
    assert entries[("carbRatios", 0)]["amount"] == 10  # grams per unit: not glucose, unchanged
    upload_rows = rows(book, "upload")
    assert "client.name" in upload_rows[0]  # nested fields with dotted names


def test_mmol_is_the_default_and_keeps_stored_values(client: TestClient, pat: Account) -> None:
    book = workbook(client.get(f"/export/{pat.user_id}", headers=pat.headers))
    values = [r["value"] for r in rows(book, "cbg")]
    assert values[0] == pytest.approx(60 / 18.01559, abs=1e-5)
    settings = rows(book, "pumpSettings")
    assert settings[0]["units.bg"] == "mmol/L"


def test_json_is_the_data_documents_in_the_chosen_units(client: TestClient, pat: Account) -> None:
    data = client.get(f"/data/{pat.user_id}", headers=pat.headers)
    response = client.get(f"/export/{pat.user_id}", params={"format": "json"}, headers=pat.headers)
    assert response.status_code == 200
    assert 'filename="TidepoolExport.json"' in response.headers["content-disposition"]
    assert response.json() == data.json()  # mmol/L: the GET /data documents as they are
    mg = client.get(
        f"/export/{pat.user_id}", params={"format": "json", "bgUnits": "mg/dL"}, headers=pat.headers
    ).json()
    assert [d["id"] for d in mg] == [d["id"] for d in data.json()]
    assert [d["value"] for d in mg if d["type"] == "cbg"] == [60 + m for m in range(0, 60, 5)]
    settings = next(d for d in mg if d["type"] == "pumpSettings")
    assert settings["bgTargets"]["Default"][0] == {"start": 0, "low": 80, "high": 120}
    assert settings["units"]["bg"] == "mg/dL"


def test_window_is_inclusive_like_get_data(client: TestClient, pat: Account) -> None:
    params = {"startDate": "2026-10-01T00:10:00Z", "endDate": "2026-10-01T00:20:00Z", "bgUnits": "mg/dL"}
    book = workbook(client.get(f"/export/{pat.user_id}", params=params, headers=pat.headers))
    assert [r["value"] for r in rows(book, "cbg")] == [70, 75, 80]
    assert len(read(client, pat.headers, pat.user_id, type="cbg", **params)) == 3


def test_an_empty_export_has_a_no_data_sheet(client: TestClient) -> None:
    nobody = user(client, "nobody")
    book = workbook(client.get(f"/export/{nobody.user_id}", headers=nobody.headers))
    assert book.sheetnames == [NO_DATA]
    empty = client.get(f"/export/{nobody.user_id}?format=json", headers=nobody.headers)
    assert empty.content == b"[]"


def test_a_failed_export_is_an_export_error_sheet(tmp_path: Path) -> None:
    def failing() -> Any:
        yield {"type": "cbg", "time": "2026-10-01T00:00:00.000Z", "value": 5.5, "units": "mmol/L"}
        raise ConnectionError("the database went away")

    path = tmp_path / "export.xlsx"
    result = write_workbook(failing(), path)
    assert result.error == "ConnectionError"
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [EXPORT_ERROR]
    assert "failed" in str(book[EXPORT_ERROR]["A1"].value)
    assert list(tmp_path.iterdir()) == [path]  # the spool is gone


def test_who_may_export(client: TestClient, services: Services, pat: Account) -> None:
    viewer, stranger = user(client, "viewer"), user(client, "stranger")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    url = f"/export/{pat.user_id}?format=json"
    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"status", "id", "code", "message"}
    assert client.get(url, headers={"x-tidepool-session-token": "bad"}).status_code == 401
    assert client.get(url, headers=stranger.headers).status_code == 403
    for headers in (pat.headers, viewer.headers, SERVICE_HEADERS):
        assert client.get(url, headers=headers).status_code == 200
    token = client.post(
        f"/v1/users/{pat.user_id}/restricted_tokens",
        json={"paths": [f"/export/{pat.user_id}"]},
        headers=pat.headers,
    )
    assert token.status_code == 201, token.text
    restricted = token.json()["id"]
    assert client.get(f"{url}&restricted_token={restricted}").status_code == 200
    assert client.get(f"/data/{pat.user_id}?restricted_token={restricted}").status_code == 403


def test_bad_parameters_are_400(client: TestClient, pat: Account) -> None:
    url = f"/export/{pat.user_id}"
    bad_units = client.get(url, params={"bgUnits": "mg"}, headers=pat.headers)
    assert bad_units.status_code == 400
    assert bad_units.json()["code"] == "invalid_parameters"
    assert client.get(url, params={"startDate": "yesterday"}, headers=pat.headers).status_code == 400


def test_a_type_past_the_row_limit_continues_on_a_second_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inlet.exports import xlsx

    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)  # Excel's limit is 1,048,575 data rows: too many to write here
    docs = [{"type": "cbg", "time": f"2026-10-01T00:0{m}:00.000Z", "value": 5.0 + m} for m in range(5)]
    path = tmp_path / "big.xlsx"
    assert write_workbook(iter(docs), path).documents == 5
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["cbg", "cbg (2)"]
    assert [r[3] for r in book["cbg"].iter_rows(min_row=2, values_only=True)] == [
        5.0,
        6.0,
        7.0,
    ]  # time, localTime, type, value
    assert [r[3] for r in book["cbg (2)"].iter_rows(min_row=2, values_only=True)] == [8.0, 9.0]

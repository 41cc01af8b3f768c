"""The Basics, Trends, BG Log and Device settings pages over uploaded data (both databases): who may
see them, the figures they show, the person's unit, and the Trends filters and toggles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_data_sets import upload

from .conftest import Account, Web, account

BOLUS_ID = "0123456789abcdef0123456789abcdef"


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-04-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def pump(kind: str, when: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "time": when, "timezoneOffset": 0, "deviceId": "Pump-1", **fields}


def seed(client: TestClient, person: Account) -> None:
    """14 days (1-14 April 2026, UTC) of CGM every 30 minutes; on 14 April a suspended pump day
    (1 U/h with 10:00-12:00 suspended: 22 U), a 3 U bolus interrupted at 1.5 U, a 45 g wizard, a
    cannula fill; meter readings on 13 and 14 April; pump settings on 1 and 10 April."""
    cgm = [
        {
            "type": "cbg",
            "units": "mg/dL",
            "value": 90 + (h * 7) % 120,
            "time": at(d, h, m),
            "timezoneOffset": 0,
            "deviceId": "Dex-1",
        }
        for d in range(1, 15)
        for h in range(24)
        for m in (0, 30)
    ]
    upload(client, person, cgm, dataSetType="continuous")
    schedule = [
        {"start": 0, "rate": 0.5},
        {"start": 21_600_000, "rate": 1.0},
        {"start": 79_200_000, "rate": 0.5},
    ]
    settings = {
        "activeSchedule": "Standard",
        "units": {"bg": "mg/dL", "carb": "grams"},
        "bgTarget": [{"start": 0, "low": 100, "high": 120}],
        "carbRatio": [{"start": 0, "amount": 10}],
        "insulinSensitivity": [{"start": 0, "amount": 50}],
    }
    items = [
        pump("pumpSettings", at(1, 8), basalSchedules={"Standard": schedule}, **settings),
        pump("pumpSettings", at(10, 8), basalSchedules={"Standard": [{"start": 0, "rate": 0.8}]}, **settings),
        pump("basal", at(14, 0), deliveryType="scheduled", rate=1.0, duration=10 * 3_600_000),
        pump("basal", at(14, 10), deliveryType="suspend", duration=2 * 3_600_000),
        pump("basal", at(14, 12), deliveryType="scheduled", rate=1.0, duration=12 * 3_600_000),
        pump("bolus", at(14, 9, 55), subType="normal", normal=1.5, expectedNormal=3.0, id=BOLUS_ID),
        pump(
            "wizard",
            at(14, 9, 55),
            units="mg/dL",
            bolus=BOLUS_ID,
            carbInput=45,
            recommended={"carb": 3.0, "correction": 0.0, "net": 3.0},
        ),
        pump("deviceEvent", at(14, 16), subType="prime", primeTarget="cannula", volume=0.3),
        pump("smbg", at(13, 7), units="mg/dL", value=126),
        pump("smbg", at(14, 7), units="mg/dL", value=90),
        pump("smbg", at(14, 19), units="mg/dL", value=151),
    ]
    upload(client, person, items)


@pytest.fixture
def sam(client: TestClient) -> Account:
    person = account(client, "sam")
    seed(client, person)
    return person


def test_basics_shows_insulin_carbs_and_the_calendars(web: Web, client: TestClient, sam: Account) -> None:
    web.login(sam.username)
    page = web.get(f"/data/view/{sam.user_id}/basics")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'aria-current="page">Basics' in text
    assert "Wednesday 1 April 2026 to Tuesday 14 April 2026" in text
    assert "Time in range (CGM)" in text
    assert 'data-stat="total-insulin">23.5 U over 1 day with insulin data' in text  # 22 basal + 1.5 bolus
    assert 'data-stat="daily-dose">23.5 U' in text
    assert 'data-stat="carbs">45 g a day' in text
    assert 'data-stat="automated">0% of basal time' in text
    assert 'data-suspends="1"' in text
    assert "1 boluses: 1 calculator, 1 interrupted." in text
    assert "3 meter readings, 0 calibrations." in text
    assert "Choose what counts as a site change" in text
    client.put(
        f"/metadata/{sam.user_id}/settings", json={"siteChangeSource": "cannulaPrime"}, headers=sam.headers
    )
    text = web.get(f"/data/view/{sam.user_id}/basics").text
    assert 'data-site-change="1">Changed' in text
    assert "1 site changes (counting cannula fills)." in text


def test_trends_filters_and_toggles(web: Web, sam: Account) -> None:
    web.login(sam.username)
    page = web.get(f"/data/view/{sam.user_id}/trends")
    assert page.status_code == 200, page.text
    assert "Wednesday 1 April 2026 to Tuesday 14 April 2026" in page.text  # 2 weeks by default
    assert page.text.count('class="median"') == 48
    assert 'class="band-p100"' in page.text
    assert "Meter readings, 3-hour periods" in page.text
    one = web.get(f"/data/view/{sam.user_id}/trends?weeks=1&shown=1&show=p50&weekday=1").text
    assert "Wednesday 8 April 2026 to Tuesday 14 April 2026" in one
    assert 'class="median"' not in one
    assert 'class="band-p100"' not in one
    assert 'class="band-p50"' in one
    # Tuesdays only: 7 April is outside one week, so only 14 April's 48 readings count.
    assert "48 readings in 48 of 48 half-hours" in one
    assert one.count('href="/data/view/') >= 1
    assert f'href="/data/view/{sam.user_id}?day=2026-04-14"' in one


def test_bg_log_in_the_persons_unit(web: Web, client: TestClient, sam: Account) -> None:
    web.login(sam.username)
    text = web.get(f"/data/view/{sam.user_id}/bglog").text
    assert '07:00: <strong>90</strong></span>, <span class="reading">19:00: <strong>151</strong>' in text
    assert re.search(r'data-day="2026-04-13">.*?07:00: <strong>126</strong>', text, re.S)
    client.put(f"/metadata/{sam.user_id}/settings", json={"units": {"bg": "mmol/L"}}, headers=sam.headers)
    text = web.get(f"/data/view/{sam.user_id}/bglog").text
    assert "07:00: <strong>5.0</strong>" in text  # 90 mg/dL
    assert "19:00: <strong>8.4</strong>" in text  # 151 mg/dL
    assert "Meter readings, Wednesday 1 April 2026 to Tuesday 14 April 2026 (mmol/L)" in text


def test_device_settings_with_history(web: Web, sam: Account) -> None:
    web.login(sam.username)
    text = web.get(f"/data/view/{sam.user_id}/device-settings").text
    assert "<h2" in text
    assert "Pump-1" in text
    assert "Basal schedule Standard (active): 19.2 U a day" in text  # 0.8 U/h, the current one
    assert "Basal schedule Standard (active): 20 U a day" in text  # the earlier one
    assert "Wednesday 1 April 2026: in effect for 9 days" in text
    assert "BG target (mg/dL)" in text
    assert "<td>100</td><td>120</td>" in text


@pytest.mark.parametrize("view", ["basics", "trends", "bglog", "device-settings"])
def test_strangers_may_not_see_the_views(web: Web, client: TestClient, sam: Account, view: str) -> None:
    account(client, "stranger")
    web.login("stranger@example.org")
    assert web.get(f"/data/view/{sam.user_id}/{view}").status_code == 403
    web.logout()
    assert web.get(f"/data/view/{sam.user_id}/{view}").status_code == 303

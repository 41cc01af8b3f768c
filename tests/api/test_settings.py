"""``/metadata/:userId/settings``: the person's unit and target, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import signup


def test_settings_round_trip_and_unit_switch_converts_the_target(client: TestClient) -> None:
    owner = signup(client, "units@example.org")
    url = f"/metadata/{owner.user_id}/settings"
    assert client.get(url, headers=owner.headers).status_code == 404
    saved = client.put(url, json={"bgTarget": {"low": 80, "high": 160}}, headers=owner.headers)
    assert saved.status_code == 200
    assert saved.json() == {"units": {"bg": "mg/dL"}, "bgTarget": {"low": 80.0, "high": 160.0}}
    switched = client.put(url, json={"units": {"bg": "mmol/L"}}, headers=owner.headers)
    assert switched.json()["bgTarget"] == {"low": 4.4, "high": 8.9}  # 80 and 160 mg/dL
    back = client.put(url, json={"units": {"bg": "mg/dL"}}, headers=owner.headers)
    assert back.json()["bgTarget"] == {"low": 79.0, "high": 160.0}  # 4.4 mmol/L reads 79 mg/dL
    assert client.get(url, headers=owner.headers).json() == back.json()
    site = client.put(url, json={"siteChangeSource": "tubingPrime"}, headers=owner.headers)
    assert site.json()["siteChangeSource"] == "tubingPrime"


def test_settings_refuse_bad_values_in_the_platform_format(client: TestClient) -> None:
    owner = signup(client, "strict@example.org")
    url = f"/metadata/{owner.user_id}/settings"
    for body, pointer in (
        ({"units": {"bg": "mg/dl"}}, "/units/bg"),
        ({"units": {"bg": "mmol/L"}, "bgTarget": {"low": 70, "high": 180}}, "/bgTarget/low"),
        ({"bgTarget": {"low": 180, "high": 70}}, "/bgTarget/low"),
        ({"siteChangeSource": "sometimes"}, "/siteChangeSource"),
    ):
        refused = client.put(url, json=body, headers=owner.headers)
        assert refused.status_code == 400, body
        assert refused.json()["errors"][0]["source"] == {"pointer": pointer}
    other = signup(client, "nosy@example.org")
    assert client.get(url, headers=other.headers).status_code == 403
    assert client.put(url, json={}, headers=other.headers).status_code == 403

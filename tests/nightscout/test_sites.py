"""A Nightscout site per person: enable/regenerate/disable, tokens with roles, secrets only as keyed
digests, the credential throttle, and one person's site never showing another's data."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import metadata, nightscout_sites, nightscout_tokens
from inlet.services import Services
from tests.api.conftest import signup
from tests.nightscout.conftest import NsSite, make_site


def test_enable_get_regenerate_disable(client: TestClient) -> None:
    owner = signup(client, "a@example.com")
    url = f"/v1/users/{owner.user_id}/nightscout"
    assert client.get(url, headers=owner.headers).status_code == 404
    first = client.put(url, headers=owner.headers).json()
    assert first["siteUrl"].startswith("http://testserver/ns/")
    assert owner.user_id not in first["siteUrl"]
    assert len(first["apiSecret"]) >= 12
    assert client.get(url, headers=owner.headers).json() == {"enabled": True, "siteUrl": first["siteUrl"]}
    base = first["siteUrl"].removeprefix("http://testserver").rstrip("/")
    old = {"api-secret": hashlib.sha1(first["apiSecret"].encode()).hexdigest()}
    assert client.get(f"{base}/api/v1/status.json", headers=old).status_code == 200
    second = client.put(url, headers=owner.headers).json()
    assert second["siteUrl"] == first["siteUrl"]
    assert second["apiSecret"] != first["apiSecret"]
    assert client.get(f"{base}/api/v1/status.json", headers=old).status_code == 401
    new = {"api-secret": hashlib.sha512(second["apiSecret"].encode()).hexdigest()}
    assert client.get(f"{base}/api/v1/status.json", headers=new).status_code == 200
    assert client.delete(url, headers=owner.headers).status_code == 204
    assert client.get(url, headers=owner.headers).json()["enabled"] is False
    assert client.get(f"{base}/api/v1/status.json", headers=new).status_code == 401


def test_only_the_person_or_a_custodian_manages_the_site(client: TestClient) -> None:
    owner = signup(client, "b@example.com")
    other = signup(client, "c@example.com")
    url = f"/v1/users/{owner.user_id}/nightscout"
    assert client.put(url).status_code == 401
    assert client.put(url, headers=other.headers).status_code == 403
    client.put(url, headers=owner.headers)
    assert client.get(url, headers=other.headers).status_code == 403
    assert (
        client.post(
            f"{url}/tokens", json={"name": "x", "roles": ["admin"]}, headers=other.headers
        ).status_code
        == 403
    )
    client.post(f"/access/{owner.user_id}/{other.user_id}", json={"custodian": {}}, headers=owner.headers)
    assert client.get(url, headers=other.headers).status_code == 200


def test_tokens_with_roles(client: TestClient, site: NsSite) -> None:
    url = f"/v1/users/{site.owner.user_id}/nightscout/tokens"
    bad = client.post(url, json={"name": "x", "roles": ["god"]}, headers=site.owner.headers)
    assert bad.status_code == 400
    made = client.post(url, json={"name": "Nightguard", "roles": ["readable"]}, headers=site.owner.headers)
    assert made.status_code == 201
    body = made.json()
    assert set(body) == {"id", "name", "roles", "token"}
    assert body["token"].startswith("nightguard-")
    listed = client.get(url, headers=site.owner.headers).json()
    assert listed == [{"id": body["id"], "name": "Nightguard", "roles": ["readable"]}]
    token = body["token"]
    assert client.get(f"{site.url}/api/v1/entries.json?token={token}").status_code == 200
    sha1 = hashlib.sha1(token.encode()).hexdigest()
    assert client.get(f"{site.url}/api/v1/entries.json", headers={"api-secret": sha1}).status_code == 200
    # readable may not write
    post = client.post(
        f"{site.url}/api/v1/entries.json?token={token}", json=[{"type": "sgv", "sgv": 100, "date": 1}]
    )
    assert post.status_code == 401
    care = client.post(url, json={"name": "care", "roles": ["careportal"]}, headers=site.owner.headers).json()
    ok = client.post(
        f"{site.url}/api/v1/treatments.json?token={care['token']}",
        json={"eventType": "Note", "notes": "hello", "created_at": "2026-12-01T10:00:00Z"},
    )
    assert ok.status_code == 200, ok.text
    assert client.delete(f"{url}/{body['id']}", headers=site.owner.headers).status_code == 204
    assert client.delete(f"{url}/{body['id']}", headers=site.owner.headers).status_code == 404
    assert client.get(f"{site.url}/api/v1/entries.json?token={token}").status_code == 401


def test_verifyauth_always_answers_200(client: TestClient, site: NsSite) -> None:
    anonymous = client.get(f"{site.url}/api/v1/verifyauth")
    assert anonymous.status_code == 200
    message = anonymous.json()["message"]
    assert message["message"] == "UNAUTHORIZED"
    assert not message["canRead"]
    assert not message["canWrite"]
    wrong = client.get(f"{site.url}/api/v1/verifyauth", headers={"api-secret": "0" * 40}).json()["message"]
    assert wrong["message"] == "UNAUTHORIZED"
    right = client.get(f"{site.url}/api/v1/verifyauth", headers=site.headers).json()["message"]
    assert right["message"] == "OK"
    assert right["canRead"]
    assert right["canWrite"]
    assert right["isAdmin"]
    assert client.get(f"{site.url}/api/v1/verifyauth?secret={site.sha1}").json()["message"]["canRead"]


def test_every_other_route_needs_credentials(client: TestClient, site: NsSite) -> None:
    for index, path in enumerate(
        (
            "/api/v1/entries.json",
            "/api/entries.json",
            "/api/v1/treatments.json",
            "/api/v1/devicestatus.json",
            "/api/v1/profile.json",
            "/api/v1/status.json",
            "/api/v1/experiments/test",
        )
    ):
        response = client.get(site.url + path)
        expected = 401 if index < 5 else 429  # missing credentials count as failures too
        assert response.status_code == expected, path
        assert response.json()["status"] == expected


def test_wrong_secret_is_throttled_right_one_included(client: TestClient, site: NsSite) -> None:
    wrong = {"api-secret": hashlib.sha1(b"guess").hexdigest()}
    for _ in range(5):
        assert client.get(f"{site.url}/api/v1/entries.json", headers=wrong).status_code == 401
    locked = client.get(f"{site.url}/api/v1/entries.json", headers=site.headers)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 900


def test_secrets_and_tokens_are_stored_only_as_keyed_digests(
    client: TestClient, site: NsSite, services: Services
) -> None:
    made = client.post(
        f"/v1/users/{site.owner.user_id}/nightscout/tokens",
        json={"name": "loop", "roles": ["admin"]},
        headers=site.owner.headers,
    ).json()
    token = made["token"]
    forbidden = {
        site.secret,
        site.sha1,
        hashlib.sha512(site.secret.encode()).hexdigest(),
        token,
        hashlib.sha1(token.encode()).hexdigest(),
    }
    with services.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                text = repr(tuple(row))
                for value in forbidden:
                    assert value not in text, table.name
        digests = conn.execute(select(nightscout_sites.c.secret_digests)).scalar_one()
        assert len(digests) == 2
        assert all(len(d) == 64 for d in digests)
        assert (
            conn.execute(select(nightscout_tokens.c.digest)).scalar_one()
            != hashlib.sha256(token.encode()).hexdigest()
        )


def test_one_site_never_shows_another_persons_data(client: TestClient, site: NsSite) -> None:
    other = make_site(client, "other@example.com")
    entry = {"type": "sgv", "sgv": 123, "date": 1_764_900_000_000, "device": "xDrip-DexcomG6"}
    assert (
        client.post(f"{other.url}/api/v1/entries.json", json=[entry], headers=other.headers).status_code
        == 200
    )
    # the other person's secret does not open this site, and this site holds none of their data
    assert client.get(f"{site.url}/api/v1/entries.json", headers=other.headers).status_code == 401
    query = "?find[date][$gte]=1764800000000"
    assert client.get(f"{site.url}/api/v1/entries.json{query}", headers=site.headers).json() == []
    assert len(client.get(f"{other.url}/api/v1/entries.json{query}", headers=other.headers).json()) == 1

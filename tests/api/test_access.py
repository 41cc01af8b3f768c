"""Gatekeeper-compatible permissions: listing, reading, setting and removing grants."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import SERVICE_HEADERS, signup


def test_owner_alone_holds_root(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    assert client.get(f"/access/{pat.user_id}", headers=pat.headers).json() == {pat.user_id: {"root": {}}}
    assert client.get(f"/access/groups/{pat.user_id}", headers=pat.headers).json() == {
        pat.user_id: {"root": {}}
    }
    assert client.get(f"/access/{pat.user_id}/{pat.user_id}", headers=pat.headers).json() == {"root": {}}


def test_grant_read_list_and_remove(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    mom = signup(client, "mom@example.org")
    url = f"/access/{pat.user_id}/{mom.user_id}"
    assert client.get(url, headers=pat.headers).status_code == 404

    granted = client.post(url, json={"view": {}, "upload": {}, "root": {}}, headers=pat.headers)
    assert granted.status_code == 200
    assert granted.json() == {"view": {}, "upload": {}}  # root cannot be granted
    assert client.get(url, headers=pat.headers).json() == {"view": {}, "upload": {}}
    assert client.get(url, headers=mom.headers).json() == {"view": {}, "upload": {}}  # the grantee reads it

    assert client.get(f"/access/{pat.user_id}", headers=pat.headers).json() == {
        pat.user_id: {"root": {}},
        mom.user_id: {"view": {}, "upload": {}},
    }
    assert client.get(f"/access/groups/{mom.user_id}", headers=mom.headers).json() == {
        mom.user_id: {"root": {}},
        pat.user_id: {"view": {}, "upload": {}},
    }

    # replacing, then removing with {}
    assert client.post(url, json={"view": {}}, headers=pat.headers).json() == {"view": {}}
    assert client.post(url, json={}, headers=pat.headers).json() == {}
    assert client.get(url, headers=pat.headers).status_code == 404
    assert client.get(f"/access/groups/{mom.user_id}", headers=mom.headers).json() == {
        mom.user_id: {"root": {}}
    }


def test_grants_decide_what_others_may_do(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    mom = signup(client, "mom@example.org")
    client.put(f"/metadata/{pat.user_id}/profile", json={"fullName": "Pat"}, headers=pat.headers)
    profile = f"/metadata/{pat.user_id}/profile"
    assert client.get(profile, headers=mom.headers).status_code == 403
    client.post(f"/access/{pat.user_id}/{mom.user_id}", json={"view": {}}, headers=pat.headers)
    assert client.get(profile, headers=mom.headers).status_code == 200
    client.post(f"/access/{pat.user_id}/{mom.user_id}", json={}, headers=pat.headers)
    assert client.get(profile, headers=mom.headers).status_code == 403


def test_only_owner_custodian_or_service_may_set(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    viewer = signup(client, "viewer@example.org")
    eve = signup(client, "eve@example.org")
    helper = signup(client, "helper@example.org")
    client.post(f"/access/{pat.user_id}/{viewer.user_id}", json={"view": {}}, headers=pat.headers)

    # a viewer may neither widen its own access nor grant others
    assert (
        client.post(
            f"/access/{pat.user_id}/{viewer.user_id}", json={"upload": {}}, headers=viewer.headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/access/{pat.user_id}/{eve.user_id}", json={"view": {}}, headers=viewer.headers
        ).status_code
        == 403
    )
    assert client.post(f"/access/{pat.user_id}/{eve.user_id}", json={"view": {}}).status_code == 401
    # a custodian may
    client.post(f"/access/{pat.user_id}/{helper.user_id}", json={"custodian": {}}, headers=pat.headers)
    assert (
        client.post(
            f"/access/{pat.user_id}/{eve.user_id}", json={"view": {}}, headers=helper.headers
        ).status_code
        == 200
    )
    # and a service
    assert client.post(
        f"/access/{pat.user_id}/{eve.user_id}", json={"note": {}}, headers=SERVICE_HEADERS
    ).json() == {"note": {}}
    # a grantee may leave: remove its own access
    assert (
        client.post(f"/access/{pat.user_id}/{viewer.user_id}", json={}, headers=viewer.headers).status_code
        == 200
    )
    assert client.get(f"/access/{pat.user_id}/{viewer.user_id}", headers=pat.headers).status_code == 404


def test_reading_needs_owner_custodian_grantee_or_service(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    mom = signup(client, "mom@example.org")
    eve = signup(client, "eve@example.org")
    client.post(f"/access/{pat.user_id}/{mom.user_id}", json={"view": {}}, headers=pat.headers)
    for url in (
        f"/access/{pat.user_id}",
        f"/access/groups/{pat.user_id}",
        f"/access/{pat.user_id}/{mom.user_id}",
    ):
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers=eve.headers).status_code == 403, url
        assert client.get(url, headers=SERVICE_HEADERS).status_code == 200, url
    # a viewer is not a custodian: it may not list who else sees the account
    assert client.get(f"/access/{pat.user_id}", headers=mom.headers).status_code == 403
    assert client.get("/access/0123456789", headers=SERVICE_HEADERS).status_code == 404


def test_invalid_bodies_and_ids(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    mom = signup(client, "mom@example.org")
    url = f"/access/{pat.user_id}/{mom.user_id}"
    for body, code in (
        ({"admin": {}}, "value-not-allowed"),
        ({"view": True}, "type-not-object"),
        (["view"], "type-not-object"),
    ):
        response = client.post(url, json=body, headers=pat.headers)
        assert (response.status_code, response.json()["errors"][0]["code"]) == (400, code)
    assert client.post(url, content=b"{", headers=pat.headers).status_code == 400
    # an empty body removes, as gatekeeper
    assert client.post(url, content=b"", headers=pat.headers).json() == {}
    # granting to nobody
    assert (
        client.post(f"/access/{pat.user_id}/0123456789", json={"view": {}}, headers=pat.headers).status_code
        == 404
    )
    # odd ids are refused, never an error
    for odd in ("%00", "x" * 500, "groups"):
        assert client.get(f"/access/{odd}", headers=pat.headers).status_code == 403
        assert client.get(f"/access/{pat.user_id}/{odd}", headers=pat.headers).status_code == 404
        assert (
            client.post(
                f"/access/{odd}/{pat.user_id}", json={"view": {}}, headers=SERVICE_HEADERS
            ).status_code
            == 404
        )

"""Dexcom's API v3, HTTP only: ``{api_url}/v3/users/self/...`` with the person's bearer token.

Today the framework asks one thing of it, who the connected account is: every v3 response carries
``userId`` (stable per account and app), and ``dataRange`` is the cheapest call that returns it. The
data calls (egvs, events, calibrations, alerts, devices) come with the sync engine.
"""

from __future__ import annotations

from typing import Any

from inlet.partners.contract import PartnerClient


class Client(PartnerClient):
    def data_range(self, last_sync_time: str | None = None) -> dict[str, Any]:
        """``GET /v3/users/self/dataRange[?lastSyncTime=...]``: the account's first and last records."""
        params = {"lastSyncTime": last_sync_time} if last_sync_time else None
        response = self.http.get(self.url("/v3/users/self/dataRange"), params=params)
        response.raise_for_status()
        body = response.json()
        return body if isinstance(body, dict) else {}

    def external_id(self) -> str | None:
        user_id = self.data_range().get("userId")
        return user_id if isinstance(user_id, str) and user_id else None

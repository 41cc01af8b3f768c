"""ACME Pump Cloud's API v1, HTTP only: ``{api_url}/api/v1/...`` with the person's bearer token.

Today the framework asks one thing of it, who the connected account is (``GET /api/v1/me``). The
device, basal and bolus calls come with the sync engine.
"""

from __future__ import annotations

from typing import Any

from inlet.partners.contract import PartnerClient


class Client(PartnerClient):
    def me(self) -> dict[str, Any]:
        """``GET /api/v1/me``: ``{userId, username, timezone, devices}``."""
        response = self.http.get(self.url("/api/v1/me"))
        response.raise_for_status()
        body = response.json()
        return body if isinstance(body, dict) else {}

    def external_id(self) -> str | None:
        user_id = self.me().get("userId")
        return user_id if isinstance(user_id, str) and user_id else None

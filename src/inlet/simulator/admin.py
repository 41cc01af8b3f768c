"""The admin API: faults, the simulated clock, accounts and grants.

Every call needs ``Authorization: Bearer <admin token>`` (from the config); without a configured token
the whole API answers 404. It is never subject to fault injection.

| method and path | body | does |
| --- | --- | --- |
| GET /admin | | partner, simulated now, faults, accounts, grants |
| GET /admin/faults | | the faults in force |
| POST /admin/faults | fields of ``FaultUpdate`` | change some faults (others stay) |
| DELETE /admin/faults | | back to no faults |
| GET /admin/clock | | ``{now, offsetSeconds}`` |
| POST /admin/clock | ``{"advanceSeconds": N}`` or ``{"now": ISO 8601}`` | move the simulated clock |
| GET /admin/accounts | | the simulated accounts |
| GET /admin/grants | | every grant with its token counts |
| POST /admin/grants/revoke | ``{"grantId"?, "account"?, "clientId"?}`` (none: all) | revoke grants |
| POST /admin/tokens/expire | ``{"kind": "refresh" \\| "access" \\| "all"}`` | expire live tokens now |
| GET /admin/usage | | requests per app in the current rate-limit hour |
| POST /admin/reset | | forget grants and tokens, clear faults and counts, undo clock moves |
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inlet.simulator.core import JSON, Simulator, error
from inlet.simulator.faults import FaultUpdate

M = TypeVar("M", bound=BaseModel)


class ClockChange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    advance_seconds: float | None = Field(default=None, alias="advanceSeconds")
    now: datetime | None = None


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    grant_id: str | None = Field(default=None, alias="grantId")
    account: str | None = None
    client_id: str | None = Field(default=None, alias="clientId")


class ExpireRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["refresh", "access", "all"] = "refresh"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def admin_routes(simulator: Simulator) -> list[Route]:
    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            token = simulator.config.admin_token
            if token is None:
                return error(404, "not_found", "the admin API is disabled (no admin token configured)")
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return error(401, "unauthorized", "admin token required", {"WWW-Authenticate": "Bearer"})
            return await handler(request)

        return endpoint

    async def body_of(request: Request, model: type[M]) -> M | Response:
        raw = await request.body()
        try:
            return model.model_validate(orjson.loads(raw) if raw.strip() else {})
        except (orjson.JSONDecodeError, ValidationError) as failure:
            return error(400, "invalid_request", str(failure))

    def clock_view() -> dict[str, object]:
        return {"now": _iso(simulator.now()), "offsetSeconds": simulator.clock.offset.total_seconds()}

    async def overview(request: Request) -> Response:
        return JSON(
            {
                "partner": simulator.partner,
                "clock": clock_view(),
                "faults": simulator.faults.settings.model_dump(),
                "accounts": simulator.accounts(),
                "grants": simulator.oauth.store.describe(simulator.now()),
            }
        )

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            return JSON(simulator.faults.reset().model_dump())
        if request.method == "POST":
            update = await body_of(request, FaultUpdate)
            if isinstance(update, Response):
                return update
            return JSON(simulator.faults.update(update).model_dump())
        return JSON(simulator.faults.settings.model_dump())

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            change = await body_of(request, ClockChange)
            if isinstance(change, Response):
                return change
            if change.now is not None:
                instant = change.now if change.now.tzinfo else change.now.replace(tzinfo=UTC)
                simulator.clock.set(instant)
            if change.advance_seconds is not None:
                simulator.clock.advance(timedelta(seconds=change.advance_seconds))
        return JSON(clock_view())

    async def accounts(request: Request) -> Response:
        return JSON(simulator.accounts())

    async def grants(request: Request) -> Response:
        return JSON(simulator.oauth.store.describe(simulator.now()))

    async def revoke(request: Request) -> Response:
        selector = await body_of(request, RevokeRequest)
        if isinstance(selector, Response):
            return selector
        store = simulator.oauth.store
        chosen = store.select_grants(
            grant_id=selector.grant_id, username=selector.account, client_id=selector.client_id
        )
        count = store.revoke(
            [g.id for g in chosen], simulator.now(), "revoked by the account holder at the partner"
        )
        return JSON({"revoked": count})

    async def expire(request: Request) -> Response:
        choice = await body_of(request, ExpireRequest)
        if isinstance(choice, Response):
            return choice
        store, now = simulator.oauth.store, simulator.now()
        result = {"refresh": 0, "access": 0}
        if choice.kind in ("refresh", "all"):
            result["refresh"] = store.expire_refresh_tokens(now)
        if choice.kind in ("access", "all"):
            result["access"] = store.expire_access_tokens(now)
        return JSON({"expired": result})

    async def usage(request: Request) -> Response:
        return JSON(
            {
                "requestsPerHour": simulator.limiter.per_hour,
                "thisHour": simulator.limiter.usage(simulator.now()),
            }
        )

    async def reset(request: Request) -> Response:
        simulator.reset()
        return JSON({"reset": True, "clock": clock_view()})

    return [
        Route("/admin", guarded(overview), methods=["GET"]),
        Route("/admin/reset", guarded(reset), methods=["POST"]),
        Route("/admin/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/admin/clock", guarded(clock), methods=["GET", "POST"]),
        Route("/admin/accounts", guarded(accounts), methods=["GET"]),
        Route("/admin/grants", guarded(grants), methods=["GET"]),
        Route("/admin/grants/revoke", guarded(revoke), methods=["POST"]),
        Route("/admin/tokens/expire", guarded(expire), methods=["POST"]),
        Route("/admin/usage", guarded(usage), methods=["GET"]),
    ]

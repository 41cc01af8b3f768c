"""What both simulators share: configuration, the runtime (clock, OAuth server, faults, rate limit) and
the assembly of a Starlette app from a partner's data routes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from inlet.simulator.clock import Clock, SimClock
from inlet.simulator.faults import FaultInjector, FaultMiddleware, RateLimiter, Target
from inlet.simulator.oauth import BearerAuth, BearerError, Login, OAuthClient, OAuthProvider, OAuthSettings

DEFAULT_CLIENT = OAuthClient(
    client_id="inlet",
    client_secret="inlet-simulator-secret",
    redirect_uris=(
        "http://127.0.0.1:8000/v1/oauth/dexcom/redirect",
        "http://127.0.0.1:8000/v1/oauth/acme/redirect",
        "http://localhost:8000/v1/oauth/dexcom/redirect",
        "http://localhost:8000/v1/oauth/acme/redirect",
    ),
)


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    """Settings every simulator has. ``clock`` is the base clock (None: the real one)."""

    clients: tuple[OAuthClient, ...] = (DEFAULT_CLIENT,)
    admin_token: str | None = None  # None: the admin API is off (404)
    clock: Clock | None = None
    access_token_lifetime: int = 7200
    refresh_token_lifetime: int | None = 365 * 86_400
    code_lifetime: int = 600
    requests_per_hour: int | None = 60_000
    upload_delay: int = 3600
    max_window_days: int = 30
    fault_seed: int = 0
    revoke_grant_on_refresh_reuse: bool = True


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            # a lone surrogate (the unstorable-characters fault): valid JSON text as an escape
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSON:
    return JSON({"error": code, "message": message}, status_code=status, headers=headers)


class Simulator(ABC):
    """The runtime of one simulator app: ``app.state.simulator``."""

    partner = ""

    def __init__(self, config: SimulatorConfig, oauth: OAuthSettings, logins: Sequence[Login]) -> None:
        self.config = config
        self.clock = SimClock(config.clock)
        self.oauth = OAuthProvider(oauth, config.clients, logins, self.clock)
        self.faults = FaultInjector(config.fault_seed)
        self.limiter = RateLimiter(config.requests_per_hour)

    def now(self) -> float:
        return self.clock.timestamp()

    def reset(self) -> None:
        """Forget every grant, code and token, clear the faults and the rate-limit counts, and undo
        admin clock moves (the base clock is the caller's). The accounts' data stays as it is."""
        self.oauth.reset()
        self.faults.reset()
        self.limiter.reset()
        self.clock.set_offset(timedelta(0))

    def authorize(self, request: Request) -> BearerAuth | Response:
        """Bearer token, then the app's hourly budget: the caller, or the 401/429 to answer."""
        try:
            auth = self.oauth.authenticate_bearer(request.headers.get("authorization"))
        except BearerError as failure:
            challenge = f'Bearer error="invalid_token", error_description="{failure.description}"'
            return error(401, "invalid_token", failure.description, {"WWW-Authenticate": challenge})
        wait = self.limiter.hit(auth.grant.client_id, self.now())
        if wait is not None:
            return error(429, "rate_limited", "too many requests for this app", {"Retry-After": str(wait)})
        return auth

    @abstractmethod
    def accounts(self) -> list[dict[str, Any]]:
        """The simulated accounts, for the admin API (each partner describes its own)."""

    def classify(self, path: str) -> Target | None:
        settings = self.oauth.settings
        if path == settings.token_path:
            return "token"
        if path == settings.revoke_path:
            return "revoke"
        if path == settings.authorize_path:
            return "login"
        if self.is_data_path(path):
            return "data"
        return None

    @abstractmethod
    def is_data_path(self, path: str) -> bool:
        """Whether ``path`` is one of the partner's data endpoints (where data faults apply)."""


def build_app(simulator: Simulator, data_routes: Sequence[BaseRoute]) -> Starlette:
    from inlet.simulator.admin import admin_routes

    app = Starlette(
        routes=[*simulator.oauth.routes(), *data_routes, *admin_routes(simulator)],
        middleware=[Middleware(FaultMiddleware, injector=simulator.faults, classify=simulator.classify)],
    )
    app.state.simulator = simulator
    return app


def simulator_of(app: Starlette) -> Simulator:
    simulator = app.state.simulator
    assert isinstance(simulator, Simulator)
    return simulator


Handler = Callable[[Request], Any]

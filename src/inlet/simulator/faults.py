"""Fault injection and the per-app rate limit, both on the wire.

``FaultMiddleware`` is plain ASGI (not a Starlette ``BaseHTTPMiddleware``) because two faults need the
raw protocol: a truncated body that announces its full ``Content-Length`` and then drops the
connection, and a hang that notices when the client gives up. Which requests a fault applies to is
chosen by ``targets`` (``data`` by default; also ``token``, ``revoke``, ``login``); the admin API is
never faulted. Probabilistic faults draw from a seeded generator, so a run is repeatable.

What each fault does to a targeted request, in this order:
- ``burst_429`` (a count): the next N requests answer 429 with ``Retry-After: retry_after``.
- ``latency_ms``: every request waits that long first.
- ``timeout_rate``: the request hangs (no response) for ``hang_seconds`` or until the client closes
  the connection, whichever comes first; a client still waiting then gets 504.
- ``error_rate``: the request answers ``error_status`` (default 503) with a JSON error body.
- ``malformed_rate``: the real response is sent with its body made invalid JSON (status 200 kept).
- ``truncated_rate``: the real response is cut in half: ``truncate_mode`` ``close`` keeps the full
  ``Content-Length`` and closes the connection mid-body (the client sees an incomplete read);
  ``short`` sends a complete HTTP message whose JSON body is cut.
- ``unknown_enums`` is applied by the data API itself: about one record in five carries an enum
  value outside the partner's documented vocabulary.
- ``unstorable_since`` (an instant, simulated epoch seconds) is also applied by the data API: about
  one record in five whose time is at or after it carries characters PostgreSQL refuses (a NUL and a
  lone surrogate) in a free-text partner string (:func:`unstorable`). Keyed by the record's time, not
  by when it is read, a record's content never changes while the fault stays on (so a run can compare
  what was stored exactly).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Target = Literal["data", "token", "revoke", "login"]


def _data_only() -> list[Target]:
    return ["data"]


class FaultSettings(BaseModel):
    """The faults in force (``GET /admin/faults``)."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=503, ge=500, le=599)
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    hang_seconds: float = Field(default=60.0, gt=0, le=3600)
    malformed_rate: float = Field(default=0.0, ge=0, le=1)
    truncated_rate: float = Field(default=0.0, ge=0, le=1)
    truncate_mode: Literal["close", "short"] = "close"
    burst_429: int = Field(default=0, ge=0, le=1_000_000)
    retry_after: int = Field(default=60, ge=0, le=86_400)
    unknown_enums: bool = False
    unstorable_since: float | None = None
    targets: list[Target] = Field(default_factory=_data_only)


class FaultUpdate(BaseModel):
    """A partial update (``POST /admin/faults``): only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float | None = Field(default=None, ge=0, le=1)
    error_status: int | None = Field(default=None, ge=500, le=599)
    latency_ms: int | None = Field(default=None, ge=0, le=120_000)
    timeout_rate: float | None = Field(default=None, ge=0, le=1)
    hang_seconds: float | None = Field(default=None, gt=0, le=3600)
    malformed_rate: float | None = Field(default=None, ge=0, le=1)
    truncated_rate: float | None = Field(default=None, ge=0, le=1)
    truncate_mode: Literal["close", "short"] | None = None
    burst_429: int | None = Field(default=None, ge=0, le=1_000_000)
    retry_after: int | None = Field(default=None, ge=0, le=86_400)
    unknown_enums: bool | None = None
    unstorable_since: float | None = None
    targets: list[Target] | None = None


@dataclass(frozen=True)
class Decision:
    burst: bool = False
    latency: float = 0.0
    hang: float = 0.0
    error: int = 0
    malformed: bool = False
    truncate: Literal["close", "short"] | None = None
    retry_after: int = 0

    @property
    def rewrites_body(self) -> bool:
        return self.malformed or self.truncate is not None


class FaultInjector:
    """The fault settings and the seeded draws that apply them."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._rng = random.Random(seed)
        self._release = 0  # bumped to end every hang in progress (faults changed, server stopping)

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return self._settings

    @property
    def unknown_enums(self) -> bool:
        return self.settings.unknown_enums

    def unstorable(self, record_id: str, t: float) -> bool:
        """Whether the record ``record_id`` at ``t`` carries unstorable characters (the fault is on
        since an instant at or before ``t``, and the record is one of about one in five)."""
        since = self.settings.unstorable_since
        return since is not None and t >= since and int(record_id[-4:], 16) % 5 == 0

    def update(self, update: FaultUpdate) -> FaultSettings:
        with self._lock:
            self._settings = self._settings.model_copy(update=update.model_dump(exclude_none=True))
            self._release += 1
            return self._settings

    def reset(self) -> FaultSettings:
        with self._lock:
            self._settings = FaultSettings()
            self._release += 1
            return self._settings

    def release_hangs(self) -> None:
        with self._lock:
            self._release += 1

    @property
    def release_generation(self) -> int:
        with self._lock:
            return self._release

    def decide(self, target: Target) -> Decision | None:
        """What happens to one request to ``target`` (None: nothing)."""
        with self._lock:
            s = self._settings
            if target not in s.targets:
                return None
            if s.burst_429 > 0:
                self._settings = s.model_copy(update={"burst_429": s.burst_429 - 1})
                return Decision(burst=True, retry_after=s.retry_after)
            draw = self._rng.random
            return Decision(
                latency=s.latency_ms / 1000,
                hang=s.hang_seconds if s.timeout_rate and draw() < s.timeout_rate else 0.0,
                error=s.error_status if s.error_rate and draw() < s.error_rate else 0,
                malformed=bool(s.malformed_rate and draw() < s.malformed_rate),
                truncate=s.truncate_mode if s.truncated_rate and draw() < s.truncated_rate else None,
            )


UNSTORABLE = "\x00\ud800"  # a NUL (no PostgreSQL text or JSONB holds one) and a lone surrogate


def unstorable(value: str) -> str:
    """``value`` with :data:`UNSTORABLE` inside it, as a partner's free text might carry."""
    middle = len(value) // 2
    return value[:middle] + UNSTORABLE + value[middle:]


def json_error(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps({"error": error, "message": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return status, body, raw


async def _send_whole(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def malform(body: bytes) -> bytes:
    """Invalid JSON that still looks like the partner's answer (a stray comma after the first key)."""
    index = body.find(b'":')
    if index < 0:
        return b'{"error": ' + body[:20]
    return body[: index + 2] + b"," + body[index + 2 :]


class FaultMiddleware:
    def __init__(
        self, app: ASGIApp, injector: FaultInjector, classify: Callable[[str], Target | None]
    ) -> None:
        self.app = app
        self.injector = injector
        self.classify = classify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = self.classify(scope["path"])
        decision = self.injector.decide(target) if target is not None else None
        if decision is None:
            await self.app(scope, receive, send)
            return
        if decision.burst:
            await _send_whole(
                send,
                *json_error(
                    429,
                    "rate_limited",
                    "too many requests (injected burst)",
                    {"Retry-After": str(decision.retry_after)},
                ),
            )
            return
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.hang:
            if not await self._hang(receive, decision.hang):
                return  # the client gave up: nobody to answer
            await _send_whole(send, *json_error(504, "gateway_timeout", "upstream timed out (injected)"))
            return
        if decision.error:
            await _send_whole(send, *json_error(decision.error, "server_error", "injected server error"))
            return
        if not decision.rewrites_body:
            await self.app(scope, receive, send)
            return
        await self._rewrite(scope, receive, send, decision)

    async def _hang(self, receive: Receive, seconds: float) -> bool:
        """Wait ``seconds``; False as soon as the client disconnects (or the hang is released)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        generation = self.injector.release_generation

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        watcher = asyncio.ensure_future(disconnected())
        try:
            while loop.time() < deadline:
                if self.injector.release_generation != generation:
                    return False
                done, _ = await asyncio.wait({watcher}, timeout=min(0.05, max(0.0, deadline - loop.time())))
                if done:
                    return False
            return True
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    async def _rewrite(self, scope: Scope, receive: Receive, send: Send, decision: Decision) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if start is None:
            return
        body = b"".join(chunks)
        status = int(start["status"])
        headers: list[tuple[bytes, bytes]] = [
            (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
        ]
        if status >= 400 or not body:
            await _send_whole(send, status, body, [*headers, (b"content-length", str(len(body)).encode())])
            return
        if decision.malformed:
            body = malform(body)
            await _send_whole(send, status, body, [*headers, (b"content-length", str(len(body)).encode())])
            return
        half = body[: max(1, math.floor(len(body) / 2))]
        if decision.truncate == "short":
            await _send_whole(send, status, half, [*headers, (b"content-length", str(len(half)).encode())])
            return
        # "close": announce the whole body, send half, and end without completing the response; the
        # server then closes the connection.
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": half, "more_body": True})


class RateLimiter:
    """A per-app (client_id) budget of requests per clock hour, on the simulated clock."""

    def __init__(self, per_hour: int | None) -> None:
        self.per_hour = per_hour
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, client_id: str, now: float) -> int | None:
        """Count a request; the seconds to wait (for ``Retry-After``) if the budget is spent."""
        if self.per_hour is None:
            return None
        window = int(now // 3600)
        with self._lock:
            for key in [key for key in self._counts if key[1] < window]:
                del self._counts[key]
            count = self._counts.get((client_id, window), 0) + 1
            self._counts[(client_id, window)] = count
        if count > self.per_hour:
            return max(1, math.ceil((window + 1) * 3600 - now))
        return None

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def usage(self, now: float) -> dict[str, Any]:
        window = int(now // 3600)
        with self._lock:
            return {client: count for (client, w), count in self._counts.items() if w == window}

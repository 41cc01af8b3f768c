"""The partner caller: how a sync run asks a partner for data, split the way httpx intends.

- :class:`RunAuth` (an ``httpx.Auth`` flow, one per run) owns the run's tokens: before every partner
  request it checks that the run may still call (its lease is held, the partner's blackout has not
  begun), sets the bearer token, and on a 401 refreshes the tokens once (through
  :class:`inlet.sync.tokens.TokenKeeper`: its refresh lock, its deadline, the pair always stored) and
  sends the request again. A second 401 is handed back to the caller, which fails the run.
- :class:`GatedTransport` (an ``httpx.BaseTransport`` around the real one, shared by every run of a
  worker) spends one request of the partner's shared hourly budget before each request goes out,
  refuses it while the partner's breaker is open, opens the breaker for every worker when the partner
  answers 429, and keeps the per-request metrics. It learns whose budget a request spends from the
  request's ``inlet.call`` extension (:class:`CallInfo`).
- :class:`PartnerCaller` sends a run's GETs through both and turns the answers into the failure
  classes of :mod:`inlet.partners.fetch`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
import orjson

from inlet.model.timeutil import US, from_micros
from inlet.partners.contract import Partner
from inlet.partners.fetch import AuthFailed, BudgetExhausted, Forbidden, RateLimited, Transient
from inlet.sync import metrics
from inlet.sync.budget import BudgetGate
from inlet.sync.policy import in_blackout
from inlet.sync.tokens import TokenKeeper, Tokens

CALL = "inlet.call"  # the request extension the transport reads (a CallInfo)


class LeaseLost(Exception):
    """The task's lease was reclaimed by another worker: this run must not write anything more."""


class InBlackout(Exception):
    """The partner's blackout window began during the run: it stops before the next partner call,
    keeps what it stored, and is rescheduled after the window."""


@dataclass
class CallInfo:
    """What the transport must know of one partner call: whose budget it spends. ``sent`` counts
    the requests that actually went out for it (two when a 401 was retried, none when refused)."""

    partner: Partner
    sent: int = 0


class RunAuth(httpx2.Auth):
    """A run's bearer token, refreshed once on a 401 (see the module docstring).

    ``clock`` is the run's time in microseconds (blackouts and the refresh lock are judged on it);
    ``lost`` is set by the worker when the run's lease was reclaimed."""

    def __init__(
        self,
        partner: Partner,
        keeper: TokenKeeper,
        tokens: Tokens,
        clock: Callable[[], int],
        lost: threading.Event,
    ) -> None:
        self.partner = partner
        self.keeper = keeper
        self.tokens = tokens
        self.clock = clock
        self.lost = lost

    def may_call(self) -> None:
        """Before every partner request (data or token): the lease still ours, and no blackout."""
        if self.lost.is_set():
            raise LeaseLost
        blackouts = self.partner.policy.blackouts
        if blackouts and in_blackout(from_micros(self.clock()), blackouts):
            raise InBlackout

    def refresh(self) -> None:
        """New tokens now (expired ones before the first call, or a 401's): one partner request."""
        self.may_call()
        self.tokens = self.keeper.refresh(self.partner, self.tokens, self.clock)

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        self.may_call()
        request.headers["Authorization"] = f"Bearer {self.tokens.access}"
        response = yield request
        if response.status_code != 401:
            return
        # The token may have been revoked or rotated elsewhere: one refresh, then the same request.
        self.refresh()
        self.may_call()
        request.headers["Authorization"] = f"Bearer {self.tokens.access}"
        yield request


class GatedTransport(httpx2.BaseTransport):
    """The partner's shared budget and breaker around ``inner`` (see the module docstring). Bodies
    are read here, so a request's latency and its network failures are measured whole."""

    def __init__(self, inner: httpx2.BaseTransport, gate: BudgetGate) -> None:
        self.inner = inner
        self.gate = gate

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        call = request.extensions[CALL]
        assert isinstance(call, CallInfo), "a partner request without its CallInfo"
        partner = call.partner
        refused = self.gate.take(partner.slug, partner.policy.requests_per_hour)
        if refused is not None:
            detail = (
                "the partner is paused after it asked us to slow down"
                if refused.reason == "blocked"
                else "the partner's hourly request budget is spent"
            )
            raise BudgetExhausted(detail, from_micros(refused.until))
        call.sent += 1
        kind = endpoint(request)
        began = time.monotonic()
        try:
            response = self.inner.handle_request(request)
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        except httpx2.TimeoutException:
            metrics.PARTNER_CALLS.labels(partner.slug, kind, "timeout").inc()
            raise
        except httpx2.HTTPError:
            metrics.PARTNER_CALLS.labels(partner.slug, kind, "network").inc()
            raise
        finally:
            metrics.PARTNER_LATENCY.labels(partner.slug).observe(time.monotonic() - began)
        metrics.PARTNER_CALLS.labels(partner.slug, kind, str(response.status_code)).inc()
        if response.status_code == 429:
            # Paused from the moment the partner answered, for every worker (never shortened).
            until = self.gate.now() + int(retry_after(response) * US)
            self.gate.trip(partner.slug, until, f"the partner answered 429 to {kind}")
        return response

    def close(self) -> None:
        self.inner.close()


class PartnerCaller:
    """A worker's partner GETs (one client, one connection pool for all its runs, over
    ``inner`` behind a :class:`GatedTransport`), each with its run's :class:`RunAuth`, answers
    classified."""

    def __init__(self, inner: httpx2.BaseTransport, gate: BudgetGate, timeout: float) -> None:
        self.transport = GatedTransport(inner, gate)
        self.http = httpx2.Client(transport=self.transport, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def get(
        self, auth: RunAuth, call: CallInfo, path: str, params: Mapping[str, str] | None
    ) -> dict[str, Any]:
        """The JSON object the partner answered (``call.sent``: how many requests it took, also when
        it fails)."""
        partner = auth.partner
        url = f"{partner.api_url.rstrip('/')}/{path.lstrip('/')}"
        if params:  # encoded here: httpx's merge of ``params`` parses the URL twice more per request
            url = f"{url}?{urlencode(params, quote_via=quote)}"
        kind = path.rstrip("/").rsplit("/", 1)[-1]
        try:
            response = self.http.get(url, auth=auth, extensions={CALL: call})
        except httpx2.TimeoutException:
            raise Transient(f"the partner did not answer {kind} in time") from None
        except httpx2.HTTPError as error:
            raise Transient(f"the {kind} request failed ({type(error).__name__})") from None
        status = response.status_code
        if status == 403:
            # A scope the grant lacks on this endpoint: a new token would not change that.
            raise Forbidden(f"the partner answered HTTP 403 to {kind}", kind)
        if status == 401:  # the flow already refreshed once: the fresh token was refused too
            raise AuthFailed(f"the partner answered HTTP {status} to {kind} with a fresh token", final=False)
        if status == 429:
            raise RateLimited(f"the partner answered 429 to {kind}", retry_after(response))
        if status >= 400:
            raise Transient(f"the partner answered HTTP {status} to {kind}")
        parsed = _json(response.content)
        if parsed is _INVALID:
            raise Transient(f"the partner's {kind} response is not valid JSON")
        if not isinstance(parsed, dict):
            raise Transient(f"the partner's {kind} response is not a JSON object")
        return parsed


def endpoint(request: httpx2.Request) -> str:
    """The metrics label of a request: the last segment of its path (``egvs``, ``dataRange``)."""
    return request.url.path.rstrip("/").rsplit("/", 1)[-1]


def retry_after(response: httpx2.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return 60.0


_INVALID = object()
_REFUSED = re.compile("[\x00\ud800-\udfff]")


def _json(body: bytes) -> Any:
    """A partner body as JSON, every string made storable (:func:`storable`); ``_INVALID`` when it
    is not JSON. orjson refuses lone surrogates and invalid UTF-8, which the standard library's
    parser reads (after replacing the bytes that are not UTF-8): such a body is not malformed, it
    only holds characters to replace."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            parsed = json.loads(body.decode("utf-8", "replace"))
        except ValueError:
            return _INVALID
        return storable(parsed)
    if b"\\u0000" in body:
        return storable(parsed)
    return parsed


def storable(value: Any) -> Any:
    """``value`` with every NUL and lone surrogate (in keys and strings) replaced by U+FFFD: what
    PostgreSQL and SQLite can both store, decided before storage so one character never fails a
    batch. Done only when a body holds such a character (the common body is returned as parsed)."""
    if isinstance(value, str):
        return _REFUSED.sub("\ufffd", value) if _REFUSED.search(value) else value
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value

"""What a partner's sync adapter sees: the failure classes, the partner API as a run calls it, and the
batches it hands back.

An adapter (``partners/<slug>/sync.py``, class ``Sync``) knows the partner's endpoints, windows and
watermarks; it never touches the database, the tokens or the budget. It calls :meth:`FetchContext.get`
for every partner request and yields a :class:`Batch` per response it took data from; the runner
(:mod:`inlet.sync.runner`) stores each batch, together with the watermark the batch moves, in one
transaction, so a run killed at any point resumes from the last stored batch: no gap, and the overlap
a resumed run re-reads is absorbed by de-duplication on ``origin.id``.

Failure classes (exceptions an adapter lets through; the runner decides what they mean for the source):

- :class:`AuthFailed` ``final``: the grant is gone (``invalid_grant`` on refresh): source ``error`` now;
  otherwise (401/403 with a freshly refreshed token): back off, ``error`` after a few runs;
- :class:`Forbidden`: HTTP 403 on one endpoint; the adapter skips that stream this run;
- :class:`RateLimited`: HTTP 429; the whole partner waits ``retry_after`` (a circuit breaker);
- :class:`Transient`: 5xx, timeouts, network errors, a malformed whole response: back off, stay connected;
- :class:`BudgetExhausted`: the partner's shared hourly budget is spent; try again when it renews;
- :class:`OutOfTime`: the run used its time budget; it resumes soon from its watermarks.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from inlet.model.timeutil import parse_partner_time
from inlet.partners.contract import MappingResult, Partner


def instant(value: Any) -> datetime | None:
    """A stored watermark or a partner's record time as an aware UTC datetime (``None`` if unreadable):
    adapters keep watermarks as the partner's own time text, and compare them as instants."""
    if not isinstance(value, str):
        return None
    parsed = parse_partner_time(value)
    return None if parsed is None else parsed.instant.astimezone(UTC)


class SyncFailure(Exception):
    """A classified failure of a run. ``code`` names the class; ``detail`` is safe to show and log
    (never a token, never a health value)."""

    code = "sync-failed"
    title = "the sync failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def error(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "detail": self.detail}


class AuthFailed(SyncFailure):
    code = "authentication"
    title = "the partner refused our authorization"

    def __init__(self, detail: str, *, final: bool) -> None:
        super().__init__(detail)
        self.final = final
        if final:
            self.code = "authorization-revoked"
            self.title = "the partner account is no longer connected"


class RateLimited(SyncFailure):
    code = "rate-limited"
    title = "the partner asked us to slow down"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Transient(SyncFailure):
    code = "partner-unavailable"
    title = "the partner could not be reached or answered with an error"


class Forbidden(SyncFailure):
    """HTTP 403 on one endpoint (a scope the grant lacks): the adapter skips that stream for this
    run (its watermark stays) and fetches the others; only when it is not caught (the adapter's
    first, essential request) does it count as an authentication failure."""

    code = "partner-forbidden"
    title = "the partner refused one kind of data"

    def __init__(self, detail: str, endpoint: str) -> None:
        super().__init__(detail)
        self.endpoint = endpoint


class BudgetExhausted(SyncFailure):
    code = "budget-exhausted"
    title = "the partner's request budget for this hour is spent"

    def __init__(self, detail: str, until: datetime) -> None:
        super().__init__(detail)
        self.until = until


class OutOfTime(Exception):
    """The run's time budget is spent; what is stored stays, the run resumes soon."""


@dataclass
class Batch:
    """Records of one partner response, mapped, and the watermark updates that storing them earns.

    ``body`` is the raw response as received (stored in ``partner_payloads``); ``state`` holds the
    stream state keys to set once the batch is stored (e.g. ``{"egvs": "2026-03-01T12:00:00Z"}``).
    A batch with ``body`` ``None`` carries state only: it is saved with the run's outcome."""

    kind: str
    result: MappingResult
    body: Any
    records: int
    state: dict[str, Any] = field(default_factory=dict)


class PartnerApi(Protocol):
    def __call__(self, path: str, params: Mapping[str, str] | None = None) -> Any: ...


@dataclass
class FetchContext:
    """One run of one person's sync, as the adapter sees it.

    ``now``: the run's start (the database's clock); ``state``: the source's stream state from the last
    stored batch (read-only for the adapter: it returns changes in :attr:`Batch.state`)."""

    partner: Partner
    now: datetime
    state: Mapping[str, Any]
    api: PartnerApi
    deadline: float  # time.monotonic() value after which the run stops
    monotonic: Callable[[], float] = _time.monotonic
    calls: int = 0

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``{api_url}{path}``: the parsed JSON body, or a :class:`SyncFailure`."""
        if self.monotonic() > self.deadline:
            raise OutOfTime
        self.calls += 1
        return self.api(path, params)

    @property
    def history_start(self) -> datetime:
        """Where a first sync starts: the policy's ``history_start``, or ``history_days`` before now
        when that is later."""
        policy = self.partner.policy
        start = datetime(
            policy.history_start.year,
            policy.history_start.month,
            policy.history_start.day,
            tzinfo=self.now.tzinfo,
        )
        if policy.history_days is not None:
            start = max(start, self.now - timedelta(days=policy.history_days))
        return start

    @property
    def max_window(self) -> timedelta:
        return timedelta(days=self.partner.policy.max_days_per_request)


class Adapter(Protocol):
    """``partners/<slug>/sync.py``'s ``Sync``: constructed with the partner, called once per run."""

    def fetch(self, ctx: FetchContext) -> Iterator[Batch]: ...


def windows(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """``[start, end]`` cut into consecutive windows of at most ``size``, oldest first."""
    cursor = start
    while cursor < end:
        stop = min(cursor + size, end)
        yield cursor, stop
        cursor = stop

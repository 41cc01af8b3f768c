"""ACME's incremental fetch: which requests a run makes, over which windows, and the watermarks.

Budget first (1,000 requests per app per hour, shared by every person): a run asks
``GET /api/v1/devices`` once and fetches nothing more for a device whose ``lastUploadTime`` is the one
stored after its last complete sync, so a run with nothing new costs one request. For a device with a
new upload it walks ``basals`` then ``boluses``:

- windows of at most the policy's ``max_days_per_request`` (7 days), oldest first, from the stream's
  watermark less :data:`OVERLAP` (the first sync from the policy's ``history_start``) up to the
  device's ``lastUploadTime`` plus one second (``end`` is exclusive; nothing uploaded later exists);
- each window paged with ``limit`` :data:`PAGE_LIMIT` and ``meta.nextCursor``; one batch per page
  with records, stored with the raw page. An empty page carries no raw payload (a state-only batch):
  a first sync walks ~6 years of mostly empty 7-day windows and would store hundreds of empty bodies;
- the watermark (``"basals:<deviceId>"``, ``"boluses:<deviceId>"``: the window's end) goes on the
  LAST page of each window only, so a run stopped mid-window re-reads the whole window (no gap: the
  cursor is only valid for the same window, and a re-read page is dropped by origin id).

``devices`` (``{deviceId: lastUploadTime}``) is set by a state-only batch after all streams of the
device were stored, so a run stopped part-way re-fetches the device next time.

Why :data:`OVERLAP` is 7 hours: records are listed by their *start* time but appear only once they
have *ended* plus a 15-minute upload delay. A record that was still running (or in the upload delay)
at the last run started before that run's window end, so the next run must look back at least the
longest record plus the delay: basal segments last up to 6 h (the Standard schedule's 12:00-18:00
segment; longer still across a DST change), extended boluses up to 4 h. 6 h + 15 min, rounded up to
7 h for the DST hour and clock skew. A re-read costs nothing in storage: unchanged records are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from inlet.model.timeutil import format_utc
from inlet.partners.acme.mapping import SkipRecord, device_info, map_records
from inlet.partners.contract import MappingResult, Partner, Problem
from inlet.partners.fetch import Batch, FetchContext, Forbidden, Transient, instant, windows

BASE = "/api/v1"
STREAMS = {"basals": "basal", "boluses": "bolus"}
OVERLAP = timedelta(hours=7)
PAGE_LIMIT = 1000
END_MARGIN = timedelta(seconds=1)


def acme_time(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, as ACME's ``start``/``end`` want."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _page(body: Any, what: str) -> tuple[list[Any], str | None]:
    """A page's records and its next cursor; a page without a ``data`` list is :class:`Transient`."""
    records = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(records, list):
        raise Transient(f"the partner's {what} response has no data list")
    meta = body.get("meta")
    cursor = meta.get("nextCursor") if isinstance(meta, Mapping) else None
    return records, cursor if isinstance(cursor, str) and cursor else None


class Sync:
    """The adapter (see :mod:`inlet.partners.fetch`)."""

    def __init__(self, partner: Partner) -> None:
        self.partner = partner

    def fetch(self, ctx: FetchContext) -> Iterator[Batch]:
        body = ctx.get(f"{BASE}/devices")
        records, _ = _page(body, "devices")
        known_raw = ctx.state.get("devices")
        known: dict[str, Any] = dict(known_raw) if isinstance(known_raw, Mapping) else {}
        problems: list[Problem] = []
        for record in records:
            if not isinstance(record, Mapping):
                problems.append(Problem("device", None, "the device record is not an object"))
                continue
            try:
                info = device_info(record)
            except (SkipRecord, ValueError) as error:
                reason = error.reason if isinstance(error, SkipRecord) else str(error)
                problems.append(Problem("device", _text(record.get("deviceId")), reason))
                continue
            upload = instant(info.last_upload_time)
            if upload is None or known.get(info.device_id) == info.last_upload_time:
                continue  # nothing uploaded yet, or nothing since the last complete sync
            end = upload + END_MARGIN
            complete = True
            for stream, kind in STREAMS.items():
                try:
                    yield from self._stream(ctx, stream, kind, info.device_id, end)
                except Forbidden:
                    complete = False  # this stream only; the device is fetched again next run
            if not complete:
                continue
            known = {**known, info.device_id: info.last_upload_time}
            yield Batch("devices", MappingResult(), None, 0, {"devices": known})
        if problems:
            # Kept with the raw device list, so the skipped record can be looked at.
            yield Batch("devices", MappingResult(problems=problems), body, len(records))

    def _stream(
        self, ctx: FetchContext, stream: str, kind: str, device_id: str, end: datetime
    ) -> Iterator[Batch]:
        key = f"{stream}:{device_id}"
        mark = instant(ctx.state.get(key))
        history = ctx.history_start
        begin = history if mark is None else max(mark - OVERLAP, history)
        path = f"{BASE}/devices/{device_id}/{stream}"
        for start, stop in windows(begin, end, ctx.max_window):
            params = {"start": acme_time(start), "end": acme_time(stop), "limit": str(PAGE_LIMIT)}
            cursor: str | None = None
            seen: set[str] = set()
            while True:
                page = ctx.get(path, {**params, "cursor": cursor} if cursor else params)
                records, cursor = _page(page, stream)
                if cursor is not None:
                    if cursor in seen:
                        raise Transient(f"the partner's {stream} pages repeat a cursor")
                    seen.add(cursor)
                state = {} if cursor else {key: format_utc(stop)}
                if records:
                    mapped = map_records(kind, records, device_id, validate=False)
                    yield Batch(stream, mapped, page, len(records), state)
                elif state:
                    yield Batch(stream, MappingResult(), None, 0, state)
                if cursor is None:
                    break


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

"""Dexcom's incremental fetch: which requests a run makes, over which windows, and the watermarks.

Budget first: a run asks ``dataRange`` (with ``lastSyncTime`` when the last one is under 30 days old:
Dexcom answers wrongly for older ones) and calls only the streams it reports new data for, so a run
with nothing new costs one request. dataRange covers calibrations, egvs and events; alerts and devices
are fetched when egvs had new data, and at least once a day (devices only daily or when a new
transmitter shows up: settings rarely change, and a device is emitted only when its content changes).

Watermarks (the source's stream state, stored with each batch):

- ``egvs``, ``calibrations``, ``events``, ``alerts``: the end of the last window stored; the next run
  starts there, or earlier when dataRange (asked with ``lastSyncTime``: the uploads since) reports
  older uploads (a receiver synced late, an event was edited), so nothing is missed and nothing is
  re-read by a fixed window; alerts, which dataRange does not cover, re-read ``OVERLAP`` (their
  upload delay) and go back as far as the other streams' uploads do. Without a usable
  ``lastSyncTime`` (a first sync, or the last one over 30 days ago) a run starts ``OVERLAP``
  before the watermark; what is read twice is dropped by origin id;
- ``lastSyncTime``: the run's start (less a margin for the partner's clock), stored after every stream
  of the run was: dataRange with it reports exactly the uploads since, so it misses nothing;
- ``devices``: a content hash per transmitter; ``auxTime``: when alerts and devices were last fetched.

Windows are at most the policy's ``max_days_per_request`` (30) and walk oldest first, so an outage of
any length is caught up window by window (a run that spends its time budget resumes from the last
stored window).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from inlet.model.timeutil import format_utc
from inlet.partners.contract import MappingResult, Partner
from inlet.partners.dexcom.mapping import map_records
from inlet.partners.fetch import Batch, FetchContext, Forbidden, Transient, instant, windows

BASE = "/v3/users/self"
RANGE_STREAMS = {"calibrations": "calibration", "egvs": "egv", "events": "event"}
OVERLAP = timedelta(hours=2)
LAST_SYNC_MAX_AGE = timedelta(days=30)
AUX_EVERY = timedelta(days=1)
SYNC_MARGIN = timedelta(minutes=1)
DEVICE_LOOKBACK = timedelta(days=30)
_SETTINGS_IGNORED = frozenset(
    {"time", "deviceTime", "timezoneOffset", "clockDriftOffset", "conversionOffset", "origin", "payload"}
)


def dexcom_time(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss`` in UTC without an offset, as Dexcom's startDate/endDate want."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _range(body: Mapping[str, Any], stream: str) -> tuple[datetime, datetime] | None:
    entry = body.get(stream)
    if not isinstance(entry, Mapping):
        return None
    start, end = entry.get("start"), entry.get("end")
    first = instant(start.get("systemTime")) if isinstance(start, Mapping) else None
    last = instant(end.get("systemTime")) if isinstance(end, Mapping) else None
    if first is None or last is None:
        return None
    return first, last


def settings_hash(datum: Mapping[str, Any]) -> str:
    """The content of a cgmSettings datum without its time and provenance: what "changed" means."""
    content = {k: v for k, v in datum.items() if k not in _SETTINGS_IGNORED}
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _records(body: Any, stream: str) -> list[Any]:
    records = body.get("records") if isinstance(body, Mapping) else None
    if not isinstance(records, list):
        raise Transient(f"the partner's {stream} response has no records list")
    return records


class Sync:
    """The adapter (see :mod:`inlet.partners.fetch`)."""

    def __init__(self, partner: Partner) -> None:
        self.partner = partner

    def fetch(self, ctx: FetchContext) -> Iterator[Batch]:
        state = ctx.state
        last_sync = instant(state.get("lastSyncTime"))
        params: dict[str, str] = {}
        incremental = last_sync is not None and ctx.now - last_sync < LAST_SYNC_MAX_AGE
        if incremental:
            assert last_sync is not None
            params["lastSyncTime"] = format_utc(last_sync)
        data_range = ctx.get(f"{BASE}/dataRange", params)
        ranges = {name: r for name in RANGE_STREAMS if (r := _range(data_range, name)) is not None}
        history = ctx.history_start
        new_egvs = False
        forbidden = False
        refused: list[str] = []  # alerts or devices refused (403) this run: fetched again next run
        transmitters: set[str] = set()
        for stream, kind in RANGE_STREAMS.items():
            if stream not in ranges:
                continue
            first, last = ranges[stream]
            mark = instant(state.get(stream))
            # Incremental: dataRange's start is the earliest record uploaded since lastSyncTime, so
            # only a start before the watermark (a late upload, an edit) makes the run re-read.
            begin = first if mark is None else min(mark, first) if incremental else mark - OVERLAP
            begin = max(begin, history)
            try:
                for batch in self._walk(ctx, stream, kind, begin, last + timedelta(seconds=1)):
                    if stream == "egvs" and batch.records:
                        new_egvs = True
                        transmitters.update(
                            r["transmitterId"]
                            for r in batch.body["records"]
                            if isinstance(r, Mapping) and isinstance(r.get("transmitterId"), str)
                        )
                    yield batch
            except Forbidden:
                # this stream only (a scope the grant lacks); its watermark stays, and lastSyncTime
                # does not move (so a later grant of the scope still finds all its history)
                forbidden = True

        aux_time = instant(state.get("auxTime"))
        daily = aux_time is None or ctx.now - aux_time >= AUX_EVERY
        known = state.get("devices") if isinstance(state.get("devices"), Mapping) else {}
        assert isinstance(known, Mapping)
        new_transmitter = bool(transmitters - set(known))
        upper = max(ctx.now, ranges["egvs"][1] + timedelta(seconds=1)) if "egvs" in ranges else ctx.now
        if new_egvs or daily:
            # Alerts have no dataRange entry: without their own watermark they start where the
            # account's data starts (a full dataRange's earliest start), else at the history start;
            # never from another stream's watermark (an interrupted first sync would lose them).
            mark = instant(state.get("alerts"))
            if mark is not None:
                # No dataRange marker covers alerts, and an alert is uploaded a little after its time
                # and not always with a reading (noReadings fires when there is none): the window
                # re-reads OVERLAP, and reaches back as far as dataRange says other uploads did.
                begin = mark - OVERLAP
                if incremental and ranges:
                    begin = min([begin, *(first for first, _ in ranges.values())])
            elif ranges and not incremental:
                begin = min(first for first, _ in ranges.values())
            else:
                begin = history
            try:
                yield from self._walk(ctx, "alerts", "alert", max(begin, history), upper)
            except Forbidden:
                refused.append("alerts")  # this stream only (a scope the grant lacks); its mark stays
        if daily or new_transmitter:
            try:
                yield self._devices(ctx, known, upper)
            except Forbidden:
                refused.append("devices")
        # Everything uploaded before this run started is now stored: next time ask only for later
        # uploads (a margin for the partner's clock; what it re-reports is dropped as unchanged).
        if forbidden:
            return
        yield Batch(
            "dataRange", MappingResult(), None, 0, {"lastSyncTime": format_utc(ctx.now - SYNC_MARGIN)}
        )

    def _walk(
        self, ctx: FetchContext, stream: str, kind: str, begin: datetime, end: datetime
    ) -> Iterator[Batch]:
        for start, stop in windows(begin, end, ctx.max_window):
            body = ctx.get(
                f"{BASE}/{stream}", {"startDate": dexcom_time(start), "endDate": dexcom_time(stop)}
            )
            records = _records(body, stream)
            yield Batch(
                stream,
                map_records(kind, records, validate=False),
                body,
                len(records),
                {stream: format_utc(stop)},
            )

    def _devices(self, ctx: FetchContext, known: Mapping[str, Any], upper: datetime) -> Batch:
        """Devices of the last 30 days; a cgmSettings datum only for a device whose settings changed."""
        params = {"startDate": dexcom_time(upper - DEVICE_LOOKBACK), "endDate": dexcom_time(upper)}
        body = ctx.get(f"{BASE}/devices", params)
        records = _records(body, "devices")
        mapped = map_records("device", records, validate=False)
        hashes = dict(known)
        changed = MappingResult(problems=mapped.problems)
        for datum in mapped.datums:
            key = str(datum.get("transmitterId") or datum.get("deviceId"))
            digest = settings_hash(datum)
            if hashes.get(key) != digest:
                hashes[key] = digest
                changed.datums.append(datum)
        return Batch(
            "devices", changed, body, len(records), {"devices": hashes, "auxTime": format_utc(ctx.now)}
        )

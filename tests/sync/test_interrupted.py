"""Issue 12: a sync that is interrupted, or meets a record it cannot store, loses nothing.

Defect 9: a first sync stopped after the readings were stored must not start the alerts stream from
the readings' watermark next time (every earlier alert would never be fetched)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx2

from inlet.partners.dexcom.mapping import map_records as dexcom_map
from tests.sync.harness import DEXCOM_USER, SyncEnv, _normalized, same_records
from tests.sync.test_dexcom_faults import Counting


def _alerts_expected(env: SyncEnv) -> dict[str, dict[str, object]]:
    sim = env.dexcom.simulator
    now = env.now.timestamp()
    records = sim.alerts(DEXCOM_USER, (env.now - timedelta(days=400)).timestamp(), now, now)
    return _normalized(dexcom_map("alert", records).datums)


def test_an_interrupted_first_sync_fetches_every_alert_later(sync_env: SyncEnv) -> None:
    def alerts_down(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/alerts"):
            return httpx2.Response(503, json={"error": "unavailable"})
        return None

    account = sync_env.connect()
    first = sync_env.run_once(transport=Counting(alerts_down))
    assert first.failed == 1, first.summary()
    assert sync_env.stored(account.user_id, "cbg"), "the readings were stored before the failure"
    assert not sync_env.stored(account.user_id, "alert")
    expected = _alerts_expected(sync_env)
    assert len(expected) >= 3  # the account has alerts from its whole history
    # the partner heals a few hours later: the next run fetches every alert, the oldest too
    sync_env.advance(timedelta(hours=3))
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    same_records(sync_env.stored(account.user_id, "alert"), _alerts_expected(sync_env))


class Tampering(Counting):
    """The real partner, with characters no database stores put into the first egvs response: a
    NUL in one record's transmitter id (a stored column) and a lone surrogate in another's id."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = super().handle_request(request)
        if not request.url.path.endswith("/egvs") or self.changed:
            return response
        body = json.loads(response.read())
        records = body["records"]
        if len(records) < 3:
            return response
        # the oldest two (newest first), which the next run's overlap does not read again
        self.changed = [records[-1]["recordId"], records[-2]["recordId"]]
        records[-1]["transmitterId"] += "\u0000"
        records[-2]["recordId"] += "\ud800"
        content = json.dumps(body).encode()  # ensure_ascii: both written as \\u escapes
        return httpx2.Response(200, content=content, headers={"content-type": "application/json"})


def test_characters_a_database_refuses_never_block_a_sync(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    transport = Tampering()
    stats = sync_env.run_once(transport=transport)
    assert stats.succeeded == 1, stats.summary()
    assert len(transport.changed) == 2
    nul_id, surrogate_id = transport.changed
    assert sync_env.source(account.user_id).state == "connected"
    stored = sync_env.stored(account.user_id, "cbg")
    expected = sync_env.dexcom_expected("egv")
    # every record is stored (the two with their characters replaced), none is lost after them
    assert set(stored) == (set(expected) - {surrogate_id}) | {surrogate_id + "\ufffd"}
    assert "\ufffd" in stored[nul_id]["deviceId"]
    # and the next run carries on incrementally from the watermarks the batch earned
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    assert len(sync_env.stored(account.user_id, "cbg")) == len(sync_env.dexcom_expected("egv"))


class LateAlerts(Counting):
    """The real partner, except that alerts at or after ``cutoff`` are not uploaded yet (the app sends
    them a little later than the readings, within the partner's upload delay)."""

    def __init__(self, cutoff: datetime) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.hidden: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = super().handle_request(request)
        if not request.url.path.endswith("/alerts"):
            return response
        body = json.loads(response.read())
        kept = []
        for record in body["records"]:
            if datetime.fromisoformat(record["systemTime"]).replace(tzinfo=UTC) >= self.cutoff:  # UTC
                self.hidden.append(record["recordId"])
            else:
                kept.append(record)
        body["records"] = kept
        return httpx2.Response(200, json=body)


def test_an_alert_uploaded_after_its_window_was_read_is_fetched_later(sync_env: SyncEnv) -> None:
    """An alert is uploaded a little after its time, and not always with a reading (``noReadings``
    fires when there is none), so dataRange need not reach back to it: a run that read the alerts'
    window before the alert arrived must not move past it for good (found by the 30-minute chaos run)."""
    account = sync_env.connect()
    assert sync_env.run_once().succeeded == 1
    sim = sync_env.dexcom.simulator
    for _ in range(16):  # on, three hours at a time, until an alert falls in the last 90 minutes
        sync_env.advance(timedelta(hours=3))
        now = sync_env.now.timestamp()
        if sim.alerts(DEXCOM_USER, now - 90 * 60, now, now):
            break
        sync_env.make_due()
        stats = sync_env.run_once()
        assert stats.succeeded == 1, stats.summary()
    late = LateAlerts(sync_env.now - timedelta(minutes=90))
    sync_env.make_due()
    assert sync_env.run_once(transport=late).succeeded == 1
    assert late.hidden, "the run read alerts the partner had not uploaded yet"
    assert not set(late.hidden) & set(sync_env.stored(account.user_id, "alert"))
    sync_env.advance(timedelta(minutes=30))  # uploaded now, with no reading at their times pending
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    same_records(sync_env.stored(account.user_id, "alert"), _alerts_expected(sync_env))

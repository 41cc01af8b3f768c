"""The ACME sync end to end (a person connects through OAuth with PKCE, the worker fetches per device,
paged, and what is stored equals what the simulated pump cloud holds, record by record), and the
adapter's paging and failure rules against a scripted partner."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inlet.partners.acme import sync as acme_sync
from inlet.partners.fetch import Batch, FetchContext, Transient
from inlet.partners.registry import load_registry
from inlet.simulator.acme import AcmeSimulator
from tests.sync.harness import ACME_USER, SyncEnv, same_records

DEVICE = "ACMEPumpModel123-0000000001"


def _calls(env: SyncEnv, user_id: str) -> int:
    return int(env.source(user_id, "acme").sync_state["counters"]["calls"])


def _device_id(env: SyncEnv) -> str:
    sim = env.acme.simulator
    assert isinstance(sim, AcmeSimulator)
    return sim.users[ACME_USER].device_id


def _same(env: SyncEnv, user_id: str) -> None:
    same_records(env.stored(user_id, "basal"), env.acme_expected("basal"))
    same_records(env.stored(user_id, "bolus"), env.acme_expected("bolus"))


def test_the_first_sync_back_fills_everything(sync_env: SyncEnv) -> None:
    account = sync_env.connect("acme", ACME_USER)
    stats = sync_env.run_once()
    assert stats.succeeded == 1, stats.summary()
    _same(sync_env, account.user_id)
    assert len(sync_env.acme_expected("basal")) > 50
    assert len(sync_env.acme_expected("bolus")) > 20
    source = sync_env.source(account.user_id, "acme")
    assert source.state == "connected"
    assert source.data_set_id is not None
    device_id = _device_id(sync_env)
    streams = source.sync_state["streams"]
    assert set(streams) == {"basals:" + device_id, "boluses:" + device_id, "devices"}
    assert streams["devices"] == {device_id: "2026-03-20T11:15:00.000Z"}
    # One devices call, then one page per 7-day window and stream from the first sync's start (the
    # policy's history_days, 90, before the run) to the last upload: the whole first-sync cost.
    span = datetime(2026, 3, 20, 11, 15, 1, tzinfo=UTC) - (sync_env.now - timedelta(days=90))
    windows = -(-span // timedelta(days=7))
    assert _calls(sync_env, account.user_id) == 1 + 2 * windows
    # Every stored datum carries the device's id.
    assert {d["deviceId"] for d in sync_env.stored(account.user_id).values()} == {device_id}


def test_an_incremental_run_fetches_only_new_data(sync_env: SyncEnv) -> None:
    account = sync_env.connect("acme", ACME_USER)
    sync_env.run_once()
    device_id = _device_id(sync_env)
    before = sync_env.source(account.user_id, "acme").sync_state["streams"]
    watermark = datetime.fromisoformat(before["basals:" + device_id].replace("Z", "+00:00"))
    stored_before = {**sync_env.stored(account.user_id, "basal"), **sync_env.stored(account.user_id, "bolus")}

    calls = _calls(sync_env, account.user_id)
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    assert _calls(sync_env, account.user_id) - calls == 1, "nothing new must cost one devices call"

    sync_env.advance(timedelta(hours=6))
    sync_env.make_due()
    calls = _calls(sync_env, account.user_id)
    assert sync_env.run_once().succeeded == 1
    # devices, then one window per stream (the overlap is well under 7 days, pages under 1000).
    assert _calls(sync_env, account.user_id) - calls == 3
    _same(sync_env, account.user_id)
    stored_after = {**sync_env.stored(account.user_id, "basal"), **sync_env.stored(account.user_id, "bolus")}
    new = {k: v for k, v in stored_after.items() if k not in stored_before}
    assert new, "six hours must bring new records"
    assert all(stored_after[k] == v for k, v in stored_before.items())
    # A long basal segment that started before the last watermark, listed only once it had ended.
    late = [
        d
        for d in new.values()
        if d["type"] == "basal" and datetime.fromisoformat(d["time"].replace("Z", "+00:00")) < watermark
    ]
    assert late, "the overlap must catch a segment that started before the watermark"
    assert any(d["duration"] >= 3 * 3600 * 1000 for d in late)


def test_a_page_boundary_never_loses_or_doubles_a_record(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acme_sync, "PAGE_LIMIT", 7)
    account = sync_env.connect("acme", ACME_USER)
    assert sync_env.run_once().succeeded == 1
    _same(sync_env, account.user_id)
    pages = [p for p in sync_env.payloads(account.user_id) if p.kind in ("basals", "boluses")]
    assert any(p.record_count == 7 for p in pages), "the sync must have followed cursors"
    for hours in (6, 6, 13):
        sync_env.advance(timedelta(hours=hours))
        sync_env.make_due()
        assert sync_env.run_once().succeeded == 1
        _same(sync_env, account.user_id)


# ---- the adapter alone, against a scripted partner ----------------------------------------------


class ScriptedAcme:
    """Answers ACME requests from a list of records per stream, paged like the real API."""

    def __init__(self, devices: list[Any], records: Mapping[str, list[dict[str, Any]]]) -> None:
        self.devices = devices
        self.records = records
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        query = dict(params or {})
        self.requests.append((path, query))
        if path == "/api/v1/devices":
            return {"data": self.devices}
        stream = path.rsplit("/", 1)[-1]
        start, end = (datetime.fromisoformat(query[k].replace("Z", "+00:00")) for k in ("start", "end"))
        assert end - start <= timedelta(days=7)
        found = [
            r
            for r in self.records[stream]
            if start <= datetime.fromisoformat(r["time"].replace("Z", "+00:00")) < end
        ]
        offset, limit = int(query.get("cursor", "0")), int(query["limit"])
        more = offset + limit < len(found)
        return {
            "data": found[offset : offset + limit],
            "meta": {"nextCursor": str(offset + limit) if more else None},
        }


def _bolus(i: int, t: datetime) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "type": "bolus",
        "deliveryType": "normal",
        "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "localTime": (t - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S"),
        "timezone": "America/Los_Angeles",
        "normal": 1.5,
    }


def _ctx(api: Any, state: Mapping[str, Any] | None = None) -> tuple[acme_sync.Sync, FetchContext]:
    partner = load_registry({}).get("acme")
    assert partner is not None
    ctx = FetchContext(
        partner=partner,
        now=datetime(2026, 3, 20, 12, tzinfo=UTC),
        state=dict(state or {}),
        api=api,
        deadline=time.monotonic() + 60,
    )
    return acme_sync.Sync(partner), ctx


def _device(upload: str | None = "2026-03-20T11:15:00Z") -> dict[str, Any]:
    return {"deviceId": DEVICE, "lastUploadTime": upload, "timezone": "America/Los_Angeles"}


def test_the_watermark_moves_only_on_the_last_page_of_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(acme_sync, "PAGE_LIMIT", 2)
    t = datetime(2026, 3, 19, 8, tzinfo=UTC)
    api = ScriptedAcme(
        [_device()], {"basals": [], "boluses": [_bolus(i, t + timedelta(hours=i)) for i in range(5)]}
    )
    sync, ctx = _ctx(
        api, {"basals:" + DEVICE: "2026-03-18T12:00:00.000Z", "boluses:" + DEVICE: "2026-03-18T12:00:00.000Z"}
    )
    batches: list[Batch] = list(sync.fetch(ctx))
    boluses = [b for b in batches if b.kind == "boluses"]
    assert [b.records for b in boluses] == [2, 2, 1]
    assert [b.state for b in boluses[:-1]] == [{}, {}]
    assert boluses[-1].state == {"boluses:" + DEVICE: "2026-03-20T11:15:01.000Z"}
    assert sorted(d["origin"]["id"] for b in boluses for d in b.result.datums) == sorted(
        r["id"] for r in api.records["boluses"]
    )
    assert all(d["deviceId"] == DEVICE for b in boluses for d in b.result.datums)
    # The overlap: the window starts 7 hours before the watermark.
    starts = {q["start"] for p, q in api.requests if p.endswith("/boluses")}
    assert starts == {"2026-03-18T05:00:00Z"}
    # The device's upload is stored last, by a state-only batch.
    assert batches[-1].body is None
    assert batches[-1].state == {"devices": {DEVICE: "2026-03-20T11:15:00.000Z"}}


def test_an_unchanged_upload_costs_one_call_and_a_device_without_id_is_skipped() -> None:
    api = ScriptedAcme([_device(), {"deviceModel": "ACMEPumpModel123"}], {"basals": [], "boluses": []})
    sync, ctx = _ctx(api, {"devices": {DEVICE: "2026-03-20T11:15:00.000Z"}})
    batches = list(sync.fetch(ctx))
    assert len(api.requests) == 1
    assert len(batches) == 1
    assert batches[0].kind == "devices"
    assert [p.reason for p in batches[0].result.problems] == ["deviceId is missing"]


def test_a_first_sync_starts_history_days_back_and_walks_seven_day_windows() -> None:
    api = ScriptedAcme([_device()], {"basals": [], "boluses": []})
    sync, ctx = _ctx(api)
    batches = list(sync.fetch(ctx))
    windows = [(q["start"], q["end"]) for p, q in api.requests if p.endswith("/basals")]
    assert windows[0][0] == "2025-12-20T12:00:00Z"  # 90 days before the run (not 2020-01-01)
    assert len(windows) == 13
    assert windows[-1][1] == "2026-03-20T11:15:01Z"
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    # Empty pages store no raw body; their watermarks still move.
    assert all(b.body is None for b in batches)


@pytest.mark.parametrize("body", [{}, {"data": None}, {"data": {"id": "x"}}, []])
def test_a_malformed_page_is_transient(body: Any) -> None:
    def api(path: str, params: Mapping[str, str] | None = None) -> Any:
        return {"data": [_device()]} if path == "/api/v1/devices" else body

    sync, ctx = _ctx(api)
    with pytest.raises(Transient):
        list(sync.fetch(ctx))

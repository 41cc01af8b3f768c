"""Summaries in the database, on SQLite and PostgreSQL: outdated marking in the data's own
transaction, recomputation from hourly buckets, and incremental == from scratch (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from inlet.data.service import DataService
from inlet.db.schema import summaries, summary_buckets
from inlet.model.glucose import mgdl_to_mmoll
from inlet.model.timeutil import to_micros
from inlet.summaries import compute as k
from inlet.summaries import store
from inlet.summaries.updater import update_outdated
from tests.summaries.conftest import BASE, cbg, continuous_set, smbg

USER = "0123456789abcdef0123456789abcdef"


def _row(engine: Engine, user: str, kind: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(summaries).where(summaries.c.user_id == user, summaries.c.type == kind)
        ).first()


def _summary(engine: Engine, user: str, kind: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return store.platform_summary(conn, user, kind)


def test_an_upload_marks_the_summary_outdated_in_its_own_transaction(
    engine: Engine, service: DataService
) -> None:
    data_set = continuous_set(engine, service, USER)
    with engine.connect() as conn, conn.begin() as tx:
        service.add_data(conn, data_set, [cbg(0, 100)])
        tx.rollback()  # the request fails after storing
    assert _row(engine, USER, "cgm") is None  # rolled back together with the data
    with engine.begin() as conn:
        service.add_data(conn, data_set, [cbg(30, 100), cbg(10, 120), smbg(20, 90)])
    now = service.now()
    for kind in ("cgm", "bgm", "con"):
        row = _row(engine, USER, kind)
        assert row.outdated_since == now
        assert row.outdated_reasons == ["DATA_ADDED"]
    assert _row(engine, USER, "cgm").outdated_from == to_micros(BASE) + 10 * 60_000_000
    assert _row(engine, USER, "bgm").outdated_from == to_micros(BASE) + 20 * 60_000_000
    assert _summary(engine, USER, "cgm") is None  # never computed: no summary yet


def test_recompute_from_buckets_counts_only_current_data(engine: Engine, service: DataService) -> None:
    data_set = continuous_set(engine, service, USER)
    with engine.begin() as conn:
        service.add_data(
            conn,
            data_set,
            [
                cbg(0, 100, origin={"id": "a"}),
                cbg(5, 53),
                cbg(7, 300),  # within 5 min - 10 s of the previous counted reading: a duplicate
                cbg(10, 400, origin={"id": "gone"}),
                cbg(15, 70),
                smbg(3, 54),
            ],
        )
    with engine.begin() as conn:
        service.add_data(conn, data_set, [cbg(0, 200, origin={"id": "a"})])  # replaces 100
        service.delete_data(conn, data_set, [{"origin": {"id": "gone"}}])  # tombstones 400
    assert _row(engine, USER, "cgm").outdated_reasons == ["DATA_ADDED", "DATA_DELETED"]
    with engine.begin() as conn:
        store.recompute(conn, USER, service.now())
    cgm = _summary(engine, USER, "cgm")
    assert cgm is not None
    assert cgm["dates"]["lastData"] == "2026-10-20T00:15:00.000Z"
    assert "outdatedSince" not in cgm["dates"]
    assert cgm["dates"]["lastUpdatedReason"] == ["DATA_ADDED", "DATA_DELETED"]
    assert cgm["config"]["VeryLowGlucoseThreshold"] == 3.0
    day = cgm["periods"]["1d"]
    assert day["total"]["records"] == 3
    assert day["total"]["minutes"] == 15
    assert (day["inVeryLow"]["records"], day["inTarget"]["records"], day["inHigh"]["records"]) == (1, 1, 1)
    assert day["max"] == mgdl_to_mmoll(200)
    assert day["min"] == mgdl_to_mmoll(53)
    assert "percent" not in day["inTarget"]  # 15 minutes of a day: does not qualify
    assert "glucoseManagementIndicator" not in day
    assert day["total"]["percent"] == pytest.approx(15 / 1440)
    bgm = _summary(engine, USER, "bgm")
    assert bgm is not None
    assert bgm["periods"]["1d"]["inLow"]["percent"] == 1.0
    con = _summary(engine, USER, "con")
    assert con is not None
    assert con["periods"]["1d"]["total"]["records"] == 4


def test_a_full_day_qualifies_and_deltas_need_both_periods(engine: Engine, service: DataService) -> None:
    data_set = continuous_set(engine, service, USER)
    readings = [cbg(m, 120 if m < 1440 else 200) for m in range(0, 2 * 1440, 5)]
    with engine.begin() as conn:
        service.add_data(conn, data_set, readings)
        store.recompute(conn, USER, service.now())
    day = _summary(engine, USER, "cgm")["periods"]["1d"]  # type: ignore[index]
    # the last day [24 h, 48 h) is all 200 mg/dL, the day before all 120
    assert day["inHigh"]["percent"] == 1.0
    assert day["total"]["percent"] == 1.0
    assert day["glucoseManagementIndicator"] == k.gmi(day["averageGlucoseMmol"])
    assert day["delta"]["inHigh"]["percent"] == 1.0
    assert day["delta"]["inTarget"]["percent"] == -1.0
    assert day["delta"]["averageGlucoseMmol"] == pytest.approx(mgdl_to_mmoll(200) - mgdl_to_mmoll(120))
    week = _summary(engine, USER, "cgm")["periods"]["7d"]  # type: ignore[index]
    assert "percent" in week["inTarget"]
    assert week["delta"] == {}


def test_no_data_answers_none_and_deleting_everything_empties_it(
    engine: Engine, service: DataService
) -> None:
    data_set = continuous_set(engine, service, USER)
    with engine.begin() as conn:
        service.add_data(conn, data_set, [cbg(0, 100)])
        store.recompute(conn, USER, service.now())
    assert _summary(engine, USER, "cgm") is not None
    with engine.begin() as conn:
        service.delete_data_set(conn, data_set)
    assert _row(engine, USER, "cgm").outdated_reasons == ["DATA_DELETED"]
    assert update_outdated(engine, service.now) == 1
    assert _summary(engine, USER, "cgm") is None
    with engine.connect() as conn:
        assert conn.execute(select(summary_buckets)).first() is None


def test_the_updater_takes_the_most_outdated_first_and_clears_them(
    engine: Engine, service: DataService
) -> None:
    users = [f"{i:032x}" for i in range(1, 4)]
    for user in users:
        data_set = continuous_set(engine, service, user)
        with engine.begin() as conn:
            service.add_data(conn, data_set, [cbg(0, 100)])
        service.clock.now = service.clock.now.replace(minute=service.clock.now.minute + 1)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert store.outdated_users(conn, 2) == users[:2]
    assert update_outdated(engine, service.now, limit=2) == 2
    assert [_row(engine, u, "cgm").outdated_since is None for u in users] == [True, True, False]
    assert update_outdated(engine, service.now) == 1
    assert update_outdated(engine, service.now) == 0


# ---- incremental == from scratch ----------------------------------------------------------------

STEP = st.one_of(
    st.tuples(
        st.just("add"),
        st.lists(
            st.tuples(
                st.integers(0, 40),  # origin id
                st.integers(0, 3 * 288),  # 5-minute slot over 3 days
                st.integers(0, 240),  # seconds within it (duplicates within an interval)
                st.sampled_from((39, 53, 54, 69, 70, 120, 180, 181, 250, 251, 350, 401)),
                st.sampled_from(("cbg", "smbg")),
            ),
            min_size=1,
            max_size=25,
        ),
    ),
    st.tuples(st.just("delete"), st.lists(st.integers(0, 40), min_size=1, max_size=5)),
)


def _state(conn: Any, user: str) -> dict[str, Any]:
    state: dict[str, Any] = {kind: store.platform_summary(conn, user, kind) for kind in k.TYPES}
    stored = conn.execute(
        select(summaries.c.type, summaries.c.clinic_periods).where(summaries.c.user_id == user)
    )
    state["clinic"] = {row.type: row.clinic_periods for row in stored}  # what the clinic list answers
    return state


def _without_dates(state: dict[str, Any]) -> dict[str, Any]:
    out = {kind: (state[kind] or {}).get("periods") for kind in k.TYPES}
    return {**out, "clinic": state["clinic"]}


@pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=6), seed=st.integers(0, 10**9))
def test_incremental_equals_from_scratch(
    engine: Engine, service: DataService, steps: list[Any], seed: int
) -> None:
    user = f"{seed:032x}"
    data_set = continuous_set(engine, service, user)
    for step in steps:
        with engine.begin() as conn:
            if step[0] == "add":
                batch = {}
                for origin, slot, seconds, mg, kind in step[1]:
                    make = cbg if kind == "cbg" else smbg
                    batch[origin] = make(slot * 5 + seconds / 60, mg, origin={"id": f"o{origin}"})
                service.add_data(conn, data_set, list(batch.values()))
            else:
                service.delete_data(conn, data_set, [{"origin": {"id": f"o{i}"}} for i in step[1]])
        with engine.begin() as conn:
            store.recompute(conn, user, service.now())
            incremental = _state(conn, user)
        with engine.connect() as conn, conn.begin() as tx:
            store.recompute(conn, user, service.now(), full=True)
            scratch = _state(conn, user)
            tx.rollback()
        assert _without_dates(incremental) == _without_dates(scratch)


def test_a_partner_batch_tombstone_marks_the_summary_outdated(engine: Engine, service: DataService) -> None:
    from inlet.sync.runner import _tombstone

    data_set = continuous_set(engine, service, USER)
    with engine.begin() as conn:
        service.add_data(conn, data_set, [cbg(0, 100, origin={"id": "egv-1"}), cbg(5, 110)])
        store.recompute(conn, USER, service.now())
    assert _row(engine, USER, "cgm").outdated_since is None
    with engine.begin() as conn:
        assert _tombstone(conn, data_set.id, USER, ["egv-1"], service.now()) == 1
    row = _row(engine, USER, "cgm")
    assert row.outdated_reasons == ["DATA_DELETED"]
    assert row.outdated_from == to_micros(BASE)
    update_outdated(engine, service.now)
    assert _summary(engine, USER, "cgm")["periods"]["1d"]["total"]["records"] == 1  # type: ignore[index]


def test_the_updater_loop_makes_a_summary_current_within_its_interval(
    engine: Engine, service: DataService
) -> None:
    import asyncio

    from inlet.summaries.updater import run_updater

    data_set = continuous_set(engine, service, USER)
    with engine.begin() as conn:
        service.add_data(conn, data_set, [cbg(0, 100)])

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_updater(engine, service.now, stop, every=(0.05, 0.1)))
        for _ in range(200):
            if _summary(engine, USER, "cgm") is not None:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(scenario())
    summary = _summary(engine, USER, "cgm")
    assert summary is not None
    assert "outdatedSince" not in summary["dates"]

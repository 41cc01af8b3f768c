"""The Basics, Trends, BG Log and Device settings figures against hand-computed cases, including a day
the clocks spring forward, one they fall back, and a day with a suspended pump."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from inlet.reports.bglog import bg_log
from inlet.reports.calendars import bolus_kinds, calendars
from inlet.reports.device_settings import BasalSchedule, history, snapshot
from inlet.reports.glucose import readings_from_docs
from inlet.reports.insulin import basal_pieces, by_day, summarize
from inlet.reports.trends import bgm_bins, cgm_bins, period

EST, EDT = -300, -240  # America/New_York, winter and summer


def basal(time: str, hours: float, rate: float, offset: int, kind: str = "scheduled") -> dict[str, Any]:
    doc = {
        "type": "basal",
        "deliveryType": kind,
        "time": time,
        "duration": int(hours * 3_600_000),
        "timezoneOffset": offset,
    }
    if kind != "suspend":
        doc["rate"] = rate
    return doc


def test_a_spring_forward_day_has_23_hours_of_basal() -> None:
    # 8 Mar 2026, New York: 00:00 EST is 05:00Z; at 02:00 EST (07:00Z) clocks jump to 03:00 EDT;
    # the next midnight (EDT) is 04:00Z on 9 Mar. A pump at 1 U/h all day delivers 23 U.
    docs = [
        basal("2026-03-08T05:00:00Z", 2, 1.0, EST),  # 00:00-02:00 EST
        basal("2026-03-08T07:00:00Z", 21, 1.0, EDT),  # 03:00-24:00 EDT
    ]
    days = by_day(docs, date(2026, 3, 8), date(2026, 3, 8))
    assert days[date(2026, 3, 8)].basal == pytest.approx(23.0)
    assert days[date(2026, 3, 8)].basal_hours == pytest.approx(23.0)


def test_a_fall_back_day_has_25_hours_of_basal() -> None:
    # 1 Nov 2026, New York: 00:00 EDT is 04:00Z; at 02:00 EDT (06:00Z) clocks go back to 01:00 EST;
    # the next midnight (EST) is 05:00Z on 2 Nov: 25 hours.
    docs = [
        basal("2026-11-01T04:00:00Z", 2, 0.8, EDT),  # 00:00-02:00 EDT: 1.6 U
        basal("2026-11-01T06:00:00Z", 23, 0.8, EST),  # 01:00-24:00 EST: 18.4 U
    ]
    days = by_day(docs, date(2026, 11, 1), date(2026, 11, 1))
    assert days[date(2026, 11, 1)].basal == pytest.approx(20.0)  # 25 h x 0.8


def test_a_segment_across_midnight_is_split_by_its_own_offset() -> None:
    # 22:00 local (UTC-5) on 1 Mar for 4 hours: 2 h on 1 Mar, 2 h on 2 Mar.
    pieces = basal_pieces(basal("2026-03-02T03:00:00Z", 4, 1.0, EST))
    assert pieces == [(date(2026, 3, 1), 2.0), (date(2026, 3, 2), 2.0)]


def suspended_day() -> list[dict[str, Any]]:
    """2 Mar 2026 (UTC-5): 1 U/h 00:00-10:00, suspended 10:00-12:00, 1 U/h 12:00-24:00; a bolus of
    3 U interrupted at 1.5 U by the suspend; a 45 g meal through the calculator; a fingerstick."""
    return [
        basal("2026-03-02T05:00:00Z", 10, 1.0, EST),
        basal("2026-03-02T15:00:00Z", 2, 0.0, EST, "suspend"),
        basal("2026-03-02T17:00:00Z", 12, 1.0, EST),
        {
            "type": "bolus",
            "subType": "normal",
            "id": "b1",
            "normal": 1.5,
            "expectedNormal": 3.0,
            "time": "2026-03-02T14:55:00Z",
            "timezoneOffset": EST,
        },
        {
            "type": "wizard",
            "bolus": "b1",
            "carbInput": 45,
            "recommended": {"carb": 3.0, "correction": 0.0, "net": 3.0},
            "time": "2026-03-02T14:55:00Z",
            "timezoneOffset": EST,
        },
        {
            "type": "smbg",
            "value": 5.55075,
            "units": "mmol/L",
            "time": "2026-03-02T12:00:00Z",
            "timezoneOffset": EST,
        },
    ]


def test_a_suspended_pump_day() -> None:
    days = by_day(suspended_day(), date(2026, 3, 2), date(2026, 3, 2))
    day = days[date(2026, 3, 2)]
    assert day.basal == pytest.approx(22.0)  # 10 + 0 + 12
    assert day.basal_hours == pytest.approx(24.0)
    assert day.bolus == pytest.approx(1.5)  # delivered, not the 3 U expected
    assert day.carbs == 45
    summary = summarize(days)
    assert summary.total == pytest.approx(23.5)
    assert summary.average_daily_dose == pytest.approx(23.5)
    assert summary.basal_share == pytest.approx(22.0 / 23.5)
    assert summary.automated_share == 0
    cal = calendars(suspended_day(), date(2026, 3, 2), date(2026, 3, 2), None)
    cell = cal.days[0]
    assert cell.suspends == 1
    assert cell.temp_basals == 0
    assert cell.boluses == 1
    assert cell.fingersticks == 1
    assert {k for k, n in cell.bolus_kinds.items() if n} == {"calculator", "interrupted"}


def test_average_daily_dose_counts_only_days_with_insulin() -> None:
    docs = [
        basal("2026-03-02T05:00:00Z", 24, 0.5, EST),  # 12 U on 2 Mar
        {
            "type": "bolus",
            "subType": "normal",
            "normal": 4.0,
            "time": "2026-03-03T17:00:00Z",
            "timezoneOffset": EST,
        },
        {
            "type": "insulin",
            "dose": {"total": 2.0, "units": "Units"},
            "time": "2026-03-03T18:00:00Z",
            "timezoneOffset": EST,
        },
        {
            "type": "food",
            "nutrition": {"carbohydrate": {"net": 30, "units": "grams"}},
            "time": "2026-03-03T17:00:00Z",
            "timezoneOffset": EST,
        },
        basal("2026-03-05T05:00:00Z", 6, 1.0, EST, "automated"),
        basal("2026-03-05T11:00:00Z", 2, 1.0, EST),
    ]
    summary = summarize(by_day(docs, date(2026, 3, 1), date(2026, 3, 7)))
    assert summary.basal == pytest.approx(20.0)  # 12 + 6 + 2
    assert summary.bolus == pytest.approx(4.0)
    assert summary.other == pytest.approx(2.0)
    assert summary.days_with_insulin == 3  # 2, 3 and 5 March
    assert summary.average_daily_dose == pytest.approx(26.0 / 3)
    assert summary.automated_share == pytest.approx(6 / 32)  # 6 of 24 + 6 + 2 basal hours
    assert summary.average_daily_carbs == 30


def test_bolus_kinds() -> None:
    wizard = {"carbInput": 0, "recommended": {"carb": 0, "correction": 1.2, "net": 1.2}}
    assert bolus_kinds({"subType": "normal", "normal": 1.2}, wizard) == {"calculator", "correction"}
    assert bolus_kinds({"subType": "normal", "normal": 2.0}, wizard) == {
        "calculator",
        "correction",
        "override",
    }
    assert bolus_kinds({"subType": "square", "extended": 2.0, "duration": 3600000}, None) == {"extended"}
    assert bolus_kinds(
        {"subType": "dual/square", "normal": 1, "extended": 1, "expectedExtended": 2}, None
    ) == {
        "extended",
        "interrupted",
    }
    assert bolus_kinds({"subType": "automated", "normal": 0.3}, None) == {"automated"}


def test_site_changes_follow_the_chosen_source() -> None:
    def event(day: int, sub: str, **more: Any) -> dict[str, Any]:
        return {
            "type": "deviceEvent",
            "subType": sub,
            "time": f"2026-03-{day:02d}T15:00:00Z",
            "timezoneOffset": EST,
            **more,
        }

    docs = [
        event(1, "prime", primeTarget="cannula"),
        event(2, "reservoirChange"),
        event(4, "prime", primeTarget="cannula"),
        event(4, "prime", primeTarget="tubing"),
        event(7, "prime", primeTarget="cannula"),
    ]
    cannula = calendars(docs, date(2026, 3, 3), date(2026, 3, 9), "cannulaPrime")
    assert [c.day.day for c in cannula.days if c.site_change] == [4, 7]
    assert [c.days_since_site_change for c in cannula.days if c.site_change] == [3, 3]  # from 1 Mar, then 4
    reservoir = calendars(docs, date(2026, 3, 1), date(2026, 3, 9), "reservoirChange")
    assert [c.day.day for c in reservoir.days if c.site_change] == [2]
    assert [c.days_since_site_change for c in reservoir.days if c.site_change] == [None]
    assert not any(c.site_change for c in calendars(docs, date(2026, 3, 1), date(2026, 3, 9), None).days)


def test_automated_stops_and_temp_basals() -> None:
    docs = [
        basal("2026-03-02T05:00:00Z", 1, 1.0, EST, "automated"),
        basal("2026-03-02T06:00:00Z", 1, 1.0, EST),  # automated -> scheduled: a stop
        basal("2026-03-02T07:00:00Z", 1, 2.0, EST, "temp"),
        basal("2026-03-02T08:00:00Z", 1, 1.0, EST),
    ]
    cell = calendars(docs, date(2026, 3, 2), date(2026, 3, 2), None).days[0]
    assert (cell.automated_stops, cell.temp_basals, cell.suspends) == (1, 1, 0)


def cbg(local_time: str, mg: int, offset: int = 0) -> dict[str, Any]:
    return {
        "type": "cbg",
        "units": "mmol/L",
        "value": mg / 18.01559,
        "time": local_time + "Z",
        "timezoneOffset": offset,
    }


def test_trends_cgm_bins_percentiles_and_weekday_filter() -> None:
    # Five readings in the 08:00-08:30 bin on Monday 2 Mar 2026 and one on Tuesday at 08:10.
    docs = [
        cbg(f"2026-03-02T08:{m:02d}:00", mg)
        for m, mg in ((0, 100), (5, 110), (10, 120), (15, 130), (20, 140))
    ]
    docs.append(cbg("2026-03-03T08:10:00", 300))
    readings = readings_from_docs(docs)
    first, last = period(date(2026, 3, 8), 1)
    assert (first, last) == (date(2026, 3, 2), date(2026, 3, 8))
    bins = cgm_bins(readings, first, last)
    assert len(bins) == 48
    eight = bins[16]
    assert eight.minute_of_day == 480
    assert eight.n == 6
    # sorted 100 110 120 130 140 300: p10 at h=0.5 -> 105; p50 at h=2.5 -> 125; p90 at h=4.5 -> 220
    assert (eight.low, eight.p10, eight.p50, eight.p90, eight.high) == (100, 105, 125, 220, 300)
    mondays = cgm_bins(readings, first, last, weekdays={0})[16]
    assert (mondays.n, mondays.p25, mondays.p75) == (5, 110, 130)
    assert bins[0].n == 0
    assert bins[0].p50 is None
    with pytest.raises(ValueError, match="weeks"):
        period(date(2026, 3, 8), 3)


def smbg(local_time: str, mg: int) -> dict[str, Any]:
    return {
        "type": "smbg",
        "units": "mmol/L",
        "value": mg / 18.01559,
        "time": local_time + "Z",
        "timezoneOffset": 0,
    }


def test_trends_bgm_bins_of_three_hours() -> None:
    docs = [
        smbg("2026-03-02T07:00:00", 90),
        smbg("2026-03-03T08:59:00", 150),
        smbg("2026-03-03T09:00:00", 200),
    ]
    bins = bgm_bins(docs, date(2026, 3, 1), date(2026, 3, 7))
    assert len(bins) == 8
    assert (bins[2].hour_of_day, bins[2].n, bins[2].low, bins[2].mean, bins[2].high) == (6, 2, 90, 120, 150)
    assert (bins[3].n, bins[3].mean) == (1, 200)


def test_bg_log_two_weeks_newest_first() -> None:
    docs = [
        smbg("2026-03-14T07:00:00", 90),
        smbg("2026-03-14T21:00:00", 151),
        smbg("2026-03-01T12:00:00", 120),
    ]
    docs.append(smbg("2026-02-28T12:00:00", 80))  # before the two weeks
    log = bg_log(docs, date(2026, 3, 14))
    assert len(log) == 14
    assert log[0].day == date(2026, 3, 14)
    assert [mg for _, mg in log[0].readings] == [90, 151]
    assert log[0].mean == pytest.approx(120.5)
    assert log[-1].day == date(2026, 3, 1)
    assert [mg for _, mg in log[-1].readings] == [120]
    assert log[5].readings == []
    assert log[5].mean is None


def pump_settings(time: str, schedule: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "type": "pumpSettings",
        "deviceId": "Pump-1",
        "time": time,
        "timezoneOffset": 0,
        "activeSchedule": "Standard",
        "basalSchedules": {"Standard": schedule, "Weekend": [{"start": 0, "rate": 0.7}]},
        **more,
    }


def test_basal_schedule_daily_totals() -> None:
    # 0.5 U/h 00:00-06:00, 1.0 U/h 06:00-22:00, 0.5 U/h 22:00-24:00: 3 + 16 + 1 = 20 U
    schedule = BasalSchedule("Standard", True, [(0, 0.5), (6 * 3_600_000, 1.0), (22 * 3_600_000, 0.5)])
    assert schedule.daily_total == 20.0
    assert BasalSchedule("Flat", False, [(0, 0.7)]).daily_total == pytest.approx(16.8)


def test_device_settings_snapshot_and_history() -> None:
    schedule = [
        {"start": 0, "rate": 0.5},
        {"start": 21_600_000, "rate": 1.0},
        {"start": 79_200_000, "rate": 0.5},
    ]
    first = pump_settings(
        "2026-03-01T08:00:00Z",
        schedule,
        bgTarget=[{"start": 0, "low": 5.55075, "high": 6.66090}],  # 100-120 mg/dL
        carbRatio=[{"start": 0, "amount": 10}, {"start": 43_200_000, "amount": 12}],
        insulinSensitivity=[{"start": 0, "amount": 2.77538}],  # 50 mg/dL per U
        bolus={
            "amountMaximum": {"units": "Units", "value": 10},
            "calculator": {"enabled": True, "insulin": {"duration": 4, "units": "hours"}},
        },
        basal={"rateMaximum": {"units": "Units/hour", "value": 3.5}},
    )
    snap = snapshot(first)
    standard = next(s for s in snap.schedules if s.name == "Standard")
    assert standard.active
    assert standard.daily_total == 20.0
    assert snap.targets[""][0].low_mg == 100
    assert snap.targets[""][0].high_mg == 120
    assert snap.carb_ratios[""] == [(0, 10.0), (43_200_000, 12.0)]
    assert snap.sensitivities[""] == [(0, 50)]
    assert ("Maximum basal rate", "3.5 U/h") in snap.insulin
    assert ("Active insulin time", "4 hours") in snap.insulin
    later_same_day = pump_settings("2026-03-01T20:00:00Z", [{"start": 0, "rate": 0.9}])
    changed = pump_settings("2026-03-05T08:00:00Z", [{"start": 0, "rate": 0.8}])
    entries = history([first, changed, later_same_day], today=date(2026, 3, 10))["Pump-1"]
    assert [e.snapshot.day for e in entries] == [date(2026, 3, 5), date(2026, 3, 1)]
    assert [e.days_in_effect for e in entries] == [6, 4]  # 5-10 Mar inclusive; 1-4 Mar
    assert entries[1].snapshot.time == datetime(2026, 3, 1, 20, 0)  # the day's last upload
    assert entries[1].snapshot.schedules[0].daily_total == pytest.approx(21.6)

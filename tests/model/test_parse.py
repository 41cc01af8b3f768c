"""The request-level behaviour of the model: every error at its pointer, storage-only and unknown
fields refused, common fields, the seed's "all possible fields" example, round trips."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlet.model.common import STORAGE_ONLY
from inlet.model.data_set import parse_data_set
from inlet.model.parse import parse_data


def cbg(**overrides: Any) -> dict[str, Any]:
    datum: dict[str, Any] = {
        "type": "cbg",
        "units": "mg/dL",
        "value": 120,
        "time": "2026-01-02T03:04:05Z",
        "deviceId": "DexG6_SM123",
    }
    datum.update(overrides)
    return datum


def errors_of(data: list[Any]) -> list[tuple[str, str]]:
    return [(err.code, err.pointer) for err in parse_data(data).errors]


SEED_ALL_FIELDS = {
    "_active": True,
    "_groupId": "abcdef",
    "_schemaVersion": 0,
    "_version": 0,
    "clockDriftOffset": 0,
    "conversionOffset": 0,
    "createdTime": "2018-05-14T08:17:12.734Z",
    "deviceId": "DevId0987654321",
    "deviceTime": "2018-05-14T18:17:07",
    "guid": "33b8f139-50e4-49d6-b9eb-44d70cc05abc",
    "id": "47a2c4c1435a41bc83aba48797ed5cb3",
    "time": "2018-05-14T08:17:07.734Z",
    "timezoneOffset": 600,
    "uploadId": "SampleUploadId",
}


def test_seed_example_as_sent_is_refused_for_its_storage_fields() -> None:
    """The seed's example carries storage-only fields and no type: a client may not send it."""
    errors = errors_of([SEED_ALL_FIELDS])
    assert errors == [("value-not-exists", "/0/type")]  # the type decides everything else
    errors = errors_of([{**SEED_ALL_FIELDS, "type": "cbg", "units": "mmol/L", "value": 5.5}])
    assert sorted(errors) == sorted(
        ("not-parsed", f"/0/{name}")
        for name in ("_active", "_groupId", "_schemaVersion", "_version", "createdTime")
    )


def test_seed_example_client_fields_are_all_kept() -> None:
    client_fields = {k: v for k, v in SEED_ALL_FIELDS.items() if k not in STORAGE_ONLY}
    result = parse_data([{**client_fields, "type": "cbg", "units": "mmol/L", "value": 5.5}])
    assert result.ok
    doc = result.datums[0].doc
    for key, value in client_fields.items():
        assert doc[key] == value, key
    assert doc["time"] == "2018-05-14T08:17:07.734Z"


def test_every_error_is_reported_with_its_pointer() -> None:
    data = [
        cbg(),
        cbg(value=1001),
        cbg(units="mg", time="yesterday"),
        "not an object",
        {"type": "nope", "time": "2026-01-01T00:00:00Z"},
        cbg(value="120", deviceTime="2026-01-01 00:00:00", timezone="Mars/Base"),
    ]
    assert sorted(errors_of(data)) == sorted(
        [
            ("value-out-of-range", "/1/value"),
            ("value-not-allowed", "/2/units"),
            ("value-not-valid", "/2/time"),
            ("type-not-object", "/3"),
            ("value-not-allowed", "/4/type"),
            ("type-not-float64", "/5/value"),
            ("value-not-valid", "/5/deviceTime"),
            ("value-not-valid", "/5/timezone"),
        ]
    )


def test_error_wording_follows_tidepool() -> None:
    [error] = parse_data([cbg(value=1001)]).errors
    assert error.title == "value is out of range"
    assert error.detail == "value 1001 is not between 0 and 1000"
    assert error.to_platform() == {
        "code": "value-out-of-range",
        "title": "value is out of range",
        "detail": "value 1001 is not between 0 and 1000",
        "status": "400",
        "source": {"pointer": "/1/value".replace("/1", "/0")},
        "meta": {},
    }
    [error] = parse_data([cbg(units="mg")]).errors
    assert error.detail == 'value "mg" is not one of ["mmol/L", "mmol/l", "mg/dL", "mg/dl"]'
    [error] = parse_data([cbg(value=55.5, units="mmol/L")]).errors
    assert error.detail == "value 55.5 is not between 0 and 55"


@pytest.mark.parametrize("field", sorted(STORAGE_ONLY))
def test_storage_only_fields_are_refused(field: str) -> None:
    assert errors_of([cbg(**{field: "x"})]) == [("not-parsed", f"/0/{field}")]


def test_unknown_fields_are_refused_as_tidepool_does() -> None:
    """Tidepool's parser reports every field it did not parse (``not-parsed``): Inlet keeps no field
    Tidepool would not keep, so the stored record never holds what no reader understands."""
    assert errors_of([cbg(colour="blue", nested={"a": 1})]) == [
        ("not-parsed", "/0/colour"),
        ("not-parsed", "/0/nested"),
    ]
    assert errors_of([cbg(origin={"id": "x", "extra": 1})]) == [("not-parsed", "/0/origin/extra")]


def test_missing_type_time_and_required_fields() -> None:
    assert errors_of([{"time": "2026-01-01T00:00:00Z"}]) == [("value-not-exists", "/0/type")]
    assert sorted(errors_of([{"type": "cbg"}])) == [
        ("value-not-exists", "/0/time"),
        ("value-not-exists", "/0/units"),
        ("value-not-exists", "/0/value"),
    ]
    assert errors_of([{"type": "basal", "time": "2026-01-01T00:00:00Z"}]) == [
        ("value-not-exists", "/0/deliveryType")
    ]


def test_time_without_zone_is_refused_on_upload() -> None:
    assert errors_of([cbg(time="2026-01-02T03:04:05")]) == [("value-not-valid", "/0/time")]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("timezoneOffset", -10080, None),
        ("timezoneOffset", 10080, None),
        ("timezoneOffset", -10081, "value-out-of-range"),
        ("timezoneOffset", 10081, "value-out-of-range"),
        ("timezoneOffset", 1.5, "type-not-int"),
        ("clockDriftOffset", -86400000, None),
        ("clockDriftOffset", 86400000, None),
        ("clockDriftOffset", 86400001, "value-out-of-range"),
        ("clockDriftOffset", -86400001, "value-out-of-range"),
        ("conversionOffset", 31536000000, None),
        ("timezone", "America/Los_Angeles", None),
        ("timezone", "PST", "value-not-valid"),
        ("guid", "33b8f139-50e4-49d6-b9eb-44d70cc05abc", None),
        ("guid", "33b8f139", "value-not-valid"),
        ("id", "a" * 32, None),
        ("id", "A" * 32, "value-not-valid"),
        ("id", "a" * 31, "value-not-valid"),
        ("deviceId", "", "value-empty"),
        ("notes", ["x" * 1000] * 100, None),
        ("notes", ["x" * 1001], "length-out-of-range"),
        ("notes", ["x"] * 101, "length-out-of-range"),
        ("tags", ["a", "b"], None),
        ("tags", ["a", "a"], "value-duplicate"),
        ("annotations", [{"code": "bg/out-of-range", "value": "high", "threshold": 400}], None),
        ("annotations", ["x"], "type-not-object"),
        (
            "origin",
            {"id": "o1", "name": "com.dexcom", "type": "service", "time": "2026-01-01T00:00:00Z"},
            None,
        ),
        ("origin", {"type": "cloud"}, "value-not-allowed"),
        ("payload", {"anything": [1, 2, {"x": None}]}, None),
        ("payload", [], "type-not-object"),
    ],
)
def test_common_fields(field: str, value: Any, code: str | None) -> None:
    codes = [c for c, _ in errors_of([cbg(**{field: value})])]
    assert codes == ([] if code is None else [code])


def test_out_of_range_annotation_is_kept() -> None:
    annotation = {"code": "bg/out-of-range", "value": "high", "threshold": 400}
    result = parse_data([cbg(value=401, annotations=[annotation])])
    assert result.datums[0].doc["annotations"] == [annotation]
    assert result.datums[0].doc["value"] == 22.2585


def test_client_id_is_kept_and_missing_id_assigned() -> None:
    result = parse_data([cbg(id="0" * 32), cbg()])
    assert result.datums[0].doc["id"] == "0" * 32
    assigned = result.datums[1].doc["id"]
    assert len(assigned) == 32
    assert int(assigned, 16) >= 0


def test_a_valid_request_normalizes_units_and_time() -> None:
    result = parse_data([cbg(time="2026-01-02T03:04:05.120-05:00", value=180)])
    doc = result.datums[0].doc
    assert doc["units"] == "mmol/L"
    assert doc["value"] == 9.99135
    assert doc["time"] == "2026-01-02T08:04:05.120Z"


def test_body_must_be_an_array() -> None:
    assert errors_of({"type": "cbg"}) == [("type-not-array", "")]  # type: ignore[arg-type]


_UNITS = st.sampled_from(["mg/dL", "mg/dl", "mmol/L", "mmol/l"])


@st.composite
def cbg_datums(draw: st.DrawFn) -> dict[str, Any]:
    units = draw(_UNITS)
    # Tidepool's ranges are 0..1000 mg/dL and 0..55 mmol/L, but 1000 mg/dL is 55.50748 mmol/L: above
    # 990.9 mg/dL a stored value is not valid mmol/L input (test_tidepool_range_edge below).
    top = 990 if units.startswith("mg") else 55
    datum = cbg(
        units=units,
        value=draw(st.floats(min_value=0, max_value=top, allow_nan=False)),
        time=draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
        .replace(tzinfo=timezone(timedelta(minutes=draw(st.integers(-720, 840)))))
        .isoformat(),
    )
    if draw(st.booleans()):
        datum["trend"] = draw(st.sampled_from(["constant", "slowFall", "rapidRise"]))
    if draw(st.booleans()):
        datum["sampleInterval"] = draw(st.integers(0, 86_400_000))
    return datum


@given(st.lists(cbg_datums(), min_size=1, max_size=5))
def test_normalized_datums_parse_again_unchanged(data: list[dict[str, Any]]) -> None:
    """Normalization is a fixed point: what we store is itself valid input that stores the same."""
    first = parse_data(data)
    assert first.ok, first.errors
    docs = [d.doc for d in first.datums]
    second = parse_data([dict(doc) for doc in docs])
    assert second.ok, second.errors
    assert [d.doc for d in second.datums] == docs


def test_tidepool_range_edge() -> None:
    """Known edge of Tidepool's ranges, kept for compatibility and documented."""
    stored = parse_data([cbg(value=1000)]).datums[0].doc
    assert stored["value"] == 55.50748
    assert errors_of([stored]) == [("value-out-of-range", "/0/value")]


def test_data_set_body() -> None:
    body = {
        "type": "upload",
        "client": {"name": "org.tidepool.uploader", "version": "2.60.0"},
        "dataSetType": "normal",
        "deduplicator": {"name": "org.tidepool.hash-deactivate-old"},
        "deviceId": "MedT-723-1234567",
        "deviceManufacturers": ["Medtronic"],
        "deviceModel": "723",
        "deviceSerialNumber": "1234567",
        "deviceTags": ["insulin-pump", "cgm"],
        "computerTime": "2026-01-01T10:00:00",
        "deviceTime": "2026-01-01T10:00:00",
        "time": "2026-01-01T18:00:00Z",
        "timezone": "America/Los_Angeles",
        "timezoneOffset": -480,
        "conversionOffset": 0,
        "timeProcessing": "utc-bootstrapping",
        "version": "2.60.0",
    }
    parsed, errors = parse_data_set(body)
    assert errors == []
    assert parsed is not None
    assert parsed.deduplicator_name == "org.tidepool.deduplicator.device.deactivate.hash"
    assert parsed.data_set_type == "normal"

    _, errors = parse_data_set({**body, "timezoneOffset": 841, "version": "1.0", "bogus": 1, "_active": True})
    assert sorted((x.code, x.pointer) for x in errors) == [
        ("length-out-of-range", "/version"),
        ("not-parsed", "/_active"),
        ("not-parsed", "/bogus"),
        ("value-out-of-range", "/timezoneOffset"),
    ]
    _, errors = parse_data_set({"deduplicator": {"name": "org.example.nope"}, "dataSetType": "weekly"})
    assert sorted((x.code, x.pointer) for x in errors) == [
        ("value-not-allowed", "/dataSetType"),
        ("value-not-allowed", "/deduplicator/name"),
    ]

"""The export's glucose conversion (pure): which fields are glucose, and which are not."""

from __future__ import annotations

from inlet.exports.units import MGDL, MMOLL, in_units, parse_bg_units


def test_wizard_calibration_and_settings_fields_in_mgdl() -> None:
    wizard = {
        "type": "wizard",
        "bgInput": 5.55074,
        "insulinSensitivity": 2.22031,
        "bgTarget": {"low": 4.44062, "high": 6.66094},
        "carbRatio": 10,
        "units": {"bg": "mmol/L", "carb": "grams"},
    }
    assert in_units(dict(wizard), MGDL) == {
        "type": "wizard",
        "bgInput": 100,
        "insulinSensitivity": 40,
        "bgTarget": {"low": 80, "high": 120},
        "carbRatio": 10,
        "units": {"bg": "mg/dL", "carb": "grams"},
    }
    calibration = {"type": "deviceEvent", "subType": "calibration", "value": 5.55074, "units": "mmol/L"}
    assert in_units(dict(calibration), MGDL)["value"] == 100
    ketone = {"type": "bloodKetone", "value": 1.2, "units": "mmol/L"}
    assert in_units(dict(ketone), MGDL) == ketone  # ketones are not glucose
    assert in_units(dict(wizard), MMOLL) == wizard


def test_bg_units_parameter() -> None:
    assert parse_bg_units(None) == MMOLL
    assert parse_bg_units("mg/dl") == MGDL
    assert parse_bg_units("mmol/l") == MMOLL
    assert parse_bg_units("mgdl") is None

"""Glucose fields of a stored datum in the export's units (``bgUnits``).

The database holds every glucose value in mmol/L (5 decimals). The export converts, as Tidepool's
data-tools do, the glucose fields that a person reads as blood glucose: cbg and smbg ``value``, a
deviceEvent calibration ``value``, wizard ``bgInput``, ``bgTarget`` and ``insulinSensitivity``,
pumpSettings targets and sensitivities (singular and per-schedule). Blood ketones stay in mmol/L (they
are not glucose). mg/dL values are whole numbers (``mmol x 18.01559`` rounded half away from zero),
which gives back exactly what a mg/dL device uploaded. A converted datum's ``units`` (or
``units.bg``) says ``mg/dL``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inlet.model import glucose

MMOLL = glucose.MMOLL
MGDL = glucose.MGDL
BG_UNITS = (MMOLL, MGDL)
TARGET_KEYS = ("low", "high", "target", "range")


def parse_bg_units(value: str | None) -> str | None:
    """``mmol/L`` (the default, as in Tidepool's export) or ``mg/dL``; ``None`` for anything else."""
    if value is None or value == "":
        return MMOLL
    if value in glucose.UNITS_MMOLL:
        return MMOLL
    if value in glucose.UNITS_MGDL:
        return MGDL
    return None


def to_mgdl(value: Any) -> Any:
    """A stored mmol/L number as whole mg/dL; anything that is not a number is left as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return glucose.mmoll_to_mgdl(float(value))


def _convert_keys(obj: Any, keys: tuple[str, ...], convert: Callable[[Any], Any]) -> None:
    if isinstance(obj, dict):
        for key in keys:
            if key in obj:
                obj[key] = convert(obj[key])


def _convert_target(obj: Any) -> None:
    _convert_keys(obj, TARGET_KEYS, to_mgdl)


def _each_entry(value: Any) -> list[Any]:
    """Schedule entries: a list, or a dict of named lists (``bgTargets``, ``insulinSensitivities``)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [entry for entries in value.values() if isinstance(entries, list) for entry in entries]
    return []


def in_units(doc: dict[str, Any], bg_units: str) -> dict[str, Any]:
    """``doc`` with its glucose fields in ``bg_units`` (changed in place, and returned)."""
    if bg_units != MGDL:
        return doc
    kind = doc.get("type")
    if kind in ("cbg", "smbg") or (kind == "deviceEvent" and doc.get("subType") == "calibration"):
        if "value" in doc:
            doc["value"] = to_mgdl(doc["value"])
            doc["units"] = MGDL
    elif kind == "wizard":
        _convert_keys(doc, ("bgInput", "insulinSensitivity"), to_mgdl)
        _convert_target(doc.get("bgTarget"))
        _set_bg_units(doc)
    elif kind == "pumpSettings":
        for key in ("bgTarget", "bgTargets", "bgTargetPreprandial", "bgTargetPhysicalActivity"):
            value = doc.get(key)
            if isinstance(value, dict) and any(k in value for k in TARGET_KEYS):
                _convert_target(value)
            else:
                for entry in _each_entry(value):
                    _convert_target(entry)
        for key in ("insulinSensitivity", "insulinSensitivities"):
            for entry in _each_entry(doc.get(key)):
                _convert_keys(entry, ("amount",), to_mgdl)
        _convert_keys(doc, ("bgSafetyLimit",), to_mgdl)
        _set_bg_units(doc)
    return doc


def _set_bg_units(doc: dict[str, Any]) -> None:
    units = doc.get("units")
    if isinstance(units, dict) and "bg" in units:
        units["bg"] = MGDL

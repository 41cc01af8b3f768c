"""wizard: a bolus calculator record (platform data/types/calculator; the type is still "wizard").

Fields:

- ``units`` (required): the blood glucose units of bgInput, insulinSensitivity and bgTarget; stored as
  ``mmol/L`` with those values converted
- ``bgInput``, ``insulinSensitivity``: blood glucose values (0..1000 mg/dL, 0..55 mmol/L)
- ``bgTarget``: one of ``{target}``, ``{target, range}``, ``{target, high}`` or ``{low, high}``; target
  and low lie in the glucose range, high between low (or target) and the top of the range, range between
  0 and the distance from target to the nearer end of the range; a member outside the chosen shape is
  ``value-exists``, a missing one ``value-not-exists`` (platform data/blood/glucose/target.go)
- ``carbInput`` 0..1000; ``carbUnits`` grams or exchanges (the data model's field for exchange-counting
  pumps; the platform's calculator does not list it)
- ``insulinCarbRatio`` 0..250, ``insulinOnBoard`` 0..250
- ``recommended{carb 0..100, correction -100..100, net -100..100}``
- ``bolus``: the bolus the calculator led to, as an embedded bolus datum (which becomes a datum of its
  own, inheriting the record's time and device fields; ``bolus`` then holds its id) or as a datum id
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model import glucose
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import MISSING, Context, Float, Glucose, GlucoseUnits, Obj, OneOf
from inlet.model.parse import EmbeddedDatum

CARB_INPUT_MIN, CARB_INPUT_MAX = 0.0, 1000.0
CARB_UNITS = ("grams", "exchanges")
INSULIN_CARB_RATIO_MIN, INSULIN_CARB_RATIO_MAX = 0.0, 250.0
INSULIN_ON_BOARD_MIN, INSULIN_ON_BOARD_MAX = 0.0, 250.0
RECOMMENDED_CARB_MIN, RECOMMENDED_CARB_MAX = 0.0, 100.0
RECOMMENDED_CORRECTION_MIN, RECOMMENDED_CORRECTION_MAX = -100.0, 100.0
RECOMMENDED_NET_MIN, RECOMMENDED_NET_MAX = -100.0, 100.0


class TargetValue(Glucose):
    """A member of a glucose target: normalized like any glucose value, range-checked by the target's
    rule (its range depends on the other members)."""

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        return None


def _range_bounds(target: float, value_range: tuple[float, float] | None) -> tuple[float, float] | None:
    if value_range is None or not value_range[0] <= target <= value_range[1]:
        return None
    return (0.0, min(target - value_range[0], value_range[1] - target))


def _high_bounds(low: float, value_range: tuple[float, float] | None) -> tuple[float, float] | None:
    if value_range is None or not value_range[0] <= low <= value_range[1]:
        return None
    return (low, value_range[1])


def bg_target_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """The platform's glucose target shapes, checked in its order (high, low, range, target)."""
    if any(values.get(key) is MISSING for key in ("high", "low", "range", "target")):
        return  # a member failed to parse; its error says enough
    high, low, span, target = (values.get(key) for key in ("high", "low", "range", "target"))
    value_range = glucose.range_for_units(ctx.units)

    def check(key: str, value: float, bounds: tuple[float, float] | None) -> None:
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            errs.add(f"{ptr}/{key}", e.not_in_range(value, bounds[0], bounds[1]))

    def refuse(*keys: str) -> None:
        for key in keys:
            if key in values:
                errs.add(f"{ptr}/{key}", e.exists())

    if target is not None and span is not None:
        refuse("high", "low")
        check("range", span, _range_bounds(target, value_range))
        check("target", target, value_range)
    elif target is not None and high is not None:
        check("high", high, _high_bounds(target, value_range))
        refuse("low", "range")
        check("target", target, value_range)
    elif target is not None:
        refuse("high", "low", "range")
        check("target", target, value_range)
    elif high is not None and low is not None:
        check("high", high, _high_bounds(low, value_range))
        check("low", low, value_range)
        refuse("range")
    elif low is not None:
        errs.add(f"{ptr}/high", e.not_exists())
    else:
        errs.add(f"{ptr}/target", e.not_exists())


BG_TARGET = Obj(
    {"high": TargetValue(), "low": TargetValue(), "range": TargetValue(), "target": TargetValue()},
    rules=(bg_target_rule,),
)

RECOMMENDED = Obj(
    {
        "carb": Float(RECOMMENDED_CARB_MIN, RECOMMENDED_CARB_MAX),
        "correction": Float(RECOMMENDED_CORRECTION_MIN, RECOMMENDED_CORRECTION_MAX),
        "net": Float(RECOMMENDED_NET_MIN, RECOMMENDED_NET_MAX),
    }
)

WIZARD = DatumType(
    type="wizard",
    units_key="units",
    fields={
        "units": GlucoseUnits(),
        "bgInput": Glucose(),
        "bgTarget": BG_TARGET,
        "bolus": EmbeddedDatum("bolus"),
        "carbInput": Float(CARB_INPUT_MIN, CARB_INPUT_MAX),
        "carbUnits": OneOf(*CARB_UNITS),
        "insulinCarbRatio": Float(INSULIN_CARB_RATIO_MIN, INSULIN_CARB_RATIO_MAX),
        "insulinOnBoard": Float(INSULIN_ON_BOARD_MIN, INSULIN_ON_BOARD_MAX),
        "insulinSensitivity": Glucose(),
        "recommended": RECOMMENDED,
    },
    required=("units",),
    description="bolus calculator record",
)

TYPES = [WIZARD]

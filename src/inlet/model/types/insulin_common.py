"""Pieces shared by basal, bolus and insulin records: durations and insulin formulations."""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.errors import Errors
from inlet.model.fields import MISSING, AnyObject, Arr, Context, Float, Obj, OneOf, Str

DURATION_WEEK_MS = 604_800_000
DURATION_DAY_MS = 86_400_000
RATE_MIN, RATE_MAX = 0.0, 100.0
DOSE_MIN, DOSE_MAX = 0.0, 100.0

ACTING_TYPES = ("rapid", "short", "intermediate", "long")

SIMPLE_FORMULATION = Obj(
    {
        "actingType": OneOf(*ACTING_TYPES),
        "brand": Str(100),
        "concentration": Obj({"units": OneOf("Units/mL"), "value": Float(0, 10000)}),
    }
)

FORMULATION = Obj(
    {
        "simple": SIMPLE_FORMULATION,
        "compounds": Arr(AnyObject(), 100),
        "name": Str(100),
    }
)


def expected_at_least(actual: str, expected: str, upper: float) -> Any:
    """A rule: ``expected`` (e.g. expectedDuration) lies between ``actual`` and ``upper``."""

    def rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        want = values.get(expected, MISSING)
        have = values.get(actual, MISSING)
        if want is MISSING:
            return
        if have is MISSING:
            if actual not in values:
                errs.add(f"{ptr}/{actual}", e.not_exists())
            return
        if not have <= want <= upper:
            errs.add(f"{ptr}/{expected}", e.not_in_range(want, have, upper))

    return rule

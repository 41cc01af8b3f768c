"""insulin: an insulin dose given outside the pump (pen, syringe, inhaled; platform data/types/insulin).

Fields:

- ``dose{total (required) 0..250, food 0..250, active 0..250, correction -250..250, units "Units"
  (required)}``
- ``formulation{simple, compounds, name}``: ``simple{actingType (required: intermediate, long, rapid,
  short), brand <= 100, concentration{units "Units/mL", value 0..10000, both required}}``; ``compounds``
  is 1..100 of ``{amount >= 0, formulation}`` (both required) and cannot be combined with ``simple``;
  a formulation needs at least one of simple, compounds or name (<= 100 chars)
- ``site`` (<= 100 chars)

Compounds nest formulations (which may have compounds...) without limit in the platform; here at most
:data:`FORMULATION_DEPTH_MAX` formulations deep (a deeper ``compounds`` key is ``not-parsed``).

:data:`FORMULATION` is the full platform formulation; basal, bolus and pumpSettings
``insulinFormulation`` use it too (``insulin_common.FORMULATION``).
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import Context, Field, Float, NonEmptyArr, Obj, OneOf, Str

DOSE_MIN, DOSE_MAX = 0.0, 250.0
CORRECTION_MIN, CORRECTION_MAX = -250.0, 250.0
ACTING_TYPES = ("intermediate", "long", "rapid", "short")
CONCENTRATION_MIN, CONCENTRATION_MAX = 0.0, 10_000.0
TEXT_MAX = 100  # brand, name, site
COMPOUNDS_MAX = 100
FORMULATION_DEPTH_MAX = 4

DOSE = Obj(
    {
        "active": Float(DOSE_MIN, DOSE_MAX),
        "correction": Float(CORRECTION_MIN, CORRECTION_MAX),
        "food": Float(DOSE_MIN, DOSE_MAX),
        "total": Float(DOSE_MIN, DOSE_MAX),
        "units": OneOf("Units"),
    },
    required=("total", "units"),
)

SIMPLE = Obj(
    {
        "actingType": OneOf(*ACTING_TYPES),
        "brand": Str(TEXT_MAX),
        "concentration": Obj(
            {"units": OneOf("Units/mL"), "value": Float(CONCENTRATION_MIN, CONCENTRATION_MAX)},
            required=("units", "value"),
        ),
    },
    required=("actingType",),
)


def _simple_or_compounds(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if "compounds" in values and "simple" in values:
        errs.add(f"{ptr}/compounds", e.exists())
    elif not any(key in values for key in ("simple", "compounds", "name")):
        errs.add(f"{ptr}/simple", e.not_exists())


def _formulation(depth: int) -> Obj:
    fields: dict[str, Field] = {"name": Str(TEXT_MAX), "simple": SIMPLE}
    if depth > 1:
        compound = Obj(
            {"amount": Float(0.0), "formulation": _formulation(depth - 1)},
            required=("amount", "formulation"),
        )
        fields["compounds"] = NonEmptyArr(compound, COMPOUNDS_MAX)
    return Obj(fields, rules=(_simple_or_compounds,))


FORMULATION = _formulation(FORMULATION_DEPTH_MAX)

INSULIN = DatumType(
    type="insulin",
    fields={
        "dose": DOSE,
        "formulation": FORMULATION,
        "site": Str(TEXT_MAX),
    },
    description="insulin dose given outside a pump",
)

TYPES = [INSULIN]

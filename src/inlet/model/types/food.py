"""food: something eaten, with its nutrition (platform data/types/food).

Fields: ``amount{units, value}``, ``brand``, ``code``, ``name`` (<= 100 chars each), ``meal`` (breakfast,
dinner, lunch, other, snack) with ``mealOther`` (required, <= 100 chars, when meal is ``other``; refused
otherwise), ``ingredients`` (1..100 ingredients, each with amount, brand, code, name, nutrition and
ingredients of its own) and ``nutrition``:

- ``estimatedAbsorptionDuration`` 0..86400 s (an integer). Tidepool's JSON and Loop both use this name;
  one older platform parser read it from ``absorptionDuration``, which is not accepted here.
- ``carbohydrate{net (required), total, sugars, dietaryFiber: 0..1000, units: "grams" (required)}``
- ``energy{units: calories, joules, kilocalories, kilojoules; value}``: 0..10000 kcal in any of the units
- ``fat{total 0..1000 (required), units "grams"}``, ``protein{total 0..1000 (required), units "grams"}``

Ingredients nest without limit in the platform; here at most :data:`INGREDIENT_DEPTH_MAX` levels deep (a
deeper ``ingredients`` key is a ``not-parsed`` error), which keeps validation well inside Python's
recursion limit whatever the request holds.

This module also holds the small pieces the other "lifestyle" types share (water, physicalActivity,
insulin, reportedState, alert): :class:`NonEmptyArr` and :func:`text_when` (``measured`` lives in ``fields``).
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import (
    MISSING,
    Context,
    Field,
    Float,
    Int,
    NonEmptyArr,
    Obj,
    OneOf,
    Rule,
    Str,
    measured,
)

# ---- shared helpers ----------------------------------------------------------------------------


def text_when(selector: str, selected: str, key: str, max_len: int, *, required: bool = True) -> Rule:
    """A rule for a free-text companion field (``mealOther``, ``stateOther``, ``soundName``...).

    When ``selector`` is ``selected`` the text must be non-empty and at most ``max_len`` characters (and
    present, when ``required``); otherwise it must be absent (``value-exists``). The text field itself
    should be declared ``Str(empty_ok=True)`` so that these checks are made once, here.
    """

    def rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        choice = values.get(selector, MISSING)
        if choice is MISSING and selector in values:
            return  # the selector failed to parse; its error says enough
        text = values.get(key, MISSING)
        where = f"{ptr}/{key}"
        if choice == selected:
            if key not in values:
                if required:
                    errs.add(where, e.not_exists())
            elif text is MISSING:
                return
            elif not text:
                errs.add(where, e.empty())
            elif len(text) > max_len:
                errs.add(where, e.length_not_less_than_or_equal_to(len(text), max_len))
        elif text is not MISSING and key in values:
            errs.add(where, e.exists())

    return rule


# ---- food ----------------------------------------------------------------------------------------

TEXT_MAX = 100  # brand, code, name, mealOther, amount units
MEALS = ("breakfast", "dinner", "lunch", "other", "snack")
INGREDIENTS_MAX = 100
INGREDIENT_DEPTH_MAX = 8

ABSORPTION_DURATION_MIN, ABSORPTION_DURATION_MAX = 0, 86_400
GRAMS_MIN, GRAMS_MAX = 0.0, 1000.0
GRAMS = OneOf("grams")

ENERGY_KCAL_MAX = 10_000.0
ENERGY = measured(
    {
        # Written out (not multiplied) so they equal the platform's exact constant arithmetic.
        "calories": (0.0, 10_000_000.0),
        "joules": (0.0, 41_858_000.0),
        "kilocalories": (0.0, ENERGY_KCAL_MAX),
        "kilojoules": (0.0, 41_858.0),
    }
)
"""Energy, 0..10000 kcal in its units; shared with physicalActivity."""

AMOUNT = Obj({"units": Str(TEXT_MAX), "value": Float(0.0)}, required=("units", "value"))

CARBOHYDRATE = Obj(
    {
        "dietaryFiber": Float(GRAMS_MIN, GRAMS_MAX),
        "net": Float(GRAMS_MIN, GRAMS_MAX),
        "sugars": Float(GRAMS_MIN, GRAMS_MAX),
        "total": Float(GRAMS_MIN, GRAMS_MAX),
        "units": GRAMS,
    },
    required=("net", "units"),
)

NUTRITION = Obj(
    {
        "estimatedAbsorptionDuration": Int(ABSORPTION_DURATION_MIN, ABSORPTION_DURATION_MAX),
        "carbohydrate": CARBOHYDRATE,
        "energy": ENERGY,
        "fat": Obj({"total": Float(GRAMS_MIN, GRAMS_MAX), "units": GRAMS}, required=("total", "units")),
        "protein": Obj({"total": Float(GRAMS_MIN, GRAMS_MAX), "units": GRAMS}, required=("total", "units")),
    }
)


def _ingredient(depth: int) -> Obj:
    fields: dict[str, Field] = {
        "amount": AMOUNT,
        "brand": Str(TEXT_MAX),
        "code": Str(TEXT_MAX),
        "name": Str(TEXT_MAX),
        "nutrition": NUTRITION,
    }
    if depth > 1:
        fields["ingredients"] = NonEmptyArr(_ingredient(depth - 1), INGREDIENTS_MAX)
    return Obj(fields)


INGREDIENTS = NonEmptyArr(_ingredient(INGREDIENT_DEPTH_MAX), INGREDIENTS_MAX)

FOOD = DatumType(
    type="food",
    fields={
        "amount": AMOUNT,
        "brand": Str(TEXT_MAX),
        "code": Str(TEXT_MAX),
        "ingredients": INGREDIENTS,
        "meal": OneOf(*MEALS),
        "mealOther": Str(empty_ok=True),
        "name": Str(TEXT_MAX),
        "nutrition": NUTRITION,
    },
    rules=(text_when("meal", "other", "mealOther", TEXT_MAX),),
    description="food eaten, with its nutrition",
)

TYPES = [FOOD]

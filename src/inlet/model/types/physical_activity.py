"""physicalActivity: exercise (platform data/types/activity/physical).

Fields:

- ``activityType``: one of :data:`ACTIVITY_TYPES` (75 values, Apple HealthKit's workout types), with
  ``activityTypeOther`` (non-empty, <= 100 chars) allowed only when it is ``other``
- ``aggregate`` (bool), ``name`` (<= 100 chars), ``reportedIntensity`` (high, low, medium)
- ``duration{units, value}``: at most 168 h (hours 0..168, minutes 0..10080, seconds 0..604800);
  required when the datum carries a ``guid`` (as the platform checks)
- ``distance{units, value}``: at most 100 miles (feet 0..528000, kilometers 0..160.9344,
  meters 0..160934.4, miles 0..100, yards 0..176000)
- ``elevationChange{units, value}``: feet 0..52800, meters 0..16093.44
- ``energy{units, value}``: at most 10000 kcal (shared with food)
- ``flight{count}`` 0..10000, ``step{count}`` 0..100000, ``lap{count 0..10000, distance}``: counts are
  integers and required, as is a lap's distance
- ``inputTime``: when the activity was entered (RFC 3339; stored in UTC)
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import MISSING, Bool, Context, Int, Obj, OneOf, Str, Time, measured
from inlet.model.types.food import ENERGY, text_when

ACTIVITY_TYPES = (
    "americanFootball",
    "archery",
    "australianFootball",
    "badminton",
    "barre",
    "baseball",
    "basketball",
    "bowling",
    "boxing",
    "climbing",
    "coreTraining",
    "cricket",
    "crossCountrySkiing",
    "crossTraining",
    "curling",
    "cycling",
    "dance",
    "danceInspiredTraining",
    "downhillSkiing",
    "elliptical",
    "equestrianSports",
    "fencing",
    "fishing",
    "flexibility",
    "functionalStrengthTraining",
    "golf",
    "gymnastics",
    "handball",
    "handCycling",
    "highIntensityIntervalTraining",
    "hiking",
    "hockey",
    "hunting",
    "jumpRope",
    "kickboxing",
    "lacrosse",
    "martialArts",
    "mindAndBody",
    "mixedCardio",
    "mixedMetabolicCardioTraining",
    "other",
    "paddleSports",
    "pilates",
    "play",
    "preparationAndRecovery",
    "racquetball",
    "rowing",
    "rugby",
    "running",
    "sailing",
    "skatingSports",
    "snowboarding",
    "snowSports",
    "soccer",
    "softball",
    "squash",
    "stairClimbing",
    "stairs",
    "stepTraining",
    "surfingSports",
    "swimming",
    "tableTennis",
    "taiChi",
    "tennis",
    "trackAndField",
    "traditionalStrengthTraining",
    "volleyball",
    "walking",
    "waterFitness",
    "waterPolo",
    "waterSports",
    "wheelchairRunPace",
    "wheelchairWalkPace",
    "wrestling",
    "yoga",
)
REPORTED_INTENSITIES = ("high", "low", "medium")
TEXT_MAX = 100  # name, activityTypeOther

# Each range is the platform's limit in its base unit (168 h, 100 mi, 52800 ft), written out per unit.
DURATION_RANGES = {
    "hours": (0.0, 168.0),
    "minutes": (0.0, 10_080.0),
    "seconds": (0.0, 604_800.0),
}
DISTANCE_RANGES = {
    "feet": (0.0, 528_000.0),
    "kilometers": (0.0, 160.9344),
    "meters": (0.0, 160_934.4),
    "miles": (0.0, 100.0),
    "yards": (0.0, 176_000.0),
}
ELEVATION_CHANGE_RANGES = {
    "feet": (0.0, 52_800.0),
    "meters": (0.0, 16_093.44),
}
FLIGHT_COUNT_MIN, FLIGHT_COUNT_MAX = 0, 10_000
LAP_COUNT_MIN, LAP_COUNT_MAX = 0, 10_000
STEP_COUNT_MIN, STEP_COUNT_MAX = 0, 100_000

DISTANCE = measured(DISTANCE_RANGES)


def _duration_with_guid(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if values.get("guid", MISSING) is not MISSING and "duration" not in values:
        errs.add(f"{ptr}/duration", e.not_exists())


PHYSICAL_ACTIVITY = DatumType(
    type="physicalActivity",
    fields={
        "activityType": OneOf(*ACTIVITY_TYPES),
        "activityTypeOther": Str(empty_ok=True),
        "aggregate": Bool(),
        "distance": DISTANCE,
        "duration": measured(DURATION_RANGES),
        "elevationChange": measured(ELEVATION_CHANGE_RANGES),
        "energy": ENERGY,
        "flight": Obj({"count": Int(FLIGHT_COUNT_MIN, FLIGHT_COUNT_MAX)}, required=("count",)),
        "lap": Obj(
            {"count": Int(LAP_COUNT_MIN, LAP_COUNT_MAX), "distance": DISTANCE},
            required=("count", "distance"),
        ),
        "name": Str(TEXT_MAX),
        "reportedIntensity": OneOf(*REPORTED_INTENSITIES),
        "step": Obj({"count": Int(STEP_COUNT_MIN, STEP_COUNT_MAX)}, required=("count",)),
        "inputTime": Time(),
    },
    rules=(
        text_when("activityType", "other", "activityTypeOther", TEXT_MAX, required=False),
        _duration_with_guid,
    ),
    description="physical activity",
)

TYPES = [PHYSICAL_ACTIVITY]

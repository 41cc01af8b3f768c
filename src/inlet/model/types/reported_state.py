"""reportedState: how the person says they are (platform data/types/state/reported).

``states`` is an array of ``{state, severity, stateOther}``: ``state`` (required) is one of alcohol,
cycle, hyperglycemiaSymptoms, hypoglycemiaSymptoms, illness, other, stress; ``severity`` an integer
0..10; ``stateOther`` (required, non-empty, <= 100 chars) only when the state is ``other``.
The platform sets no limit on the number of states and does not reject duplicates.
"""

from __future__ import annotations

from inlet.model.base import DatumType
from inlet.model.fields import Arr, Int, Obj, OneOf, Str
from inlet.model.types.food import text_when

STATES = (
    "alcohol",
    "cycle",
    "hyperglycemiaSymptoms",
    "hypoglycemiaSymptoms",
    "illness",
    "other",
    "stress",
)
SEVERITY_MIN, SEVERITY_MAX = 0, 10
STATE_OTHER_MAX = 100

STATE = Obj(
    {
        "severity": Int(SEVERITY_MIN, SEVERITY_MAX),
        "state": OneOf(*STATES),
        "stateOther": Str(empty_ok=True),
    },
    required=("state",),
    rules=(text_when("state", "other", "stateOther", STATE_OTHER_MAX),),
)

REPORTED_STATE = DatumType(
    type="reportedState",
    fields={"states": Arr(STATE)},
    description="a state the person reports (illness, stress...)",
)

TYPES = [REPORTED_STATE]

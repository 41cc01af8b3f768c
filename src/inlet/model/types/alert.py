"""alert: an alert a device or app showed (platform data/types/alert).

Fields: ``name`` (required, non-empty, <= 100 chars); ``priority`` (critical, normal, timeSensitive);
``trigger`` (delayed, immediate, repeating) with ``triggerDelay`` (integer seconds 0..86400, required
for delayed and repeating triggers, refused for immediate or no trigger); ``sound`` (name, silence,
vibrate) with ``soundName`` (required, non-empty, <= 100 chars when sound is ``name``, refused
otherwise); ``parameters`` (a free-form object, the platform's ``metadata.Metadata``, kept as
sent); ``issuedTime`` (required, not the zero time), ``acknowledgedTime`` and ``retractedTime``
(each after issuedTime). The times are RFC 3339 and stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inlet.model import errors as e
from inlet.model import timeutil
from inlet.model.base import DatumType
from inlet.model.errors import Errors, Problem
from inlet.model.fields import MISSING, AnyObject, Context, Int, OneOf, Str, Time
from inlet.model.types.food import text_when

NAME_MAX = 100
SOUND_NAME_MAX = 100
PRIORITIES = ("critical", "normal", "timeSensitive")
SOUNDS = ("name", "silence", "vibrate")
TRIGGERS = ("delayed", "immediate", "repeating")
DELAYED_TRIGGERS = ("delayed", "repeating")
TRIGGER_DELAY_MIN, TRIGGER_DELAY_MAX = 0, 86_400

VALUE_ZERO = "value-zero"
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def _time_zero() -> Problem:
    """The platform's ``value-zero`` for Go's zero time, the only time it can name."""
    return (VALUE_ZERO, "value is zero", 'value "0001-01-01T00:00:00Z" is zero')


def _trigger_delay(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    trigger = values.get("trigger", MISSING)
    if trigger is MISSING and "trigger" in values:
        return
    delay = values.get("triggerDelay", MISSING)
    where = f"{ptr}/triggerDelay"
    if trigger in DELAYED_TRIGGERS:
        if "triggerDelay" not in values:
            errs.add(where, e.not_exists())
        elif delay is not MISSING and not TRIGGER_DELAY_MIN <= delay <= TRIGGER_DELAY_MAX:
            errs.add(where, e.not_in_range(delay, TRIGGER_DELAY_MIN, TRIGGER_DELAY_MAX))
    elif delay is not MISSING and "triggerDelay" in values:
        errs.add(where, e.exists())


def _times(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    issued = values.get("issuedTime", MISSING)
    if not isinstance(issued, datetime):
        return
    if issued == _ZERO_TIME:
        errs.add(f"{ptr}/issuedTime", _time_zero())
    for key in ("acknowledgedTime", "retractedTime"):
        value = values.get(key, MISSING)
        if isinstance(value, datetime) and not value > issued:
            errs.add(
                f"{ptr}/{key}",
                e.not_after(timeutil.format_rfc3339_nano(value), timeutil.format_rfc3339_nano(issued)),
            )


ALERT = DatumType(
    type="alert",
    fields={
        "name": Str(NAME_MAX),
        "priority": OneOf(*PRIORITIES),
        "trigger": OneOf(*TRIGGERS),
        "triggerDelay": Int(),
        "sound": OneOf(*SOUNDS),
        "soundName": Str(empty_ok=True),
        "parameters": AnyObject(),
        "issuedTime": Time(),
        "acknowledgedTime": Time(),
        "retractedTime": Time(),
    },
    required=("name", "issuedTime"),
    rules=(_trigger_delay, text_when("sound", "name", "soundName", SOUND_NAME_MAX), _times),
    description="an alert shown by a device or app",
)

TYPES = [ALERT]

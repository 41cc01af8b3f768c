"""Identifiers: random platform ids, jellyfish deterministic ids and platform identity hashes.

- Platform ids are 32 lowercase hex characters (a UUID v4 without dashes); data set ids too.
- Jellyfish ids (legacy, deterministic): ``base32hex(sha1("f1_f2_..._bootstrap_"))``, lower case.
- Identity hashes (de-duplication): ``base64(sha256("f1|f2|..."))`` over the identity fields.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from inlet.model import glucose
from inlet.model.errors import format_number
from inlet.model.timeutil import format_device_time, format_rfc3339_nano, nano_from_utc_text, parse_rfc3339

ID_PATTERN = re.compile(r"[0-9a-z]{32}")
DATA_SET_ID_PATTERN = re.compile(r"upid_[0-9a-f]{12}|upid_[0-9a-f]{32}|[0-9a-f]{32}")
GUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

IDENTITY_DEVICE_ID = "device-id"
IDENTITY_DATA_SET_ID = "data-set-id"

BLOOD_TYPES = frozenset({"cbg", "smbg", "bloodKetone"})


def new_id() -> str:
    """A random platform id: a UUID v4 as 32 lowercase hex characters (built from urandom directly,
    four times faster than ``uuid.uuid4().hex`` on the ingest path)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def new_guid() -> str:
    return str(uuid.uuid4())


def is_valid_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None


def is_valid_data_set_id(value: str) -> bool:
    return DATA_SET_ID_PATTERN.fullmatch(value) is not None


# ---- jellyfish ------------------------------------------------------------------------------

_JELLYFISH_FIELDS: dict[str, tuple[str, ...]] = {
    "basal": ("type", "deliveryType", "deviceId", "time"),
    "bolus": ("type", "subType", "deviceId", "time"),
    "deviceEvent": ("type", "subType", "time", "deviceId"),
    "grabbag": ("type", "subType", "time", "deviceId"),
    "cgmSettings": ("type", "time", "deviceId"),
    "smbg": ("type", "deviceId", "time", "value"),
    "note": ("type", "time", "creatorId", "text", "deviceId"),
}
_JELLYFISH_DEFAULT = ("type", "deviceId", "time")
_JELLYFISH_EMBEDDED = {"wizard": "bolus", "deviceEvent": "status"}


def jellyfish_hash(fields: Sequence[str]) -> str:
    """base32hex(sha1(each field + "_", then "bootstrap_")), lower case, 32 characters."""
    text = "".join(f"{field}_" for field in fields) + "bootstrap_"
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()


def js_number(value: float | int) -> str:
    """JavaScript's ``String(number)`` for the values that reach an id (no exponents in range)."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def jellyfish_time(value: str) -> str:
    """A time ending in ``Z`` is hashed verbatim; any other becomes ``toISOString()`` form."""
    if value.endswith("Z"):
        return value
    parsed = parse_rfc3339(value)
    if parsed is None:
        raise ValueError(f"time {value!r} has no zone")
    utc = parsed.astimezone(UTC)
    return f"{format_device_time(utc)}.{utc.microsecond // 1000:03d}Z"


def jellyfish_id_fields(datum: Mapping[str, Any]) -> list[str]:
    """The strings jellyfish hashes for ``datum`` (as the client sent it), in order."""
    kind = datum["type"]
    names = _JELLYFISH_FIELDS.get(kind, _JELLYFISH_DEFAULT)
    out: list[str] = []
    for name in names:
        value = datum.get(name)
        if name == "time":
            out.append(jellyfish_time(str(value)))
        elif name == "value" and kind == "smbg":
            number = float(value)  # type: ignore[arg-type]
            if glucose.is_mgdl(datum.get("units")):
                number = number / glucose.MGDL_PER_MMOLL
            out.append(js_number(number))
        else:
            out.append(str(value))
    return out


def jellyfish_id(datum: Mapping[str, Any]) -> str:
    return jellyfish_hash(jellyfish_id_fields(datum))


def jellyfish_embedded_id(datum: Mapping[str, Any]) -> str | None:
    """The id jellyfish gives an embedded object (wizard.bolus, deviceEvent.status), if any."""
    key = _JELLYFISH_EMBEDDED.get(datum.get("type", ""))
    embedded = datum.get(key) if key else None
    if not isinstance(embedded, Mapping):
        return None
    merged = {"deviceId": datum.get("deviceId"), "time": datum.get("time"), **embedded}
    return jellyfish_id(merged)


def jellyfish_storage_id(datum_id: str, group_id: str) -> str:
    """jellyfish's storage ``_id``: the same hash over ``[id, _groupId]``."""
    return jellyfish_hash([datum_id, group_id])


# ---- platform identity hash -------------------------------------------------------------------


class IdentityError(ValueError):
    pass


def identity_hash(fields: Sequence[str] | None) -> str:
    """base64(sha256(fields joined by "|")); every field must be present and non-empty."""
    if not fields:
        raise IdentityError("identity fields are missing")
    if any(field == "" for field in fields):
        raise IdentityError("identity field is empty")
    digest = hashlib.sha256("|".join(fields).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def identity_fields(
    user_id: str,
    datum: Mapping[str, Any],
    time: datetime,
    version: str = IDENTITY_DEVICE_ID,
) -> list[str]:
    """Identity fields of a *normalized* datum (glucose already in mmol/L).

    ``time`` is the datum's instant; Inlet hashes it in UTC so that one instant posted with two
    offsets de-duplicates (Tidepool hashes the offset as posted; see docs/architecture.md).
    """
    if version == IDENTITY_DEVICE_ID:
        source = datum.get("deviceId")
    elif version == IDENTITY_DATA_SET_ID:
        source = datum.get("uploadId")
    else:
        raise IdentityError(f"unknown identity version {version!r}")
    kind = datum["type"]
    text = datum.get("time")
    if isinstance(text, str) and len(text) == 24 and text[19] == "." and text[23] == "Z":
        hashed_time = nano_from_utc_text(text)  # already UTC, as normalization wrote it
    else:
        hashed_time = format_rfc3339_nano(time)
    fields = [user_id, str(source or ""), hashed_time, kind]
    if kind == "basal":
        fields.append(str(datum.get("deliveryType") or ""))
    elif kind in ("bolus", "deviceEvent"):
        fields.append(str(datum.get("subType") or ""))
    elif kind in BLOOD_TYPES:
        fields.append(str(datum.get("units") or ""))
        value = datum.get("value")
        fields.append(format_number(value) if isinstance(value, (int, float)) else "")
    return fields


def datum_identity_hash(
    user_id: str, datum: Mapping[str, Any], time: datetime, version: str = IDENTITY_DEVICE_ID
) -> str:
    return identity_hash(identity_fields(user_id, datum, time, version))

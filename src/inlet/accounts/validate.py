"""Request-body checks for the account, metadata, access and clinic endpoints.

Each check raises the platform error for the first problem it meets, with a JSON pointer to the
offending value. Strings never reach the database holding NUL (PostgreSQL refuses it in text and
JSONB), free JSON is bounded in depth, and texts are bounded in length, so odd input is a 400 and
never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from fastapi import Request

from inlet.api.body import read_json
from inlet.api.errors import PlatformError
from inlet.model.timeutil import parse_rfc3339

MAX_TEXT = 1024
MAX_NAME = 256  # usernames and email addresses (the users.username column)
MAX_JSON_DEPTH = 32
# PostgreSQL's JSONB prints an integral number in full (1e30 comes back as 31 digits), and the JSON
# encoder stops at 64-bit integers, so free JSON keeps numbers within 64 bits.
MAX_JSON_NUMBER = 2**63
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def invalid(code: str, title: str, detail: str, pointer: str) -> PlatformError:
    return PlatformError(400, code, title, detail, pointer=pointer)


def pointer_join(base: str, key: str | int) -> str:
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{base}/{token}"


async def optional_json(request: Request) -> Any:
    """The body as JSON; an empty body is ``{}`` (clients send none to some POSTs)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    return await read_json(request)


def obj(value: Any, pointer: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("type-not-object", "type is not object", "type is not object", pointer)
    return value


def text(value: Any, pointer: str, *, max_length: int = MAX_TEXT, min_length: int = 1) -> str:
    if not isinstance(value, str):
        raise invalid("type-not-string", "type is not string", "type is not string", pointer)
    if "\x00" in value:
        raise invalid("value-not-valid", "value is not valid", "value contains a NUL character", pointer)
    if not (min_length <= len(value) <= max_length) or (min_length > 0 and not value.strip()):
        raise invalid(
            "length-out-of-range",
            "length is out of range",
            f"length {len(value)} is not between {min_length} and {max_length}",
            pointer,
        )
    return value


def opt_text(
    body: dict[str, Any], key: str, base: str = "", *, max_length: int = MAX_TEXT, min_length: int = 1
) -> str | None:
    """``body[key]`` as text, or None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    return text(value, pointer_join(base, key), max_length=max_length, min_length=min_length)


def boolean(value: Any, pointer: str) -> bool:
    if not isinstance(value, bool):
        raise invalid("type-not-bool", "type is not bool", "type is not bool", pointer)
    return value


def array(value: Any, pointer: str, *, min_items: int = 0, max_items: int = 100) -> list[Any]:
    if not isinstance(value, list):
        raise invalid("type-not-array", "type is not array", "type is not array", pointer)
    if not (min_items <= len(value) <= max_items):
        raise invalid(
            "length-out-of-range",
            "length is out of range",
            f"length {len(value)} is not between {min_items} and {max_items}",
            pointer,
        )
    return value


def texts(
    value: Any, pointer: str, *, min_items: int = 0, max_items: int = 100, max_length: int = MAX_TEXT
) -> list[str]:
    items = array(value, pointer, min_items=min_items, max_items=max_items)
    return [text(item, pointer_join(pointer, i), max_length=max_length) for i, item in enumerate(items)]


def one_of(value: Any, allowed: Iterable[str], pointer: str) -> str:
    choices = list(allowed)
    if not isinstance(value, str) or value not in choices:
        shown = value if isinstance(value, str) else type(value).__name__
        raise invalid(
            "value-not-allowed",
            "value is not one of the allowed values",
            f"value {shown[:64]!r} is not one of {choices}",
            pointer,
        )
    return value


def calendar_date(value: Any, pointer: str) -> str:
    """A ``YYYY-MM-DD`` date that exists."""
    day = text(value, pointer, max_length=10)
    try:
        if _DATE.fullmatch(day) is None:
            raise ValueError(day)
        date.fromisoformat(day)
    except ValueError as error:
        raise invalid(
            "value-not-valid", "value is not valid", f"value {day!r} is not a date (YYYY-MM-DD)", pointer
        ) from error
    return day


def timestamp(value: Any, pointer: str) -> datetime:
    """An RFC 3339 time with a zone."""
    raw = text(value, pointer, max_length=64)
    parsed = parse_rfc3339(raw)
    if parsed is None:
        raise invalid(
            "value-not-valid", "value is not valid", f"value {raw!r} is not an RFC 3339 time", pointer
        )
    return parsed


def free_json(value: Any, pointer: str = "") -> Any:
    """Free JSON (profiles): any shape, but no NUL in keys or strings, numbers within 64 bits, and at
    most 32 levels deep."""
    stack: list[tuple[Any, str, int]] = [(value, pointer, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise invalid(
                "value-not-valid", "value is not valid", f"nested deeper than {MAX_JSON_DEPTH} levels", where
            )
        if isinstance(item, str):
            if "\x00" in item:
                raise invalid(
                    "value-not-valid", "value is not valid", "value contains a NUL character", where
                )
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    raise invalid(
                        "value-not-valid", "value is not valid", "key contains a NUL character", where
                    )
                stack.append((child, pointer_join(where, key), depth + 1))
        elif isinstance(item, list):
            stack.extend((child, pointer_join(where, i), depth + 1) for i, child in enumerate(item))
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and abs(item) >= MAX_JSON_NUMBER:
            raise invalid("value-out-of-range", "value is out of range", "number is beyond 64 bits", where)
    return value


def permissions(value: Any, allowed: Iterable[str], pointer: str = "") -> dict[str, dict[str, Any]]:
    """A permissions map such as ``{"view": {}, "upload": {}}``: known names, each an object.

    Values are stored as ``{}``: clients send empty objects, and nothing reads their content."""
    body = obj(value, pointer)
    names = list(allowed)
    out: dict[str, dict[str, Any]] = {}
    for name, detail in body.items():
        where = pointer_join(pointer, name)
        one_of(name, names, where)
        obj(detail, where)
        out[name] = {}
    return out

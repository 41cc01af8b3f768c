"""Validation errors in Tidepool's vocabulary.

Tidepool clients (the uploader above all) read the ``code`` and the JSON pointer of each error, so the
codes, titles and detail wording follow the platform's ``structure/validator`` and ``structure/parser``
packages. Every error of a request is collected; nothing stops at the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Codes (platform structure/validator/errors.go and structure/parser/errors.go).
VALUE_NOT_EXISTS = "value-not-exists"
VALUE_EXISTS = "value-exists"
VALUE_EMPTY = "value-empty"
VALUE_NOT_EMPTY = "value-not-empty"
VALUE_DUPLICATE = "value-duplicate"
VALUE_OUT_OF_RANGE = "value-out-of-range"
VALUE_NOT_ALLOWED = "value-not-allowed"
VALUE_DISALLOWED = "value-disallowed"
VALUE_NOT_MATCHES = "value-not-matches"
VALUE_NOT_VALID = "value-not-valid"
VALUE_NOT_PARSABLE = "value-not-parsable"
VALUE_NOT_AFTER = "value-not-after"
VALUE_NOT_BEFORE = "value-not-before"
VALUES_NOT_EXIST_FOR_ANY = "values-not-exist-for-any"
VALUES_NOT_EXIST_FOR_ONE = "values-not-exist-for-one"
LENGTH_OUT_OF_RANGE = "length-out-of-range"
SIZE_OUT_OF_RANGE = "size-out-of-range"
NOT_PARSED = "not-parsed"
TYPE_NOT_BOOL = "type-not-bool"
TYPE_NOT_FLOAT64 = "type-not-float64"
TYPE_NOT_INT = "type-not-int"
TYPE_NOT_STRING = "type-not-string"
TYPE_NOT_TIME = "type-not-time"
TYPE_NOT_OBJECT = "type-not-object"
TYPE_NOT_ARRAY = "type-not-array"

Problem = tuple[str, str, str]
"""(code, title, detail): an error before it is placed at a pointer."""


@dataclass(frozen=True, slots=True)
class ModelError:
    """One error at one place of the request body."""

    code: str
    title: str
    detail: str
    pointer: str

    def to_platform(self, status: int = 400) -> dict[str, Any]:
        """The platform's JSON:API-like error object."""
        return {
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "status": str(status),
            "source": {"pointer": self.pointer},
            "meta": {},
        }


class Errors:
    """Collects every error of a request, each at its JSON pointer."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[ModelError] = []

    def add(self, pointer: str, problem: Problem) -> None:
        code, title, detail = problem
        self.items.append(ModelError(code, title, detail, pointer))

    def extend(self, other: Iterable[ModelError]) -> None:
        self.items.extend(other)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


def pointer_join(base: str, key: str | int) -> str:
    """Append one reference token to a JSON pointer, escaping as RFC 6901 says."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{base}/{token}"


# ---- formatting as Go prints it ------------------------------------------------------------


def format_number(value: float | int) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest round-trip digits, never an exponent."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def quote(value: str) -> str:
    """Go's ``strconv.Quote`` for the strings our clients send (JSON escaping is the same for them)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def stringify(value: Any) -> str:
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(stringify(v) for v in value) + "]"
    return str(value)


def go_type_name(value: Any) -> str:
    """What Go's ``%T`` prints for a value decoded from JSON into ``interface{}``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


# ---- problems -----------------------------------------------------------------------------


def not_exists() -> Problem:
    return (VALUE_NOT_EXISTS, "value does not exist", "value does not exist")


def exists() -> Problem:
    return (VALUE_EXISTS, "value exists", "value exists")


def empty() -> Problem:
    return (VALUE_EMPTY, "value is empty", "value is empty")


def duplicate() -> Problem:
    return (VALUE_DUPLICATE, "value is a duplicate", "value is a duplicate")


def not_parsed() -> Problem:
    return (NOT_PARSED, "not parsed", "not parsed")


def storage_only() -> Problem:
    """A field only the server sets (``_active``, ``_version``...) arrived from a client."""
    return (NOT_PARSED, "not parsed", "not parsed; this field is set by the server and must not be sent")


def not_in_range(value: float | int, lower: float | int, upper: float | int) -> Problem:
    return (
        VALUE_OUT_OF_RANGE,
        "value is out of range",
        f"value {format_number(value)} is not between {format_number(lower)} and {format_number(upper)}",
    )


def not_greater_than_or_equal_to(value: float | int, limit: float | int) -> Problem:
    return (
        VALUE_OUT_OF_RANGE,
        "value is out of range",
        f"value {format_number(value)} is not greater than or equal to {format_number(limit)}",
    )


def not_less_than_or_equal_to(value: float | int, limit: float | int) -> Problem:
    return (
        VALUE_OUT_OF_RANGE,
        "value is out of range",
        f"value {format_number(value)} is not less than or equal to {format_number(limit)}",
    )


def not_equal_to(value: Any, expected: Any) -> Problem:
    """The platform's ``EqualTo`` (``ErrorValueNotEqualTo``): reported as out of range."""
    return (
        VALUE_OUT_OF_RANGE,
        "value is out of range",
        f"value {stringify(value)} is not equal to {stringify(expected)}",
    )


def not_one_of(value: Any, allowed: Iterable[Any]) -> Problem:
    return (
        VALUE_NOT_ALLOWED,
        "value is not one of the allowed values",
        f"value {stringify(value)} is not one of {stringify(list(allowed))}",
    )


def not_matches(value: str, expression: str) -> Problem:
    return (
        VALUE_NOT_MATCHES,
        "value does not match expression",
        f"value {quote(value)} does not match expression {quote(expression)}",
    )


def not_valid(detail: str) -> Problem:
    return (VALUE_NOT_VALID, "value is not valid", detail)


def time_not_valid(value: str, layout: str) -> Problem:
    return not_valid(f"value {quote(value)} is not valid as time with layout {quote(layout)}")


def not_after(value: str, limit: str) -> Problem:
    return (
        VALUE_NOT_AFTER,
        "value is not after the specified time",
        f"value {quote(value)} is not after {quote(limit)}",
    )


def not_before(value: str, limit: str) -> Problem:
    return (
        VALUE_NOT_BEFORE,
        "value is not before the specified time",
        f"value {quote(value)} is not before {quote(limit)}",
    )


def length_not_in_range(length: int, lower: int, upper: int) -> Problem:
    return (
        LENGTH_OUT_OF_RANGE,
        "length is out of range",
        f"length {length} is not between {lower} and {upper}",
    )


def length_not_less_than_or_equal_to(length: int, limit: int) -> Problem:
    return (
        LENGTH_OUT_OF_RANGE,
        "length is out of range",
        f"length {length} is not less than or equal to {limit}",
    )


def length_not_greater_than_or_equal_to(length: int, limit: int) -> Problem:
    return (
        LENGTH_OUT_OF_RANGE,
        "length is out of range",
        f"length {length} is not greater than or equal to {limit}",
    )


def values_not_exist_for_any(*references: str) -> Problem:
    return (
        VALUES_NOT_EXIST_FOR_ANY,
        "values do not exist for any",
        f"values do not exist for any of {stringify(list(references))}",
    )


def values_not_exist_for_one(*references: str) -> Problem:
    return (
        VALUES_NOT_EXIST_FOR_ONE,
        "values do not exist for one",
        f"values do not exist for one of {stringify(list(references))}",
    )


def type_not(kind: str, value: Any) -> Problem:
    """``type-not-<kind>`` as the platform's parser reports it (kind: bool, float64, int, string...)."""
    return (f"type-not-{kind}", f"type is not {kind}", f"type is not {kind}, but {go_type_name(value)}")

"""A datum type: its field table, its cross-field rules, and the three steps over it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inlet.model.common import COMMON_FIELDS, COMMON_REQUIRED, STORAGE_ONLY
from inlet.model.errors import Errors
from inlet.model.fields import (
    MISSING,
    CompiledPlan,
    Context,
    Field,
    Rule,
    normalize_fields,
    parse_fields,
    plan,
    validate_fields,
)


@dataclass(eq=False)
class DatumType:
    """One type (or type + subType / deliveryType) of the data model.

    ``fields`` are the type's own fields; the common fields are added. ``rules`` check relations
    between fields after each field passed its own checks. ``extras`` may turn parsed parts into
    further datums (an embedded bolus in a wizard record becomes its own datum).
    """

    type: str
    fields: Mapping[str, Field]
    sub_key: str | None = None
    sub_value: str | None = None
    required: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    units_key: str | None = None
    description: str = ""
    all_fields: dict[str, Field] = field(init=False)
    plan: CompiledPlan = field(init=False, repr=False)
    all_required: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        merged: dict[str, Field] = dict(COMMON_FIELDS)
        merged.update(self.fields)
        self.all_fields = merged
        self.plan = plan(merged)
        self._fast: Any = None
        required = list(COMMON_REQUIRED)
        if self.sub_key:
            required.append(self.sub_key)
        required.extend(r for r in self.required if r not in required)
        self.all_required = tuple(required)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.type, self.sub_value)

    def context(self, values: dict[str, Any]) -> Context:
        units = values.get(self.units_key) if self.units_key else None
        return Context(units if isinstance(units, str) else None, parent=values)

    def parse(self, raw: dict[str, Any], ptr: str, errs: Errors) -> dict[str, Any]:
        return parse_fields(self.plan, raw, ptr, errs, self.all_required, STORAGE_ONLY)

    def validate(self, values: dict[str, Any], ptr: str, errs: Errors, ctx: Context | None = None) -> None:
        ctx = ctx or self.context(values)
        validate_fields(self.plan, values, ptr, errs, ctx)
        for rule in self.rules:
            rule(values, ptr, errs, ctx)

    def fast_path(self) -> Any:
        """The generated single-pass path for valid datums (see :mod:`inlet.model.fastpath`)."""
        if self._fast is None:
            from inlet.model.fastpath import compile_fast_path

            self._fast = compile_fast_path(self)
        return self._fast

    def normalize(self, values: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
        return normalize_fields(self.plan, values, ctx or self.context(values))


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Only the values that parsed (for rules that look at several fields)."""
    return {k: v for k, v in values.items() if v is not MISSING}


def with_common(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(names)

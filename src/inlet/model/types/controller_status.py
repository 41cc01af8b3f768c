"""controller_status: filled in by the types work (see inlet.model.types)."""

from __future__ import annotations

from inlet.model.base import DatumType

TYPES: list[DatumType] = []

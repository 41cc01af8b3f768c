"""Plain records read from storage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Row, RowMapping

CONTINUOUS = "continuous"
NORMAL = "normal"
OPEN = "open"
CLOSED = "closed"


@dataclass(slots=True)
class DataSet:
    id: str
    user_id: str
    created_user_id: str | None
    data_set_type: str
    state: str
    deduplicator_name: str
    deduplicator_version: str
    device_id: str | None
    created_time: int
    modified_time: int | None
    deleted_time: int | None
    doc: dict[str, Any]

    @property
    def is_continuous(self) -> bool:
        return self.data_set_type == CONTINUOUS

    @property
    def is_open(self) -> bool:
        return self.state == OPEN and self.deleted_time is None

    @classmethod
    def from_row(cls, row: Row[Any]) -> DataSet:
        return cls.from_mapping(row._mapping)

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | RowMapping) -> DataSet:
        """A set from its ``data_sets`` columns by name (a row, or columns read in a join)."""
        doc = m["doc"]
        if isinstance(doc, (str, bytes)):
            import orjson

            doc = orjson.loads(doc)
        return cls(**{name: (doc if name == "doc" else m[name]) for name in _FIELDS})


_FIELDS = tuple(f.name for f in fields(DataSet))

"""What the FHIR bundles read: a person's cbg as ``GET /data`` serves them (its overlap rules included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from inlet.data import queries
from inlet.model.timeutil import to_micros


def cgm_docs(conn: Connection, user_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The person's active cbg in ``[start, end)``, in time order."""
    query = queries.DataQuery(user_id=user_id, types=["cbg"], start=to_micros(start), end=to_micros(end))
    plan = queries.prepare(conn, query)
    end_us = to_micros(end)
    return [
        orjson.loads(row.doc)
        for row in conn.execute(queries.device_data_query(conn, plan))
        if row.time < end_us
    ]

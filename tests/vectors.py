"""The reference's test vectors (../shared/reference/test-vectors.json), copied into tests/data so the
suite does not depend on files outside the repository."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).parent / "fixtures" / "test-vectors.json"


@cache
def vectors() -> dict[str, list[dict[str, Any]]]:
    return json.loads(PATH.read_text())  # type: ignore[no-any-return]


def cases(key: str) -> list[Any]:
    import pytest

    return [pytest.param(v, id=f"{key}-{i}") for i, v in enumerate(vectors()[key])]

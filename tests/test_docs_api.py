"""docs/api.md documents every endpoint the app serves, and only those.

The operations come from the app's OpenAPI (its route table), so an endpoint added without a section in
docs/api.md fails here. Each operation has a heading written exactly as the OpenAPI path, e.g.
``### `GET /v1/users/{userId}/data_sets` ``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inlet.app import create_app
from inlet.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
HEADING = re.compile(r"^#{2,4} `([A-Z]+) (/\S*)`\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """Every (METHOD, path) of the app's OpenAPI paths. Building the spec touches no database."""
    directory = tmp_path_factory.mktemp("docs-api")
    settings = Settings(
        data_dir=directory,
        database_url=f"sqlite:///{directory / 'inlet.db'}",
        password_hashing="fast-insecure-for-tests",
        service_secret="docs-test-service-secret",  # type: ignore[arg-type]
    )
    app = create_app(settings)
    try:
        paths = app.openapi()["paths"]
    finally:
        app.state.services.engine.dispose()
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


@pytest.fixture(scope="module")
def documented() -> list[tuple[str, str]]:
    return HEADING.findall(DOC.read_text(encoding="utf-8"))


def test_every_endpoint_has_a_section(
    operations: set[tuple[str, str]], documented: list[tuple[str, str]]
) -> None:
    missing = sorted(operations - set(documented))
    assert not missing, "docs/api.md has no heading (### `METHOD /path`) for: " + ", ".join(
        f"{method} {path}" for method, path in missing
    )


def test_every_section_names_a_served_endpoint_once(
    operations: set[tuple[str, str]], documented: list[tuple[str, str]]
) -> None:
    stale = sorted(set(documented) - operations)
    assert not stale, "docs/api.md documents endpoints the app does not serve: " + ", ".join(
        f"{method} {path}" for method, path in stale
    )
    repeated = sorted({op for op in documented if documented.count(op) > 1})
    assert not repeated, f"docs/api.md has more than one section for: {repeated}"

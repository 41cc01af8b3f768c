"""Every way data arrives marks the person's summaries outdated in its own transaction (both
databases): an ``inlet import`` of a Tidepool export and a Nightscout upload, beside the API upload
(test_routes), the partner batch's tombstones (test_store) and deletes and replacements
(test_store's hypothesis run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import Result

from inlet.db.schema import summaries
from inlet.services import Services
from tests.api.conftest import client, services, settings  # noqa: F401
from tests.data.test_importer import EMAIL, export, make_user, run, write  # noqa: F401
from tests.nightscout.conftest import NsSite, site  # noqa: F401
from tests.nightscout.test_api_v1 import xdrip_entry


def _outdated(engine: Engine, user_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            row.type: (row.outdated_since is not None, list(row.outdated_reasons or []))
            for row in conn.execute(
                select(summaries.c.type, summaries.c.outdated_since, summaries.c.outdated_reasons).where(
                    summaries.c.user_id == user_id
                )
            )
        }


def test_an_import_marks_the_summaries_outdated(
    engine: Engine,
    make_user: Callable[[str], str],  # noqa: F811
    run: Callable[..., Result],  # noqa: F811
    tmp_path: Path,
) -> None:
    user_id = make_user(EMAIL)
    assert _outdated(engine, user_id) == {}
    result = run(write(tmp_path, export()))
    assert result.exit_code == 1, result.output  # the export holds two bad datums on purpose
    marked = _outdated(engine, user_id)
    assert set(marked) == {"cgm", "bgm", "con"}  # cbg and smbg in the file
    assert all(outdated for outdated, _ in marked.values())


def test_a_nightscout_upload_marks_the_summaries_outdated(
    client: TestClient,  # noqa: F811
    site: NsSite,  # noqa: F811
    services: Services,  # noqa: F811
) -> None:
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    body = [xdrip_entry(now_ms - 5 * 60_000, 140), xdrip_entry(now_ms, 142)]
    posted = client.post(f"{site.url}/api/v1/entries", json=body, headers=site.headers)
    assert posted.status_code == 200, posted.text
    marked = _outdated(services.engine, site.owner.user_id)
    assert marked["cgm"][0] is True
    assert marked["cgm"][1]
    assert "bgm" not in marked  # sgv entries are cbg only

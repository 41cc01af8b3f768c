"""The data view's export dialog and "Print report": a CSRF-checked form that sends the browser to the
API's download with a restricted token for exactly that path (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import openpyxl
from fastapi.testclient import TestClient

from tests.api.test_data_sets import cbg, upload

from .conftest import Web, account


def test_export_dialog_downloads_the_chosen_period_and_format(web: Web, client: TestClient) -> None:
    pat = account(client, "pat")
    upload(client, pat, [cbg(m, value=100 + m) for m in range(0, 30, 5)])
    web.login(pat.username)
    page = web.get(f"/data/view/{pat.user_id}")
    assert page.status_code == 200
    assert f'action="/data/view/{pat.user_id}/export"' in page.text
    for words in ("Last 14 days", "Last 30 days", "Last 90 days", "Range of dates", "Print report"):
        assert words in page.text
    fields = {"period": "range", "start": "2026-10-01", "end": "2026-10-01", "format": "xlsx"}
    fields["bgUnits"] = "mg/dL"
    answer = web.post(f"/data/view/{pat.user_id}/export", fields, from_page=f"/data/view/{pat.user_id}")
    assert answer.status_code == 303, answer.text
    target = urlsplit(answer.headers["location"])
    assert target.path == f"/export/{pat.user_id}"
    query = parse_qs(target.query)
    assert query["startDate"] == ["2026-10-01T00:00:00.000Z"]
    assert query["endDate"] == ["2026-10-01T23:59:59.999Z"]
    web.logout()  # the link works on its own (the restricted token), as a browser download does
    download = client.get(answer.headers["location"])
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(download.content))
    assert [row[2] for row in book["cbg"].iter_rows(min_row=2, values_only=True)] != []
    values = [c.value for c in next(book["cbg"].iter_rows(max_row=1))]
    value_col = values.index("value")
    assert [r[value_col] for r in book["cbg"].iter_rows(min_row=2, values_only=True)] == [
        100 + m for m in range(0, 30, 5)
    ]
    token = query["restricted_token"][0]
    assert client.get(f"/data/{pat.user_id}?restricted_token={token}").status_code == 403  # that path only


def test_export_dialog_refuses_without_csrf_or_permission(web: Web, client: TestClient) -> None:
    pat, stranger = account(client, "pat"), account(client, "stranger")
    web.login(stranger.username)
    refused = web.post(f"/data/view/{pat.user_id}/export", {"period": "14"}, from_page="/profile")
    assert refused.status_code == 403
    no_csrf = web.post(f"/data/view/{stranger.user_id}/export", {"period": "14"})
    assert no_csrf.status_code == 403
    bad = web.post(
        f"/data/view/{stranger.user_id}/export", {"period": "range", "start": "x"}, from_page="/profile"
    )
    assert bad.status_code == 400
    edge = {"period": "range", "start": "9999-12-31", "end": "9999-12-31"}
    assert web.post(f"/data/view/{stranger.user_id}/export", edge, from_page="/profile").status_code == 400
    report = web.post(f"/data/view/{stranger.user_id}/report", {"period": "30"}, from_page="/profile")
    assert report.status_code == 303
    assert urlsplit(report.headers["location"]).path == f"/v1/reports/{stranger.user_id}/agp.pdf"

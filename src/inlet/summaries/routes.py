"""``GET/POST /v1/summaries/{cgm|bgm|con}/:userId``: a person's stored summary, in the platform's
shape (schema 6). Callers with view permission on the person, or services. ``POST`` recomputes now
(from scratch over the 60 days of buckets) and answers the summary; a person with no data of that
kind answers 404 either way."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts.deps import CallerDep, require
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import json_response, not_found, parameter_invalid
from inlet.summaries import compute, store

router = APIRouter(tags=["summaries"])


def _kind(kind: str) -> str:
    if kind not in compute.TYPES:
        raise parameter_invalid("type", f"type must be one of {list(compute.TYPES)}")
    return kind


def _answer(conn: ReadConn, user_id: str, kind: str) -> Response:
    summary = store.platform_summary(conn, user_id, kind)
    if summary is None:
        raise not_found("summary-not-found", "summary", f"{kind}/{user_id}")
    return json_response(summary)


@router.get("/v1/summaries/{kind}/{user_id}")
def get_summary(kind: str, user_id: str, request: Request, caller: CallerDep, conn: ReadConn) -> Response:
    """The stored summary (``dates.outdatedSince`` says when it stopped being current)."""
    require(request, conn, caller, user_id, "view")
    return _answer(conn, user_id, _kind(kind))


@router.post("/v1/summaries/{kind}/{user_id}")
def recompute_summary(
    kind: str, user_id: str, request: Request, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Recompute the person's summaries now and answer this one."""
    require(request, conn, caller, user_id, "view")
    kind = _kind(kind)
    store.recompute(conn, user_id, services.data.now(), full=True)
    return _answer(conn, user_id, kind)

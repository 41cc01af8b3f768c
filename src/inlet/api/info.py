"""Unauthenticated server facts: the clock and versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from inlet import __version__
from inlet.model.timeutil import format_utc, now_utc

router = APIRouter(tags=["info"])


@router.get("/v1/time")
def server_time() -> dict[str, Any]:
    """The server's clock (uploaders compare it with the computer's)."""
    return {"data": {"time": format_utc(now_utc())}}


@router.get("/info")
def info() -> dict[str, Any]:
    """Versions, as the uploader checks before uploading."""
    return {"versions": {"uploaderMinimum": "2.0.0", "inlet": __version__}}

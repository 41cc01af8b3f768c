"""Routes of this module are added by the API work (see docs/api.md)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

"""Every web page's route, and :func:`install`, which adds them and the static files to the app.

Pages are not API endpoints: they are left out of the OpenAPI document (``include_in_schema=False``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from inlet.web import auth_routes, clinic_routes, data_view, nightscout_card, oauth_pages, profile_routes
from inlet.web.pages import STATIC_DIR

router = APIRouter(include_in_schema=False, tags=["web"])
for module in (auth_routes, profile_routes, nightscout_card, data_view, clinic_routes, oauth_pages):
    router.include_router(module.router)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

"""Every web page's route, and :func:`install`, which adds them and the static files to the app.

Pages are not API endpoints: they are left out of the OpenAPI document (``include_in_schema=False``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from inlet.web import (
    account_pages,
    auth_routes,
    clinic_routes,
    data_view,
    export_dialog,
    nightscout_card,
    oauth_pages,
    profile_routes,
    share_routes,
    team_routes,
    units_routes,
    views_routes,
)
from inlet.web.pages import STATIC_DIR
from inlet.web.session import SlidingCookie

router = APIRouter(include_in_schema=False, tags=["web"])
for module in (
    auth_routes,
    account_pages,
    profile_routes,
    nightscout_card,
    units_routes,
    share_routes,
    team_routes,  # before clinic_routes: /clinic/team is not a clinic page
    views_routes,
    data_view,
    export_dialog,
    clinic_routes,
    oauth_pages,
):
    router.include_router(module.router)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_middleware(SlidingCookie)  # renews the cookie of a web session that slid
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

"""The profile page's "Nightscout uploaders" card: enable the person's Nightscout site (the API secret
is shown once, on the page the form answers with), regenerate it, disable it, make and revoke access
tokens, and short instructions for the usual clients. Every action is the management API's
(``inlet.nightscout.sites``), behind the web session and its CSRF check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.nightscout import sites
from inlet.nightscout.routes import site_keys
from inlet.web.auth_routes import FormDep
from inlet.web.pages import form_session, message, see_other
from inlet.web.session import services_of

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from inlet.services import Services

router = APIRouter()
OFFERED_ROLES = ("readable", "careportal", "devicestatus-upload", "admin")


@dataclass
class NightscoutCard:
    enabled: bool = False
    site_url: str | None = None
    tokens: list[sites.TokenRecord] = field(default_factory=list)
    new_secret: str | None = None  # shown once, right after enabling or regenerating
    new_token: str | None = None  # shown once, right after creating it
    roles: tuple[str, ...] = OFFERED_ROLES

    @property
    def host_path(self) -> str:
        """The site URL without its scheme (what nightscout-librelink-up's NIGHTSCOUT_URL takes)."""
        return (self.site_url or "").split("://", 1)[-1].rstrip("/")

    @property
    def secret_sha1(self) -> str | None:
        return sites.sha1_hex(self.new_secret) if self.new_secret else None


def nightscout_card(services: Services, conn: Connection, user_id: str, **shown: Any) -> NightscoutCard:
    site = sites.site_of_user(conn, user_id)
    if site is None or not site.enabled:
        return NightscoutCard(**shown)
    base = str(services.settings.public_url).rstrip("/")
    return NightscoutCard(True, f"{base}/ns/{site.site_id}/", sites.list_tokens(conn, site), **shown)


def _profile(request: Request, session: Any, **shown: Any) -> Response:
    from inlet.web.profile_routes import render_profile  # it imports this module for the card

    return render_profile(request, session, **shown)


@router.post("/profile/nightscout/enable")
def enable(request: Request, fields: FormDep) -> Response:
    """Enable, or regenerate the secret: the answer is the profile page showing it once."""
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        _, secret = sites.enable(conn, site_keys(services), session.user_id)
    return _profile(request, session, new_secret=secret)


@router.post("/profile/nightscout/disable")
def disable(request: Request, fields: FormDep) -> Response:
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        site = sites.site_of_user(conn, session.user_id)
        if site is not None:
            sites.disable(conn, site)
    return see_other("/profile")


@router.post("/profile/nightscout/tokens")
def create_token(request: Request, fields: FormDep) -> Response:
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    name = (fields.get("name") or "").strip()
    role = fields.get("role") or ""
    if not name or len(name) > 64 or role not in OFFERED_ROLES:
        return message(
            request, session, 400, "Token not made", "Give the token a name and choose one of the roles."
        )
    services = services_of(request)
    with services.engine.begin() as conn:
        site = sites.site_of_user(conn, session.user_id)
        if site is None or not site.enabled:
            return message(request, session, 409, "Nightscout is off", "Enable your Nightscout site first.")
        _, token = sites.create_token(conn, site_keys(services), site, name, [role])
    return _profile(request, session, new_token=token)


@router.post("/profile/nightscout/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    services = services_of(request)
    with services.engine.begin() as conn:
        site = sites.site_of_user(conn, session.user_id)
        if site is not None:
            sites.revoke_token(conn, site, token_id)
    return see_other("/profile")

"""The profile page: one card per offered partner, with its connection state and the one action that
fits it (``Connect``, ``Disconnect`` or ``Reconnect``).

Connect makes a restricted token for ``GET /v1/oauth/<slug>/authorize`` (what an app does through
``POST /v1/users/:userId/restricted_tokens``) and sends the browser to the ordinary browser leg,
``/v1/oauth/<slug>/authorize?restricted_token=...``, which spends it. Disconnect is the API's
disconnect: committed locally first, then revoked at the partner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.db.engine import read_only
from inlet.partners.contract import Partner
from inlet.partners.states import CONNECTED, DISCONNECTED, ERROR
from inlet.web.auth_routes import FormDep
from inlet.web.nightscout_card import nightscout_card
from inlet.web.pages import form_session, message, render, see_other, to_login
from inlet.web.session import current_session, services_of
from inlet.web.units_routes import units_context

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from inlet.services import Services

router = APIRouter()
CONNECT_LINK_SECONDS = 15 * 60
# Error codes that mean the partner no longer accepts Inlet's access: only reconnecting helps.
AUTH_ERROR_WORDS = ("auth", "token", "grant", "revoked", "unauthenticated", "unauthorized", "consent")


@dataclass
class PartnerCard:
    """What a partner card shows."""

    slug: str
    name: str
    state: str  # connected, disconnected, error
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return {CONNECTED: "Disconnect", ERROR: "Reconnect"}.get(self.state, "Connect")

    @property
    def error(self) -> dict[str, Any]:
        found = self.source.get("error") or self.source.get("lastError") or {}
        return found if isinstance(found, dict) else {}

    @property
    def last_import(self) -> Any:
        return self.source.get("lastImportTime") or self.source.get("lastSuccessTime")

    @property
    def next_sync(self) -> Any:
        return self.source.get("nextRunTime")

    @property
    def interval(self) -> str | None:
        found = self.source.get("effectiveInterval")
        if not isinstance(found, dict):
            return None
        low, high = found.get("minMinutes"), found.get("maxMinutes")
        if isinstance(low, int | float) and isinstance(high, int | float):
            return f"every {low:g} minutes" if low == high else f"every {low:g} to {high:g} minutes"
        return None

    @property
    def failure_count(self) -> int:
        count = self.source.get("failureCount")
        return count if isinstance(count, int) else 0

    @property
    def last_error(self) -> dict[str, Any]:
        """A connected source's most recent failed sync (it keeps trying)."""
        found = self.source.get("lastError")
        return found if isinstance(found, dict) and self.failure_count else {}

    @property
    def advice(self) -> str:
        code = str(self.error.get("code") or "").lower()
        if not code or any(word in code for word in AUTH_ERROR_WORDS):
            return (
                f"{self.name} no longer lets Inlet read your data. Choose Reconnect and sign in at "
                f"{self.name} again to give Inlet access."
            )
        return (
            f"Inlet stopped copying your {self.name} data. Choose Reconnect to connect again; if it keeps "
            "failing, contact whoever runs this Inlet server."
        )


def partner_cards(services: Services, conn: Connection, user_id: str) -> list[PartnerCard]:
    cards = []
    for partner in services.partners.registry:
        if not partner.configured:
            continue
        source = services.partners.find_source(conn, user_id, partner.slug)
        public = source.public() if source is not None else {}
        state = public.get("state", DISCONNECTED)
        if state not in (CONNECTED, DISCONNECTED, ERROR):
            state = DISCONNECTED
        cards.append(PartnerCard(partner.slug, partner.display_name, state, public))
    return cards


@router.get("/profile")
def profile(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    return render_profile(request, session)


def render_profile(request: Request, session: Any, **shown: Any) -> Response:
    """The profile page: partner cards, the Nightscout card (``shown``: what it shows once, such as
    a new secret) and the units form. Every handler that answers with the profile renders it here."""
    services = services_of(request)
    with read_only(services.engine) as conn:
        cards = partner_cards(services, conn, session.user_id)
        ns_card = nightscout_card(services, conn, session.user_id, **shown)
    context = {"cards": cards, "nightscout": ns_card, **units_context(request, session.user_id)}
    return render(request, "profile.html", session, context)


def _offered(request: Request, session: Any, slug: str, *, available: bool) -> Partner | Response:
    registry = services_of(request).partners.registry
    partner = registry.available(slug) if available else registry.get(slug)
    if partner is None:
        return message(
            request, session, 404, "Unknown partner", f"This server does not offer a partner called {slug!r}."
        )
    return partner


@router.post("/profile/partners/{slug}/connect")
def connect(request: Request, slug: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    partner = _offered(request, session, slug, available=True)
    if isinstance(partner, Response):
        return partner
    services = services_of(request)
    with services.engine.begin() as conn:
        expires = services.accounts.now() + CONNECT_LINK_SECONDS * 1_000_000
        # It starts this one flow and does nothing else (no DELETE, no other path).
        token, _ = services.accounts.create_restricted_token(
            conn,
            session.user_id,
            [f"/v1/oauth/{partner.slug}/authorize"],
            expires_time=expires,
            methods=["GET"],
        )
    return see_other(f"/v1/oauth/{partner.slug}/authorize?restricted_token={quote(token)}")


@router.post("/profile/partners/{slug}/disconnect")
def disconnect(request: Request, slug: str, fields: FormDep) -> Response:
    session = form_session(request, fields, "/profile")
    if isinstance(session, Response):
        return session
    partner = _offered(request, session, slug, available=False)
    if isinstance(partner, Response):
        return partner
    services = services_of(request)
    services.partners.disconnect_and_revoke(services.engine, partner, session.user_id)
    return see_other("/profile")

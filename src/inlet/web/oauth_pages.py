"""The pages a browser lands on at the end of a partner connect (``/oauth/<slug>/authorized``,
``/declined``, ``/error``), in the web pages' layout, each ending with a link back to the profile.

The redirect leg (:mod:`inlet.partners.routes`) decides the outcome and sends the browser here with
a reason code; this module says it in plain words.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from inlet.api.deps import ServicesDep
from inlet.partners.routes import NO_STORE, partner_or_404
from inlet.web.pages import message
from inlet.web.session import current_session

router = APIRouter()

# Why the error page was shown, in plain words (the reason travels in the page's query string).
REASONS = {
    "state-missing": "The answer from {partner} did not say which connection attempt it belongs to.",
    "state-invalid": "The answer from {partner} does not belong to a connection attempt Inlet started.",
    "state-used": "This connection attempt was already completed or cancelled; a link from it works once.",
    "state-expired": "The connection attempt took too long and expired.",
    "code-missing": "{partner} did not send an authorization code.",
    "exchange-failed": "{partner} did not accept the authorization; it may have been used already.",
    "partner-error": "{partner} reported an error and did not let Inlet connect.",
    "partner-unreachable": "{partner} did not answer properly; it may be busy or down. Try again later.",
    "account-gone": "The Inlet account this connection was for no longer exists.",
    "storage-failed": "Inlet could not save the connection.",
    "browser-mismatch": "The answer from {partner} reached a different browser than the one that started "
    "connecting, so Inlet did not use it. If you started connecting, start again in this browser.",
}


def _html(request: Request, title: str, *paragraphs: str) -> HTMLResponse:
    page = message(
        request, current_session(request), 200, title, *paragraphs, back=("/profile", "Back to your profile")
    )
    page.headers.update(NO_STORE)
    return page


@router.get("/oauth/{slug}/authorized")
def authorized_page(request: Request, slug: str, services: ServicesDep) -> HTMLResponse:
    name = partner_or_404(services, slug, available=False).display_name
    return _html(
        request,
        f"{name} is connected",
        f"Your {name} account is now connected to Inlet. Inlet will copy your {name} data in the "
        "background, starting within a few minutes, and keep it up to date; you do not need to do anything.",
        f"You can disconnect {name} at any time from your profile. You can close this page.",
    )


@router.get("/oauth/{slug}/declined")
def declined_page(request: Request, slug: str, services: ServicesDep) -> HTMLResponse:
    name = partner_or_404(services, slug, available=False).display_name
    return _html(
        request,
        f"{name} was not connected",
        f"You chose not to let Inlet read your {name} data, so nothing was connected and nothing was copied.",
        "If you change your mind, you can connect again from your profile.",
    )


@router.get("/oauth/{slug}/error")
def error_page(
    request: Request, slug: str, services: ServicesDep, reason: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    name = partner_or_404(services, slug, available=False).display_name
    why = REASONS.get(reason or "", "Something went wrong.").format(partner=name)
    return _html(
        request,
        f"{name} could not be connected",
        f"Inlet could not connect your {name} account. {why}",
        "Nothing was connected. Please start again from your profile; if it keeps failing, contact "
        "whoever runs this Inlet server.",
    )

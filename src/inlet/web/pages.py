"""Rendering shared by every page: the Jinja2 environment, the layout's context, and the plain pages
(403, 404, 400) and redirects the routes answer with."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup

from inlet.db.engine import read_only
from inlet.web.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    WebSession,
    clear_session_cookie,
    csrf_ok,
    csrf_token,
    current_session,
    finish,
    services_of,
)
from inlet.web.zones import UTC_ZONE, Zone, in_zone, person_zone

if TYPE_CHECKING:
    from inlet.services import Services

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC_DIR = HERE / "static"
# Pages show personal data: never cached, never framed.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; form-action {form_action}; base-uri 'none'"
)
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or ``None`` (nothing else goes into the policy)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    text = f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"
    return text if _ORIGIN.fullmatch(text) else None


def form_targets(services: Services) -> list[str]:
    """Where a form on these pages may lead: this server, its public URL, and the authorize endpoint of
    every partner people can connect (Connect posts here, then redirects there; browsers check
    ``form-action`` along the redirects). Any other site is refused, so injected markup cannot send
    a form elsewhere."""
    found = {origin(services.settings.public_url)}
    found |= {
        origin(partner.oauth.authorize_url) for partner in services.partners.registry if partner.configured
    }
    return ["'self'", *sorted(o for o in found if o)]


def page_headers(request: Request) -> dict[str, str]:
    form_action = " ".join(form_targets(services_of(request)))
    return {**PAGE_HEADERS, "Content-Security-Policy": CSP.format(form_action=form_action)}


def viewer_zone(request: Request | None, session: WebSession | None) -> Zone:
    """The signed-in person's zone (their setting, else their data's), once per request; UTC for
    pages nobody is signed in to."""
    if request is None or session is None:
        return UTC_ZONE
    cached = getattr(request.state, "zone", None)
    if isinstance(cached, Zone):
        return cached
    with read_only(services_of(request).engine) as conn:
        zone = person_zone(conn, session.user_id)
    request.state.zone = zone
    return zone


@pass_context
def when(context: Any, value: Any) -> str:
    """A time for people, in a zone and labelled: ``20 Mar 2026, 13:05 (Europe/Paris)`` (RFC 3339
    text or microseconds). The zone is the template's ``zone`` when it sets one (a clinician's row of
    a patient), else the signed-in person's."""
    zone = context.get("zone")
    if not isinstance(zone, Zone):
        zone = viewer_zone(context.get("request"), context.get("session"))
    return in_zone(value, zone)


def day_text(value: Any) -> str:
    """``Friday 20 March 2026`` for a date."""
    return f"{value:%A} {value.day} {value:%B %Y}"


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["day_text"] = day_text
TEMPLATES.env.globals["safe_svg"] = lambda svg: Markup(svg)  # markup built by inlet.web.charts


def render(
    request: Request,
    template: str,
    session: WebSession | None,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    body = {
        "request": request,
        "session": session,
        "user": session.user if session else None,
        "csrf": csrf_token(request, session),
        **(context or {}),
    }
    response = TEMPLATES.TemplateResponse(
        request, template, body, status_code=status, headers=page_headers(request)
    )
    finish(request, response)
    return response


def message(
    request: Request,
    session: WebSession | None,
    status: int,
    title: str,
    *paragraphs: str,
    back: tuple[str, str] | None = None,
) -> HTMLResponse:
    """A page that only says something in plain words (refusals, not found, results); ``back`` is
    the link at its end as (URL, words), by default the profile or the start page."""
    context = {"title": title, "paragraphs": paragraphs, "back": back}
    return render(request, "message.html", session, context, status)


def forbidden(request: Request, session: WebSession | None, *paragraphs: str) -> HTMLResponse:
    return message(
        request,
        session,
        403,
        "Not allowed",
        *(paragraphs or ("You do not have permission to see this page.",)),
    )


def csrf_refused(request: Request, session: WebSession | None) -> HTMLResponse:
    return message(
        request,
        session,
        403,
        "The form could not be accepted",
        "This form was sent without the security code of your session, or with an old one, so Inlet "
        "did not act on it. This happens when a form was left open across a log in or log out, or "
        "when another site tried to send it for you.",
        "Go back, reload the page, and try again.",
    )


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def safe_next(value: Any) -> str | None:
    """A local path to return to after logging in (never another site)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if len(value) > 2000 or any(ord(ch) < 32 for ch in value):
        return None
    return value


def to_login(request: Request, back_to: str | None = None) -> Response:
    """Send a visitor without a (valid) session to the login page, to come back here (or to
    ``back_to``: a form's page, since a POST cannot be repeated by a redirect) afterwards."""
    path = back_to or request.url.path
    if back_to is None and request.url.query:
        path += "?" + request.url.query
    response = see_other("/login?next=" + quote(path, safe="/"))
    if request.cookies.get(SESSION_COOKIE):
        clear_session_cookie(request, response)
    return response


def form_session(request: Request, fields: dict[str, str], back_to: str) -> WebSession | Response:
    """The session of a logged-in person posting a form with a valid CSRF token; otherwise the
    response to send instead (the login page, to come back to ``back_to``, or the CSRF refusal)."""
    session = current_session(request)
    if session is None:
        return to_login(request, back_to)
    if not csrf_ok(request, session, fields.get(CSRF_FIELD)):
        return csrf_refused(request, session)
    return session

"""The web session: a cookie holding an ordinary API session token, and CSRF tokens bound to it.

- The cookie (``inlet_session``) holds a session token from :class:`AccountService` (the same store as
  ``x-tidepool-session-token``); HttpOnly, SameSite=Lax, Secure when the public URL or the request is
  https. Logging out ends the session server-side; "Log out everywhere" ends every session of the
  account.
- Web sessions slide: a page request made when less than half of the session's lifetime is left
  extends it to a full lifetime from now (in the database, and the cookie's Max-Age with it, through
  :class:`SlidingCookie`), so a person who keeps using the pages stays logged in and a session left
  idle for its lifetime expires. API sessions do not slide (Tidepool clients refresh them).
- Forms carry ``csrf_token``: HMAC-SHA256 of the session token under a key derived from the token keys
  (``vault.derive``), so it rotates with them and needs no storage. Before login (the login and signup
  forms) the same HMAC binds to a random pre-session cookie (``inlet_presession``), which stops login
  CSRF. A POST whose token does not match is refused with a 403 page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response

from inlet.accounts.service import User
from inlet.accounts.tokens import b64url, same
from inlet.db.engine import read_only

if TYPE_CHECKING:
    from inlet.services import Services

SESSION_COOKIE = "inlet_session"
PRESESSION_COOKIE = "inlet_presession"
CSRF_FIELD = "csrf_token"
CSRF_LABEL = b"inlet web csrf v1"
PRESESSION_SECONDS = 2 * 3600


@dataclass(frozen=True, slots=True)
class WebSession:
    """The logged-in person of a page request."""

    user: User
    token: str

    @property
    def user_id(self) -> str:
        return self.user.id

    @property
    def is_clinician(self) -> bool:
        return "clinician" in self.user.roles


def services_of(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def current_session(request: Request) -> WebSession | None:
    """The person whose session cookie this request carries, or ``None`` (no cookie, an expired or
    unknown token, a server session, a deleted account)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    services = services_of(request)
    accounts = services.accounts
    with read_only(services.engine) as conn:
        session = accounts.resolve_session(conn, token)
        if session is None or session.kind != "user":
            return None
        user = accounts.get_user(conn, session.user_id)
    if user is None:
        return None
    if session.expires_time - accounts.now() < accounts.session_ttl_seconds * 1_000_000 // 2:
        _slide(request, services, token)
    return WebSession(user, token)


def _slide(request: Request, services: Services, token: str) -> None:
    """Extend the session in the database and have :class:`SlidingCookie` renew the cookie."""
    if getattr(request.state, "slid_cookie", None) is not None:
        return  # once per request
    with services.engine.begin() as conn:
        extended = services.accounts.extend_session(conn, token)
    if extended is not None:
        carrier = Response()
        set_session_cookie(request, carrier, token)
        request.state.slid_cookie = [
            (name, value) for name, value in carrier.raw_headers if name == b"set-cookie"
        ][:1]


class SlidingCookie:
    """ASGI middleware: a response to a request whose web session slid carries the renewed session
    cookie, unless the page already sets or clears that cookie itself (log in, log out)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                renewed = scope.get("state", {}).get("slid_cookie")
                if renewed:
                    headers = list(message.get("headers", []))
                    prefix = SESSION_COOKIE.encode() + b"="
                    if not any(k.lower() == b"set-cookie" and v.startswith(prefix) for k, v in headers):
                        message = {**message, "headers": headers + renewed}
            await send(message)

        await self.app(scope, receive, sending)


def _tokens(services: Services, basis: str) -> list[str]:
    message = basis.encode("utf-8")
    return [
        b64url(hmac.new(key, message, hashlib.sha256).digest())
        for key in services.partners.vault.derive(CSRF_LABEL)
    ]


def csrf_basis(request: Request, session: WebSession | None) -> str | None:
    """What the CSRF token is bound to: the session token, else the pre-session cookie."""
    if session is not None:
        return "session:" + session.token
    value = request.cookies.get(PRESESSION_COOKIE) or getattr(request.state, "presession", None)
    return "pre:" + value if value else None


def csrf_token(request: Request, session: WebSession | None) -> str:
    """The token for forms on this page. Without a session, a pre-session value is made (and set as a
    cookie by :func:`finish`) when the request has none."""
    basis = csrf_basis(request, session)
    if basis is None:
        request.state.presession = secrets.token_urlsafe(32)
        basis = "pre:" + request.state.presession
    return _tokens(services_of(request), basis)[0]


def csrf_ok(request: Request, session: WebSession | None, submitted: object) -> bool:
    basis = csrf_basis(request, session)
    if basis is None or not isinstance(submitted, str) or not submitted or len(submitted) > 200:
        return False
    return any(same(submitted, token) for token in _tokens(services_of(request), basis))


def secure_cookies(request: Request) -> bool:
    return services_of(request).settings.public_url.startswith("https:") or request.url.scheme == "https"


def finish(request: Request, response: Response) -> Response:
    """Set the pre-session cookie when this request made one."""
    value = getattr(request.state, "presession", None)
    if value and not request.cookies.get(PRESESSION_COOKIE):
        response.set_cookie(
            PRESESSION_COOKIE,
            value,
            max_age=PRESESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
        )
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    services = services_of(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=services.accounts.session_ttl_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )

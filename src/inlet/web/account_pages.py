"""The password-reset pages: "Forgot your password?" (ask for a link) and "Choose a new password"
(the link's page, ``/confirm-password-reset?resetKey=...``, as Tidepool Web names it).

They do what ``POST /confirm/send/forgot/:email`` and ``PUT /confirm/accept/forgot`` do, with the same
functions, so the answer to a request never says whether an address has an account, the key works
once within 7 days, and a reset ends every session of the account (this browser's too).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from inlet.accounts import invitations as inv
from inlet.accounts.confirm_routes import send_reset_email
from inlet.accounts.validate import MAX_NAME
from inlet.api.client import client_address
from inlet.web.auth_routes import MAX_PASSWORD, MIN_PASSWORD, FormDep
from inlet.web.pages import csrf_refused, message, render
from inlet.web.session import CSRF_FIELD, clear_session_cookie, csrf_ok, current_session, services_of

router = APIRouter()
MAX_KEY = 200


@router.get("/forgot-password")
def forgot_form(request: Request) -> Response:
    email = request.query_params.get("email", "")[:MAX_NAME]
    return render(
        request, "forgot.html", current_session(request), {"fields": {"email": email}, "errors": {}}
    )


@router.post("/forgot-password")
def forgot(request: Request, fields: FormDep) -> Response:
    session = current_session(request)
    if not csrf_ok(request, session, fields.get(CSRF_FIELD)):
        return csrf_refused(request, session)
    email = fields.get("email", "").strip()
    if not email or len(email) > MAX_NAME or "@" not in email or any(c in email for c in " \r\n\x00"):
        errors = {"email": "Enter the email address of your account, such as name@example.org."}
        return render(request, "forgot.html", session, {"fields": {"email": email}, "errors": errors}, 400)
    services = services_of(request)
    with services.notifier.transaction(services.engine) as conn:
        try:
            asked = inv.request_password_reset(conn, services.accounts, email, client_address(request))
        except inv.ResetThrottled as throttled:
            minutes = max(1, -(-throttled.retry_after // 60))
            return message(
                request,
                session,
                429,
                "Too many requests",
                "Inlet received many password reset requests from this computer.",
                f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again.",
            )
        if asked.key is not None:
            send_reset_email(conn, services, email.lower(), asked.key if asked.user else None)
    return message(
        request,
        session,
        200,
        "Check your email",
        f"If {email} belongs to an Inlet account, an email with a link to choose a new password is on "
        "its way. The link works once, for 7 days.",
        "No email after a few minutes? Check your spam folder, or ask again.",
        back=("/login", "Back to log in"),
    )


def _reset_context(key: str, email: str = "", errors: dict[str, str] | None = None) -> dict[str, object]:
    return {"key": key, "fields": {"email": email}, "errors": errors or {}}


@router.get("/confirm-password-reset")
def reset_form(request: Request) -> Response:
    key = request.query_params.get("resetKey", "")[:MAX_KEY]
    session = current_session(request)
    if not key:
        return message(
            request,
            session,
            400,
            "This link is not complete",
            "Open the link from the password reset email again, or ask for a new one.",
            back=("/forgot-password", "Ask for a new link"),
        )
    return render(request, "reset.html", session, _reset_context(key))


@router.post("/confirm-password-reset")
def reset(request: Request, fields: FormDep) -> Response:
    session = current_session(request)
    if not csrf_ok(request, session, fields.get(CSRF_FIELD)):
        return csrf_refused(request, session)
    key = fields.get("key", "")[:MAX_KEY]
    email = fields.get("email", "").strip()
    password = fields.get("password", "")
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter the email address of your account."
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"Choose a password of at least {MIN_PASSWORD} characters."
    elif len(password) > MAX_PASSWORD or "\x00" in password:
        errors["password"] = f"Choose a password of at most {MAX_PASSWORD} characters."
    elif fields.get("password_confirm", "") != password:
        errors["password_confirm"] = "The two passwords are not the same. Type the same password twice."
    if errors:
        return render(request, "reset.html", session, _reset_context(key, email, errors), 400)
    services = services_of(request)
    with services.engine.begin() as conn:
        user = None
        if len(email) <= MAX_NAME:
            user = inv.accept_password_reset(conn, services.accounts, key, email, password)
    if user is None:
        return message(
            request,
            session,
            400,
            "This link no longer works",
            "The link has been used already, is older than 7 days, or belongs to another email address. "
            "Your password has not changed.",
            back=("/forgot-password", "Ask for a new link"),
        )
    response = message(
        request,
        None,
        200,
        "Your password has been changed",
        "Every device that was logged in to your account has been logged out. Log in with your new password.",
        back=("/login", "Log in"),
    )
    clear_session_cookie(request, response)
    return response

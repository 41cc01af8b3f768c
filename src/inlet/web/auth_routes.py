"""Home, signup, login and logout pages.

Signup creates the account the way ``POST /auth/user`` does (no email confirmation is needed: the
accounts service makes a usable account at once, as the API's signup does) and logs the person in.
Login goes through the same DB-backed throttle as ``POST /auth/login``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from inlet.accounts.invitations import CLINICIAN, invites_received
from inlet.accounts.service import Throttled, UsernameTaken
from inlet.accounts.validate import MAX_NAME
from inlet.api.client import client_address
from inlet.web.pages import csrf_refused, form_session, render, safe_next, see_other
from inlet.web.session import (
    CSRF_FIELD,
    WebSession,
    clear_session_cookie,
    csrf_ok,
    current_session,
    services_of,
    set_session_cookie,
)

router = APIRouter()
MIN_PASSWORD = 8
MAX_PASSWORD = 1000
MAX_FULL_NAME = 256


async def form_data(request: Request) -> dict[str, str]:
    """The submitted form's fields (text fields only; the last value of a repeated name)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


# Handlers stay synchronous (run in the thread pool, so database and partner calls never block the
# event loop); the form is read by this async dependency.
FormDep = Annotated[dict[str, str], Depends(form_data)]


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "home.html", current_session(request))


# ---- signup ---------------------------------------------------------------------------------------


def _signup_errors(fields: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    email = fields.get("email", "").strip()
    password = fields.get("password", "")
    if not email:
        errors["email"] = "Enter your email address."
    elif len(email) > MAX_NAME or "@" not in email or " " in email or "\x00" in email:
        errors["email"] = "Enter a valid email address, such as name@example.org."
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"Choose a password of at least {MIN_PASSWORD} characters."
    elif len(password) > MAX_PASSWORD or "\x00" in password:
        errors["password"] = f"Choose a password of at most {MAX_PASSWORD} characters."
    elif fields.get("password_confirm", "") != password:
        errors["password_confirm"] = "The two passwords are not the same. Type the same password twice."
    if len(fields.get("full_name", "")) > MAX_FULL_NAME or "\x00" in fields.get("full_name", ""):
        errors["full_name"] = f"Use at most {MAX_FULL_NAME} characters for your name."
    if fields.get("account_type", "personal") not in ("personal", "clinician"):
        errors["account_type"] = "Choose one of the account types."
    return errors


@router.get("/signup")
def signup_form(request: Request) -> Response:
    session = current_session(request)
    if session is not None:
        return see_other("/profile")
    # An invitation's email links here with the address filled in (``?email=``).
    email = request.query_params.get("email", "")[:MAX_NAME]
    fields = {"account_type": "personal", "email": email}
    return render(request, "signup.html", None, {"fields": fields, "errors": {}})


@router.post("/signup")
def signup(request: Request, fields: FormDep) -> Response:
    if not csrf_ok(request, None, fields.get(CSRF_FIELD)):
        return csrf_refused(request, None)
    shown = {k: v for k, v in fields.items() if k in ("email", "full_name", "account_type")}
    errors = _signup_errors(fields)
    if errors:
        return render(request, "signup.html", None, {"fields": shown, "errors": errors}, 400)
    services = services_of(request)
    email = fields["email"].strip()
    name = fields.get("full_name", "").strip()
    roles = ["clinician"] if fields.get("account_type") == "clinician" else ["patient"]
    try:
        with services.engine.begin() as conn:
            user = services.accounts.create_user(
                conn,
                username=email,
                password=fields["password"],
                emails=[email],
                roles=roles,
                profile={"fullName": name} if name else None,
            )
            token = services.accounts.create_session(conn, user.id)
            now = services.accounts.now()
            invited = invites_received(conn, now, user.emails)
            to_team = invites_received(conn, now, user.emails, CLINICIAN)
    except UsernameTaken:
        errors = {"email": "An account with this email address already exists. Log in instead."}
        return render(request, "signup.html", None, {"fields": shown, "errors": errors}, 409)
    # Someone invited this address before the account existed: their invitation is waiting.
    response = see_other("/clinic/team" if to_team else "/share" if invited else "/profile")
    set_session_cookie(request, response, token)
    return response


# ---- login ----------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    session = current_session(request)
    target = safe_next(request.query_params.get("next"))
    if session is not None:
        return see_other(target or "/profile")
    return render(request, "login.html", None, {"fields": {}, "error": None, "next": target})


@router.post("/login")
def login(request: Request, fields: FormDep) -> Response:
    if not csrf_ok(request, None, fields.get(CSRF_FIELD)):
        return csrf_refused(request, None)
    target = safe_next(fields.get("next"))
    email = fields.get("email", "").strip()
    password = fields.get("password", "")
    context: dict[str, Any] = {"fields": {"email": email}, "next": target}
    if not email or not password:
        context["error"] = "Enter your email address and your password."
        return render(request, "login.html", None, context, 400)
    if len(email) > MAX_NAME or "\x00" in email or len(password) > MAX_PASSWORD:
        context["error"] = "The email address or the password is not right."
        return render(request, "login.html", None, context, 401)
    services = services_of(request)
    try:
        result = services.accounts.log_in(services.engine, email, password, client_address(request))
    except Throttled as throttled:
        minutes = max(1, -(-throttled.retry_after // 60))
        context["error"] = (
            "Too many failed attempts to log in to this account. "
            f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again."
        )
        return render(request, "login.html", None, context, 429)
    token = None if result is None else result[1]
    if token is None:
        context["error"] = "The email address or the password is not right."
        return render(request, "login.html", None, context, 401)
    response = see_other(target or "/profile")
    set_session_cookie(request, response, token)
    return response


# ---- logout ---------------------------------------------------------------------------------------


@router.get("/logout")
def logout_form(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return see_other("/")
    return render(request, "logout.html", session)


@router.post("/logout")
def logout(request: Request, fields: FormDep) -> Response:
    session = current_session(request)
    if session is None:
        response = see_other("/")
        clear_session_cookie(request, response)
        return response
    if not csrf_ok(request, session, fields.get(CSRF_FIELD)):
        return csrf_refused(request, session)
    services = services_of(request)
    with services.engine.begin() as conn:
        services.accounts.end_session(conn, session.token)
    response = see_other("/")
    clear_session_cookie(request, response)
    return response


@router.post("/logout/everywhere")
def logout_everywhere(request: Request, fields: FormDep) -> Response:
    """End every session of the account (this browser, other browsers, API clients and apps) and
    every restricted token: what to do after a lost phone or a shared computer."""
    found = form_session(request, fields, "/profile")
    if not isinstance(found, WebSession):
        return found
    services = services_of(request)
    with services.engine.begin() as conn:
        services.accounts.end_all_sessions(conn, found.user_id)
    response = see_other("/")
    clear_session_cookie(request, response)
    return response

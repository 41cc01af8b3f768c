"""Home, signup, login, logout, the session cookie and CSRF, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from inlet.app import create_app
from inlet.db.schema import sessions, users
from inlet.services import Services, create_services
from inlet.settings import Settings
from inlet.web.session import SESSION_COOKIE

from .conftest import PASSWORD, Web, account, csrf_of


def user_count(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def session_count(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sessions)).scalar_one())


def set_cookie_of(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    [found] = [h for h in headers if h.startswith(f"{name}=")]
    return str(found)


def test_home_says_what_inlet_is_and_links_to_login_and_signup(web: Web) -> None:
    page = web.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page.text
    assert "<main" in page.text
    assert "diabetes" in page.text
    assert 'href="/login"' in page.text
    assert 'href="/signup"' in page.text
    assert 'href="/profile"' not in page.text


def test_signup_logs_in_with_a_safe_cookie(web: Web, services: Services) -> None:
    form = web.get("/signup")
    assert form.status_code == 200
    for label in ('for="email"', 'for="password"', 'for="password_confirm"', 'for="full_name"'):
        assert label in form.text
    response = web.post(
        "/signup",
        {
            "email": "new@example.org",
            "full_name": "New Person",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "account_type": "personal",
            "csrf_token": csrf_of(form),
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/profile"
    cookie = set_cookie_of(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # http://testserver
    profile = web.get("/profile")
    assert profile.status_code == 200
    assert "new@example.org" in profile.text
    assert "New Person" in profile.text
    assert user_count(services) == 1
    with services.engine.connect() as conn:
        roles = conn.execute(select(users.c.roles)).scalar_one()
    assert roles == ["patient"]
    # the home page now leads to the person's pages
    home = web.get("/")
    assert 'href="/profile"' in home.text
    assert "/data/view/" in home.text


def test_a_clinician_signs_up_as_one(web: Web, services: Services) -> None:
    response = web.post(
        "/signup",
        {
            "email": "doc@example.org",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "account_type": "clinician",
        },
        from_page="/signup",
    )
    assert response.status_code == 303
    assert 'href="/clinic"' in web.get("/").text
    with services.engine.connect() as conn:
        assert conn.execute(select(users.c.roles)).scalar_one() == ["clinician"]


def test_the_cookie_is_secure_behind_https(settings: Settings, engine: object) -> None:
    secure = settings.model_copy(update={"public_url": "https://inlet.example.org"})
    services = create_services(secure, engine)  # type: ignore[arg-type]
    with TestClient(create_app(services=services), base_url="https://testserver") as client:
        web = Web(client)
        form = web.get("/signup")
        assert "secure" in set_cookie_of(form, "inlet_presession").lower()
        response = web.post(
            "/signup",
            {
                "email": "safe@example.org",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
                "csrf_token": csrf_of(form),
            },
        )
        assert response.status_code == 303, response.text
        assert "secure" in set_cookie_of(response, SESSION_COOKIE).lower()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"email": "", "password": PASSWORD, "password_confirm": PASSWORD}, "email", "Enter your email"),
        (
            {"email": "not-an-email", "password": PASSWORD, "password_confirm": PASSWORD},
            "email",
            "valid email",
        ),
        (
            {"email": "a@example.org", "password": "short", "password_confirm": "short"},
            "password",
            "at least 8",
        ),
        (
            {"email": "a@example.org", "password": PASSWORD, "password_confirm": PASSWORD + "x"},
            "password_confirm",
            "not the same",
        ),
        (
            {
                "email": "a@example.org",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
                "account_type": "x",
            },
            "account_type",
            "Choose one",
        ),
    ],
)
def test_bad_signup_input_rerenders_the_form_and_stores_nothing(
    web: Web, services: Services, fields: dict[str, str], field: str, words: str
) -> None:
    response = web.post("/signup", fields, from_page="/signup")
    assert response.status_code == 400
    assert "The account was not created" in response.text
    assert f'id="{field}-error"' in response.text
    assert words in response.text
    assert 'aria-invalid="true"' in response.text or field == "account_type"
    if fields["email"]:
        assert f'value="{fields["email"]}"' in response.text  # kept for the next try
    assert PASSWORD not in response.text  # a password is never sent back
    assert user_count(services) == 0
    assert session_count(services) == 0
    assert SESSION_COOKIE not in response.cookies


def test_signup_with_a_taken_email_says_so(web: Web, client: TestClient, services: Services) -> None:
    account(client, "taken")
    response = web.post(
        "/signup",
        {"email": "taken@example.org", "password": PASSWORD, "password_confirm": PASSWORD},
        from_page="/signup",
    )
    assert response.status_code == 409
    assert "already exists" in response.text
    assert user_count(services) == 1


def test_login_and_logout(web: Web, client: TestClient, services: Services) -> None:
    person = account(client, "pat")
    wrong = web.post("/login", {"email": "pat@example.org", "password": "wrong-password"}, from_page="/login")
    assert wrong.status_code == 401
    assert "The email address or the password is not right." in wrong.text
    assert SESSION_COOKIE not in wrong.cookies
    empty = web.post("/login", {"email": "", "password": ""}, from_page="/login")
    assert empty.status_code == 400
    assert "Enter your email address and your password." in empty.text

    # a page that needs a session sends the visitor to log in, and back afterwards
    redirect = web.get(f"/data/view/{person.user_id}?day=2026-10-01")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == f"/login?next=/data/view/{person.user_id}%3Fday%3D2026-10-01"
    login_page = web.get(redirect.headers["location"])
    assert f'name="next" value="/data/view/{person.user_id}?day=2026-10-01"' in login_page.text
    response = web.post(
        "/login",
        {"email": "PAT@example.org ", "password": PASSWORD, "next": f"/data/view/{person.user_id}"},
        from_page="/login",
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/data/view/{person.user_id}"
    assert web.get("/profile").status_code == 200
    assert web.get("/login").headers["location"] == "/profile"  # already logged in

    # logout: GET asks, POST does it and ends the session on the server
    confirm = web.get("/logout")
    assert confirm.status_code == 200
    assert ">Log out</button>" in confirm.text
    token = web.client.cookies.get(SESSION_COOKIE)
    assert token is not None
    out = web.post("/logout", {"csrf_token": csrf_of(confirm)})
    assert out.status_code == 303
    assert out.headers["location"] == "/"
    assert SESSION_COOKIE in set_cookie_of(out, SESSION_COOKIE)
    with services.engine.connect() as conn:
        assert services.accounts.resolve_session(conn, token) is None
    web.client.cookies.set(SESSION_COOKIE, token)  # a stolen copy of the cookie is worthless now
    assert web.get("/profile").headers["location"] == "/login?next=/profile"


def test_login_never_redirects_to_another_site(web: Web, client: TestClient) -> None:
    account(client, "pat")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = web.post(
            "/login", {"email": "pat@example.org", "password": PASSWORD, "next": target}, from_page="/login"
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/profile"
        web.logout()


def test_an_invalid_or_expired_session_goes_to_login(
    web: Web, client: TestClient, services: Services
) -> None:
    web.client.cookies.set(SESSION_COOKIE, "not-a-session")
    response = web.get("/profile")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/profile"
    assert "inlet_session=" in response.headers.get("set-cookie", "")  # the stale cookie is cleared

    account(client, "pat")
    web.login("pat@example.org")
    token = web.client.cookies.get(SESSION_COOKIE)
    assert token is not None
    with services.engine.begin() as conn:
        conn.execute(sessions.update().values(expires_time=0))
    assert web.get("/profile").headers["location"] == "/login?next=/profile"


def test_the_login_is_throttled_in_plain_words(web: Web, client: TestClient) -> None:
    account(client, "pat")
    for _ in range(5):
        assert (
            web.post(
                "/login", {"email": "pat@example.org", "password": "nope"}, from_page="/login"
            ).status_code
            == 401
        )
    response = web.post("/login", {"email": "pat@example.org", "password": PASSWORD}, from_page="/login")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text


def test_forms_without_the_right_csrf_token_are_refused(
    web: Web, client: TestClient, services: Services
) -> None:
    account(client, "pat")
    no_token = web.client.post("/login", data={"email": "pat@example.org", "password": PASSWORD})
    assert no_token.status_code == 403
    assert "security code" in no_token.text
    assert SESSION_COOKIE not in no_token.cookies
    signup = web.client.post(
        "/signup", data={"email": "x@example.org", "password": PASSWORD, "password_confirm": PASSWORD}
    )
    assert signup.status_code == 403
    assert user_count(services) == 1

    web.login("pat@example.org")
    before = session_count(services)
    forged = web.post("/logout", {"csrf_token": "forged"})
    assert forged.status_code == 403
    assert web.get("/profile").status_code == 200  # still logged in
    # a token from before the login (bound to the pre-session cookie) does not fit the session
    web.client.cookies.clear()
    stale = csrf_of(web.get("/login"))
    web.login("pat@example.org")
    assert web.post("/logout", {"csrf_token": stale}).status_code == 403
    assert session_count(services) == before + 1

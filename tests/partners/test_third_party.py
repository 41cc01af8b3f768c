"""The same client code against an authorization server Inlet did not write: Authlib's own server
classes on Flask (served by werkzeug on loopback), configured as a careful partner would be (exact
redirect URI, HTTP Basic client authentication, PKCE S256 required, refresh tokens, RFC 7009
revocation). If Inlet only spoke its simulators' dialect, this would fail."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from authlib.integrations.flask_oauth2 import AuthorizationServer  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants  # type: ignore[import-untyped]
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from flask import Flask, request
from werkzeug.serving import BaseWSGIServer, make_server

from inlet.partners.contract import OAuth, Policy

from .conftest import Browser, Inlet, outcome, query

CLIENT_ID = "inlet-third-party"
CLIENT_SECRET = secrets.token_urlsafe(24)
SCOPES = "profile offline_access"


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    redirect_uri: str

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri  # exact match, as RFC 9700 asks

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code:
    code: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    access_token: str
    refresh_token: str | None
    scope: str
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.get_client_id() == CLIENT_ID

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 3600

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass
class Store:
    client: Client
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: list[Token] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)


def build_app(store: Store) -> Flask:
    app = Flask("third-party-partner")
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]  # noqa: RUF012 (Authlib's class attribute)

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            store.codes[code] = Code(
                code,
                req.payload.redirect_uri,
                req.payload.scope,
                req.user,
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            return store.codes.get(code)

        def delete_authorization_code(self, authorization_code: Code) -> None:
            store.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return authorization_code.user

    class Revocation(RevocationEndpoint):  # type: ignore[misc]
        CLIENT_AUTH_METHODS = ["client_secret_basic"]  # noqa: RUF012

        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            for token in store.tokens:
                if token_string in (token.access_token, token.refresh_token):
                    return token
            return None

        def revoke_token(self, token: Token, req: Any) -> None:
            token.revoked = True

    def save_token(token: dict[str, Any], req: Any) -> None:
        store.tokens.append(Token(token["access_token"], token.get("refresh_token"), token.get("scope", "")))
        store.token_requests.append({"auth": req.headers.get("Authorization", ""), "form": dict(req.form)})

    server = AuthorizationServer(
        app, query_client=lambda cid: store.client if cid == CLIENT_ID else None, save_token=save_token
    )
    server.register_grant(CodeGrant, [CodeChallenge(required=True)])
    server.register_endpoint(Revocation)

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        if request.method == "GET":
            server.get_consent_grant(end_user=None)
            return (
                '<form method="post"><input name="username">'
                '<button name="decision" value="allow">Allow</button></form>'
            )
        grant = server.get_consent_grant(end_user=request.form["username"])
        user = request.form["username"] if request.form.get("decision") == "allow" else None
        return server.create_authorization_response(grant_user=user, grant=grant)

    @app.route("/token", methods=["POST"])
    def token() -> Any:
        return server.create_token_response()

    @app.route("/revoke", methods=["POST"])
    def revoke() -> Any:
        return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

    return app


@dataclass
class ThirdParty:
    url: str
    store: Store
    server: BaseWSGIServer


@pytest.fixture
def third_party(inlet: Inlet) -> Iterator[ThirdParty]:
    store = Store(Client(f"{inlet.url}/v1/oauth/thirdparty/redirect"))
    server = make_server("127.0.0.1", 0, build_app(store), threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="third-party-partner", daemon=True
    )
    thread.start()
    try:
        yield ThirdParty(f"http://127.0.0.1:{server.server_port}", store, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_flow_against_an_authlib_flask_server(
    inlet: Inlet, browser: Browser, third_party: ThirdParty
) -> None:
    dexcom = inlet.services.partners.registry.get("dexcom")
    assert dexcom is not None
    partner = replace(
        dexcom,
        slug="thirdparty",
        display_name="Third Party",
        package=None,  # a partner defined in code: the framework's plain client
        oauth=OAuth(
            authorize_url=f"{third_party.url}/authorize",
            token_url=f"{third_party.url}/token",
            revoke_url=f"{third_party.url}/revoke",
            scopes=tuple(SCOPES.split()),
            pkce=True,
            token_endpoint_auth_method="client_secret_basic",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        ),
        api_url=third_party.url,
        policy=Policy(60, 90, 100, 7, dexcom.policy.history_start),
    )
    inlet.services.partners.registry.add(partner)
    person = inlet.signup()

    partner_url = browser.authorize(
        inlet.url, "thirdparty", inlet.restricted_token(person, ["/v1/oauth/thirdparty"])
    )
    assert query(partner_url)["code_challenge_method"] == "S256"
    assert outcome(browser.finish(browser.consent(partner_url, "alice"))) == "authorized"

    [request_seen] = third_party.store.token_requests
    assert request_seen["auth"].startswith("Basic ")  # client_secret_basic, as the manifest said
    assert "client_secret" not in request_seen["form"]
    assert request_seen["form"]["code_verifier"]  # PKCE
    [issued] = third_party.store.tokens
    assert issued.refresh_token
    [session] = inlet.sessions(person.user_id)
    stored = inlet.services.partners.vault.decrypt_json(session.token)
    assert (stored["access_token"], stored["refresh_token"]) == (issued.access_token, issued.refresh_token)
    [source] = inlet.data_sources(person)
    assert source["state"] == "connected"
    assert "providerExternalId" not in source

    assert (
        inlet.http.delete(f"{inlet.url}/v1/oauth/thirdparty/authorize", headers=person.headers).status_code
        == 200
    )
    assert issued.revoked  # RFC 7009 at the third party's endpoint
    assert inlet.data_sources(person)[0]["state"] == "disconnected"

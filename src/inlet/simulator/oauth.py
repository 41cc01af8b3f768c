"""The simulators' OAuth2 authorization server: Authlib's RFC 6749 core behind a small Starlette adapter.

Why Authlib: its grant classes already get the fiddly parts of the specification right (redirect URI
binding of codes, client authentication methods, error responses and their redirects with ``state``,
PKCE per RFC 7636), and they are framework-free: a server supplies storage callbacks and a request
object. The adapter here is about a hundred lines (request payloads from the query and an
``application/x-www-form-urlencoded`` body, responses back to Starlette), all state lives in memory,
and the simulated clock decides every expiry, so tests move time instead of sleeping.

Policy, per partner (``OAuthSettings``):
- authorization code grant only, codes single-use (a reused code also revokes what it issued, as
  RFC 6749 section 4.1.2 advises) and expiring (``code_lifetime``);
- client authentication by the methods the partner allows (Dexcom: ``client_secret_post``);
- access tokens expire (``access_token_lifetime``, 7200 s by default);
- refresh tokens rotate and are single-use: a refresh returns a new refresh token and the old one
  answers ``invalid_grant``; by default a reused refresh token also revokes the grant (RFC 9700
  section 4.14.2 reuse detection), so a client that races itself loses the connection, as it would
  at a strict partner;
- a refresh token is issued only for the ``offline_access`` scope;
- RFC 7009 revocation of either token revokes the whole grant;
- PKCE with S256 can be required (ACME requires it); ``plain`` is refused.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.grants import (  # type: ignore[import-untyped]
    AuthorizationCodeGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from inlet.simulator.clock import SimClock

OFFLINE_ACCESS = "offline_access"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class OAuthClient:
    """A registered application (what the partner gives Inlet at the one-time setup)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str = "Inlet"


@dataclass(frozen=True)
class OAuthSettings:
    """One partner's OAuth2 endpoints and policy."""

    partner: str  # shown on the consent page
    authorize_path: str
    token_path: str
    revoke_path: str
    scopes: tuple[str, ...]
    default_scope: str
    auth_methods: tuple[str, ...]
    require_pkce: bool = False
    access_token_lifetime: int = 7200
    refresh_token_lifetime: int | None = 365 * 86_400
    code_lifetime: int = 600
    revoke_grant_on_refresh_reuse: bool = True


@dataclass(frozen=True)
class Login:
    """A simulated partner account someone can log in as on the consent page."""

    username: str
    password: str | None  # None: any password (or none) is accepted, as on Dexcom's sandbox
    description: str = ""


@dataclass
class Grant:
    """One authorization: an account allowed an app; refreshes keep the grant, rotating its tokens."""

    id: str
    client_id: str
    username: str
    scope: str
    created: float
    revoked: float | None = None
    revoked_because: str | None = None


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    username: str
    expires_at: float
    code_challenge: str | None
    code_challenge_method: str | None
    used: bool = False
    grant_id: str | None = None

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    access_token: str
    refresh_token: str | None
    grant_id: str
    client_id: str
    scope: str
    issued_at: float
    expires_in: int
    access_expires_at: float
    refresh_expires_at: float | None
    refresh_used: bool = False

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in


@dataclass(frozen=True)
class _Client(ClientMixin):  # type: ignore[misc]
    config: OAuthClient
    settings: OAuthSettings

    def get_client_id(self) -> str:
        return self.config.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.config.redirect_uris[0] if self.config.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return self.settings.default_scope
        return " ".join(s for s in scope.split() if s in self.settings.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(_redirect_matches(registered, redirect_uri) for registered in self.config.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.config.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.settings.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


def _redirect_matches(registered: str, requested: str) -> bool:
    """Exact match, or on a loopback host any port (RFC 8252 section 7.3), so a demo on any port works."""
    if registered == requested:
        return True
    a, b = urlsplit(registered), urlsplit(requested)
    return (
        a.hostname in LOOPBACK_HOSTS
        and (a.scheme, a.hostname, a.path, a.query) == (b.scheme, b.hostname, b.path, b.query)
        and not b.fragment
    )


class OAuthStore:
    """Grants, codes and tokens, in memory, behind one lock (requests and the admin API share it)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.by_access: dict[str, Token] = {}
        self.by_refresh: dict[str, Token] = {}

    def revoke(self, grant_ids: Sequence[str], now: float, because: str) -> int:
        count = 0
        with self.lock:
            for grant_id in grant_ids:
                grant = self.grants.get(grant_id)
                if grant is not None and grant.revoked is None:
                    grant.revoked = now
                    grant.revoked_because = because
                    count += 1
        return count

    def select_grants(
        self, *, grant_id: str | None = None, username: str | None = None, client_id: str | None = None
    ) -> list[Grant]:
        with self.lock:
            return [
                grant
                for grant in self.grants.values()
                if (grant_id is None or grant.id == grant_id)
                and (username is None or grant.username == username)
                and (client_id is None or grant.client_id == client_id)
            ]

    def expire_refresh_tokens(self, now: float) -> int:
        with self.lock:
            tokens = [
                t
                for t in self.by_refresh.values()
                if t.refresh_expires_at is None or t.refresh_expires_at > now
            ]
            for token in tokens:
                token.refresh_expires_at = now
            return len(tokens)

    def expire_access_tokens(self, now: float) -> int:
        with self.lock:
            tokens = [t for t in self.by_access.values() if t.access_expires_at > now]
            for token in tokens:
                token.access_expires_at = now
            return len(tokens)

    def describe(self, now: float) -> list[dict[str, object]]:
        with self.lock:
            rows = []
            for grant in self.grants.values():
                tokens = [t for t in self.by_access.values() if t.grant_id == grant.id]
                live = grant.revoked is None
                live_access = sum(live and t.access_expires_at > now for t in tokens)
                live_refresh = sum(
                    live
                    and t.refresh_token is not None
                    and not t.refresh_used
                    and (t.refresh_expires_at is None or t.refresh_expires_at > now)
                    for t in tokens
                )
                rows.append(
                    {
                        "id": grant.id,
                        "clientId": grant.client_id,
                        "account": grant.username,
                        "scope": grant.scope,
                        "created": grant.created,
                        "revoked": grant.revoked,
                        "revokedBecause": grant.revoked_because,
                        "tokensIssued": len(tokens),
                        "liveAccessTokens": live_access,
                        "liveRefreshTokens": live_refresh,
                    }
                )
            return rows


@dataclass(frozen=True)
class BearerAuth:
    """The caller of a data API request, once its access token checked out."""

    grant: Grant
    token: Token


class BearerError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


# -- the Authlib adapter ---------------------------------------------------------------------------
class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request from a Starlette request whose body was already read."""

    def __init__(self, request: Request, form: Sequence[tuple[str, str]]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        query = request.query_params.multi_items()
        self.payload = _Payload([*query, *form])
        self._args = dict(query)
        self._form = dict(form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    def __init__(self, request: _Request, server: _Server) -> None:
        super().__init__(request, server)
        self.TOKEN_ENDPOINT_AUTH_METHODS = list(server.provider.settings.auth_methods)
        self.provider: OAuthProvider = server.provider

    def save_authorization_code(self, code: str, request: _Request) -> None:
        provider = self.provider
        data = request.payload.data
        with provider.store.lock:
            provider.store.codes[code] = AuthorizationCode(
                code=code,
                client_id=request.client.get_client_id(),
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                username=request.user.username,
                expires_at=provider.now() + provider.settings.code_lifetime,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )

    def query_authorization_code(self, code: str, client: _Client) -> AuthorizationCode | None:
        provider = self.provider
        with provider.store.lock:
            record = provider.store.codes.get(code)
            if record is None or record.client_id != client.get_client_id():
                return None
            if record.used:
                if record.grant_id is not None:
                    provider.store.revoke([record.grant_id], provider.now(), "authorization code reused")
                return None
            if record.expires_at <= provider.now():
                return None
            return record

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        with self.provider.store.lock:
            authorization_code.used = True

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Login | None:
        return self.provider.accounts.get(authorization_code.username)


class _RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def __init__(self, request: _Request, server: _Server) -> None:
        super().__init__(request, server)
        self.TOKEN_ENDPOINT_AUTH_METHODS = list(server.provider.settings.auth_methods)
        self.provider: OAuthProvider = server.provider

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        provider = self.provider
        now = provider.now()
        with provider.store.lock:
            token = provider.store.by_refresh.get(refresh_token)
            if token is None:
                return None
            grant = provider.store.grants[token.grant_id]
            if token.refresh_used:
                if provider.settings.revoke_grant_on_refresh_reuse:
                    provider.store.revoke([grant.id], now, "refresh token reused")
                return None
            if grant.revoked is not None:
                return None
            if token.refresh_expires_at is not None and token.refresh_expires_at <= now:
                return None
            return token

    def authenticate_user(self, refresh_token: Token) -> Login | None:
        grant = self.provider.store.grants[refresh_token.grant_id]
        return self.provider.accounts.get(grant.username)

    def revoke_old_credential(self, refresh_token: Token) -> None:
        with self.provider.store.lock:
            refresh_token.refresh_used = True


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    def __init__(self, server: _Server) -> None:
        super().__init__(server)
        self.CLIENT_AUTH_METHODS = list(server.provider.settings.auth_methods)
        self.provider: OAuthProvider = server.provider

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        store = self.provider.store
        with store.lock:
            if token_type_hint == "refresh_token":
                return store.by_refresh.get(token_string) or store.by_access.get(token_string)
            return store.by_access.get(token_string) or store.by_refresh.get(token_string)

    def revoke_token(self, token: Token, request: _Request) -> None:
        self.provider.store.revoke([token.grant_id], self.provider.now(), "revoked by the client (RFC 7009)")


class _RequireS256(CodeChallenge):  # type: ignore[misc]
    """PKCE is mandatory and only S256 is accepted."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (Authlib's class attribute)

    def validate_code_challenge(self, grant: _CodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE 'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: _CodeGrant, result: object) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("PKCE is required: missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: OAuthProvider) -> None:
        super().__init__(scopes_supported=list(provider.settings.scopes))
        self.provider = provider
        self.register_token_generator("default", self._generate_token)
        extensions = [_RequireS256(required=True)] if provider.settings.require_pkce else None
        self.register_grant(_CodeGrant, extensions)
        self.register_grant(_RefreshGrant)
        self.register_endpoint(_Revocation)

    def query_client(self, client_id: str) -> _Client | None:
        return self.provider.clients.get(client_id)

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Sequence[tuple[str, str]]) -> Response:
        content = json.dumps(body) if isinstance(body, dict) else (body or "")
        return Response(content, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        return None

    def _generate_token(
        self,
        grant_type: str,
        client: _Client,
        user: Login | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, object]:
        settings = self.provider.settings
        token: dict[str, object] = {
            "access_token": secrets.token_urlsafe(32),
            "expires_in": expires_in or settings.access_token_lifetime,
            "token_type": "Bearer",
        }
        if include_refresh_token and OFFLINE_ACCESS in (scope or "").split():
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def save_token(self, token: dict[str, Any], request: _Request) -> None:
        provider = self.provider
        now = provider.now()
        store = provider.store
        with store.lock:
            if request.refresh_token is not None:
                grant = store.grants[request.refresh_token.grant_id]
            else:
                grant = Grant(
                    id=secrets.token_hex(8),
                    client_id=request.client.get_client_id(),
                    username=request.user.username,
                    scope=request.authorization_code.get_scope(),
                    created=now,
                )
                store.grants[grant.id] = grant
                request.authorization_code.grant_id = grant.id
            lifetime = provider.settings.refresh_token_lifetime
            record = Token(
                access_token=token["access_token"],
                refresh_token=token.get("refresh_token"),
                grant_id=grant.id,
                client_id=grant.client_id,
                scope=grant.scope,
                issued_at=now,
                expires_in=int(token["expires_in"]),
                access_expires_at=now + int(token["expires_in"]),
                refresh_expires_at=None if lifetime is None else now + lifetime,
            )
            store.by_access[record.access_token] = record
            if record.refresh_token is not None:
                store.by_refresh[record.refresh_token] = record


# -- the provider ------------------------------------------------------------------------------------
class OAuthProvider:
    """One partner's authorization server: consent page, token and revocation endpoints, bearer checks."""

    def __init__(
        self,
        settings: OAuthSettings,
        clients: Sequence[OAuthClient],
        accounts: Sequence[Login],
        clock: SimClock,
    ) -> None:
        self.settings = settings
        self.clients = {c.client_id: _Client(c, settings) for c in clients}
        self.accounts: Mapping[str, Login] = {a.username: a for a in accounts}
        self.clock = clock
        self.store = OAuthStore()
        self._server = _Server(self)

    def now(self) -> float:
        return self.clock.timestamp()

    def reset(self) -> None:
        """Forget every grant, code and token."""
        with self.store.lock:
            self.store = OAuthStore()

    def routes(self) -> list[Route]:
        s = self.settings
        return [
            Route(s.authorize_path, self.authorize, methods=["GET", "POST"]),
            Route(s.token_path, self.token, methods=["POST"]),
            Route(s.revoke_path, self.revoke, methods=["POST"]),
        ]

    async def _oauth_request(self, request: Request) -> _Request:
        form: list[tuple[str, str]] = []
        if request.method == "POST":
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/x-www-form-urlencoded":
                raise InvalidRequestError("the body must be application/x-www-form-urlencoded")
            body = await request.body()
            form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return _Request(request, form)

    async def authorize(self, request: Request) -> Response:
        """The partner's login and consent page (GET shows it, POST submits it)."""
        try:
            oauth_request = await self._oauth_request(request)
        except OAuth2Error as error:
            return _error_page(error.get_error_description() or error.error, 400)
        with self.store.lock:
            try:
                grant = self._server.get_consent_grant(request=oauth_request, end_user=None)
            except OAuth2Error as error:
                if error.redirect_uri:
                    return self._server.handle_error_response(oauth_request, error)  # type: ignore[no-any-return]
                return _error_page(error.get_error_description() or error.error, 400)
            client = self.clients[oauth_request.payload.client_id]
            if request.method == "GET":
                return self._consent_page(client, grant.request.scope)
            decision = oauth_request.form.get("decision")
            if decision == "deny":
                return self._server.create_authorization_response(  # type: ignore[no-any-return]
                    request=oauth_request, grant_user=None, grant=grant
                )
            if decision != "allow":
                return self._consent_page(client, grant.request.scope, "Choose Allow or Deny.", status=400)
            username = oauth_request.form.get("username", "").strip()
            account = self.accounts.get(username)
            password = oauth_request.form.get("password", "")
            if account is None or (account.password is not None and password != account.password):
                return self._consent_page(
                    client, grant.request.scope, "Unknown account or wrong password.", 401
                )
            return self._server.create_authorization_response(  # type: ignore[no-any-return]
                request=oauth_request, grant_user=account, grant=grant
            )

    async def token(self, request: Request) -> Response:
        try:
            oauth_request = await self._oauth_request(request)
        except OAuth2Error as error:
            return self._server.handle_response(*error())
        with self.store.lock:
            return self._server.create_token_response(oauth_request)  # type: ignore[no-any-return]

    async def revoke(self, request: Request) -> Response:
        try:
            oauth_request = await self._oauth_request(request)
        except OAuth2Error as error:
            return self._server.handle_response(*error())
        with self.store.lock:
            response = self._server.create_endpoint_response(_Revocation.ENDPOINT_NAME, oauth_request)
            return response  # type: ignore[no-any-return]

    def authenticate_bearer(self, authorization: str | None) -> BearerAuth:
        """The grant behind an ``Authorization: Bearer`` header, or ``BearerError`` saying why not."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise BearerError("missing bearer access token")
        value = authorization[7:].strip()
        now = self.now()
        with self.store.lock:
            token = self.store.by_access.get(value)
            if token is None:
                raise BearerError("unknown access token")
            grant = self.store.grants[token.grant_id]
            if grant.revoked is not None:
                raise BearerError("access token revoked")
            if token.access_expires_at <= now:
                raise BearerError("access token expired")
            return BearerAuth(grant, token)

    def _consent_page(
        self, client: _Client, scope: str, message: str = "", status: int = 200
    ) -> HTMLResponse:
        e = html.escape
        options = "".join(f'<option value="{e(name)}">' for name in self.accounts)
        accounts = "".join(
            f"<li><code>{e(a.username)}</code> {e(a.description)}</li>" for a in self.accounts.values()
        )
        notice = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
        body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(self.settings.partner)}: authorize {e(client.config.name)}</title></head>
<body>
<h1>{e(self.settings.partner)} (simulated)</h1>
<p><strong>{e(client.config.name)}</strong> asks for access to your data (scope: <code>{e(scope)}</code>).</p>
{notice}
<form method="post">
<p><label for="username">Username</label>
<input id="username" name="username" list="accounts" autocomplete="username"></p>
<datalist id="accounts">{options}</datalist>
<p><label for="password">Password (optional)</label>
<input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>
<h2>Simulated accounts</h2>
<ul>{accounts}</ul>
</body></html>
"""
        return HTMLResponse(body, status_code=status)


def _error_page(message: str, status: int) -> HTMLResponse:
    e = html.escape
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head>
<body><h1>Authorization error</h1><p>{e(message)}</p></body></html>
"""
    return HTMLResponse(body, status_code=status)

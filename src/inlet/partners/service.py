"""Connections to partners: OAuth states, the code exchange, provider sessions, data sources and their
sync tasks, disconnection and revocation.

Database functions take the caller's connection and never commit: the caller decides the
transaction. Partner calls (token exchange, revocation, who-am-I) never run inside a transaction, so
a slow partner never holds SQLite's write lock.

The OAuth client side is Authlib's ``OAuth2Client`` (httpx2). ``transport`` replaces its network
(tests inject ``httpx2.MockTransport`` there); by default it is the real one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from sqlalchemy import Connection, Engine, delete, insert, select, update

from inlet.accounts import tokens
from inlet.db.schema import data_sources, oauth_states, provider_sessions, restricted_tokens, sync_tasks
from inlet.model.timeutil import US, format_utc, from_micros, now_utc, to_micros
from inlet.partners.contract import Partner
from inlet.partners.registry import PartnerRegistry
from inlet.partners.states import CONNECTED, DISCONNECTED, PARKED
from inlet.partners.vault import TokenVault, VaultError

PROVIDER_TYPE = "oauth"
STATE_TTL_SECONDS = 15 * 60
STATE_RETENTION_SECONDS = 86_400  # used and expired states are kept this long, then purged
STATE_LABEL = b"inlet oauth state v1"
BROWSER_LABEL = b"inlet oauth browser v1"  # the key of the cookie that binds a flow to its browser
HTTP_TIMEOUT_SECONDS = 15.0
log = logging.getLogger("inlet.partners")

Clock = Callable[[], datetime]


def new_id() -> str:
    """Data source, provider session and task ids: 32 lowercase hex characters, as Tidepool's."""
    return secrets.token_hex(16)


@dataclass(slots=True)
class DataSource:
    id: str
    user_id: str
    provider_type: str
    provider_name: str
    provider_session_id: str | None
    provider_external_id: str | None
    state: str
    error: dict[str, Any] | None
    data_set_id: str | None
    earliest_data_time: int | None
    latest_data_time: int | None
    last_import_time: int | None
    created_time: int
    modified_time: int | None
    revision: int
    sync_state: dict[str, Any] | None = None
    task: dict[str, Any] | None = None  # the sync task's schedule and outcome, when there is a task

    @classmethod
    def from_row(cls, row: Any) -> DataSource:
        mapping = row._mapping
        source = cls(**{name: mapping[name] for name in cls.__slots__ if name != "task"})
        if mapping.get("task_id") is not None:
            source.task = {name: mapping[f"task_{name}"] for name in _TASK_FIELDS}
        return source

    def public(self) -> dict[str, Any]:
        """Tidepool's data source object; absent values are left out."""
        body: dict[str, Any] = {
            "id": self.id,
            "userId": self.user_id,
            "providerType": self.provider_type,
            "providerName": self.provider_name,
            "providerSessionId": self.provider_session_id,
            "providerExternalId": self.provider_external_id,
            "state": self.state,
            "error": self.error,
            "dataSetId": self.data_set_id,
            "earliestDataTime": _time(self.earliest_data_time),
            "latestDataTime": _time(self.latest_data_time),
            "lastImportTime": _time(self.last_import_time),
            "createdTime": _time(self.created_time),
            "modifiedTime": _time(self.modified_time),
            "revision": self.revision,
        }
        body.update(self._sync_view())
        return {key: value for key, value in body.items() if value is not None}

    def _sync_view(self) -> dict[str, Any]:
        """Inlet's sync fields (Tidepool clients ignore them): when the next run is due (absent while
        the source waits for a reconnect), the last run and success, the failures in a row and the
        last one's error, the interval the person is polled at, and what the syncs have done."""
        state = self.sync_state or {}
        view: dict[str, Any] = {"counters": state.get("counters")}
        task = self.task
        if task is not None:
            next_run = task["next_run_time"]
            view.update(
                {
                    "nextRunTime": _time(next_run) if next_run is not None and next_run < PARKED else None,
                    "lastRunTime": _time(task["last_run_time"]),
                    "lastSuccessTime": _time(task["last_success_time"]),
                    "failureCount": task["failure_count"],
                    "lastError": task["last_error"],
                    "effectiveInterval": task["effective_interval"],
                }
            )
        return view


_TASK_FIELDS = (
    "id",
    "next_run_time",
    "last_run_time",
    "last_success_time",
    "failure_count",
    "last_error",
    "effective_interval",
)


def sources_query() -> Any:
    """Data sources with their sync task's schedule columns (``task_*``), if any."""
    t = sync_tasks.c
    columns = [getattr(t, name).label(f"task_{name}") for name in _TASK_FIELDS]
    return select(data_sources, *columns).select_from(
        data_sources.outerjoin(sync_tasks, sync_tasks.c.data_source_id == data_sources.c.id)
    )


def _time(micros: int | None) -> str | None:
    return None if micros is None else format_utc(from_micros(micros))


class StateRefused(Exception):
    """The ``state`` of a redirect is not one this server issued for this partner, or is spent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StartedAuthorization:
    """Where to send the browser, and the value of the cookie that binds the flow to that browser
    (RFC 6749 section 10.12): only the browser holding it may finish the flow."""

    url: str
    browser_binding: str


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """What a valid state stands for: who started the flow, for which partner, with which verifier."""

    user_id: str
    provider_name: str
    code_verifier: str | None
    restricted_token_hash: str | None


@dataclass(frozen=True, slots=True)
class RotationCounts:
    sessions: int
    states: int
    failed: int


@dataclass
class PartnerService:
    """Partners as the API and the sync engine use them (``services.partners``)."""

    registry: PartnerRegistry
    vault: TokenVault
    transport: httpx2.BaseTransport | None = None
    clock: Clock = now_utc
    state_ttl_seconds: int = STATE_TTL_SECONDS
    http_timeout: float = HTTP_TIMEOUT_SECONDS

    def now(self) -> int:
        return to_micros(self.clock())

    # ---- the state parameter ----------------------------------------------------------------------

    def _signatures(self, slug: str, nonce: str) -> list[str]:
        message = f"{slug}\n{nonce}".encode()
        return [
            tokens.b64url(hmac.new(key, message, hashlib.sha256).digest()[:18])
            for key in self.vault.derive(STATE_LABEL)
        ]

    def sign_state(self, slug: str, nonce: str) -> str:
        return f"{nonce}.{self._signatures(slug, nonce)[0]}"

    def _bindings(self, slug: str, nonce: str) -> list[bytes]:
        message = f"{slug}\n{nonce}".encode()
        return [
            tokens.b64url(hmac.new(key, message, hashlib.sha256).digest()).encode("ascii")
            for key in self.vault.derive(BROWSER_LABEL)
        ]

    def browser_binding(self, slug: str, nonce: str) -> str:
        """The cookie value that binds the flow of ``nonce`` to the browser that started it: an HMAC
        under its own derived key, so it needs no storage and cannot be computed from the state."""
        return self._bindings(slug, nonce)[0].decode("ascii")

    def browser_matches(self, slug: str, state: str | None, cookie: str | None) -> bool:
        """Whether ``cookie`` is the binding of ``state``'s flow (under any current key). Compared as
        bytes, so a cookie with any characters is a mismatch, never an error."""
        if not state or not cookie:
            return False
        nonce = self.verified_nonce(slug, state)
        if nonce is None:
            return False
        presented = cookie.encode("utf-8", "surrogateescape")
        return any(hmac.compare_digest(presented, binding) for binding in self._bindings(slug, nonce))

    def verified_nonce(self, slug: str, state: str) -> str | None:
        """The nonce of a state signed for ``slug`` by any current key, else ``None``."""
        nonce, dot, signature = state.partition(".")
        if not dot or not nonce or len(state) > 200:
            return None
        if not any(tokens.same(signature, s) for s in self._signatures(slug, nonce)):
            return None
        return nonce

    # ---- OAuth: authorize, exchange, revoke -------------------------------------------------------

    def oauth_client(self, partner: Partner, redirect_uri: str | None = None) -> OAuth2Client:
        oauth = partner.oauth
        return OAuth2Client(
            client_id=oauth.client_id,
            client_secret=oauth.client_secret,
            token_endpoint_auth_method=oauth.token_endpoint_auth_method,
            revocation_endpoint_auth_method=oauth.token_endpoint_auth_method,
            scope=" ".join(oauth.scopes) or None,
            redirect_uri=redirect_uri,
            code_challenge_method="S256" if oauth.pkce else None,
            transport=self.transport,
            timeout=self.http_timeout,
            trust_env=False,
        )

    def start(
        self,
        conn: Connection,
        partner: Partner,
        user_id: str,
        redirect_uri: str,
        restricted_token: str | None,
    ) -> StartedAuthorization:
        """Record a new state for ``user_id`` and ``partner``; the partner's authorize URL to send
        the browser to (with PKCE S256 where the manifest asks) and the browser's binding cookie."""
        now = self.now()
        conn.execute(
            delete(oauth_states).where(oauth_states.c.expires_time < now - STATE_RETENTION_SECONDS * US)
        )
        nonce = secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(64) if partner.oauth.pkce else None
        conn.execute(
            insert(oauth_states).values(
                id=tokens.digest(nonce),
                user_id=user_id,
                provider_name=partner.slug,
                code_verifier=self.vault.encrypt_text(verifier) if verifier else None,
                restricted_token_hash=tokens.digest(restricted_token) if restricted_token else None,
                created_time=now,
                expires_time=now + self.state_ttl_seconds * US,
            )
        )
        with self.oauth_client(partner, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                partner.oauth.authorize_url,
                state=self.sign_state(partner.slug, nonce),
                code_verifier=verifier,
            )
        return StartedAuthorization(str(url), self.browser_binding(partner.slug, nonce))

    def consume_state(self, conn: Connection, partner: Partner, state: str | None) -> PendingAuthorization:
        """Spend a state (single use): the pending authorization it stands for, or ``StateRefused``."""
        if not state:
            raise StateRefused("state-missing")
        nonce = self.verified_nonce(partner.slug, state)
        if nonce is None:
            raise StateRefused("state-invalid")
        row = conn.execute(select(oauth_states).where(oauth_states.c.id == tokens.digest(nonce))).first()
        if row is None or row.provider_name != partner.slug:
            raise StateRefused("state-invalid")
        now = self.now()
        if row.used_time is not None:
            raise StateRefused("state-used")
        if row.expires_time <= now:
            raise StateRefused("state-expired")
        spent = conn.execute(
            update(oauth_states)
            .where(oauth_states.c.id == row.id, oauth_states.c.used_time.is_(None))
            .values(used_time=now)
        )
        if spent.rowcount != 1:
            raise StateRefused("state-used")
        verifier = None
        if row.code_verifier is not None:
            try:
                verifier = self.vault.decrypt_text(row.code_verifier)
            except VaultError as error:
                raise StateRefused("state-invalid") from error
        return PendingAuthorization(row.user_id, row.provider_name, verifier, row.restricted_token_hash)

    def exchange(
        self, partner: Partner, redirect_uri: str, code: str, code_verifier: str | None
    ) -> dict[str, Any]:
        """Trade an authorization code for tokens at the partner's token endpoint (client
        authentication per manifest). Raises Authlib's ``OAuthError``, ``httpx2.HTTPError`` or
        ``ValueError``; the token as stored (``expires_at`` from Inlet's clock)."""
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        with self.oauth_client(partner, redirect_uri) as client:
            response = client.fetch_token(
                partner.oauth.token_url, grant_type="authorization_code", code=code, **extra
            )
        return self.stored_token(response)

    def stored_token(self, response: Mapping[str, Any]) -> dict[str, Any]:
        access = response.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("the token response has no access_token")
        token: dict[str, Any] = {"access_token": access, "token_type": response.get("token_type") or "Bearer"}
        refresh = response.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            token["refresh_token"] = refresh
        expires_in = response.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            token["expires_at"] = int(self.clock().timestamp() + expires_in)
        scope = response.get("scope")
        if isinstance(scope, str) and scope:
            token["scope"] = scope
        return token

    def external_id(self, partner: Partner, token: Mapping[str, Any]) -> str | None:
        """Best effort: the partner's id of the connected account (``None`` if it cannot say now)."""
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        try:
            with httpx2.Client(
                transport=self.transport, timeout=self.http_timeout, headers=headers, trust_env=False
            ) as http:
                return partner.client(http).external_id()
        except Exception as error:  # a who-am-I failure never blocks a connection
            log.warning("partner %s: could not learn the account id (%s)", partner.slug, type(error).__name__)
            return None

    def revoke(self, partner: Partner, token: Mapping[str, Any]) -> bool:
        """RFC 7009 revocation of the grant (its refresh token, else its access token) where the
        manifest has a revoke URL. Never raises: a failed revoke never blocks a disconnect."""
        url = partner.oauth.revoke_url
        if url is None:
            return False
        refresh = token.get("refresh_token")
        value, hint = (refresh, "refresh_token") if refresh else (token.get("access_token"), "access_token")
        if not value:
            return False
        try:
            with self.oauth_client(partner) as client:
                response = client.revoke_token(url, token=value, token_type_hint=hint)
        except Exception as error:
            log.warning("partner %s: revocation failed (%s)", partner.slug, type(error).__name__)
            return False
        if response.status_code != 200:
            log.warning("partner %s: revocation answered HTTP %s", partner.slug, response.status_code)
            return False
        log.info("partner %s: grant revoked", partner.slug)
        return True

    # ---- connect and disconnect -------------------------------------------------------------------

    def connect(
        self,
        conn: Connection,
        partner: Partner,
        user_id: str,
        token: Mapping[str, Any],
        external_id: str | None,
        restricted_token_hash: str | None = None,
    ) -> DataSource:
        """Store a new provider session (replacing any earlier one), mark the data source connected
        (created if needed) and make its sync task due now; the caller commits all of it at once.

        When the partner account differs from the one connected before (both ids known), the data
        source's sync state (watermarks, counters) and data set are reset: the new account's history
        is its own (:func:`inlet.partners.lifecycle.connect`)."""
        now = self.now()
        slug = partner.slug
        conn.execute(
            delete(provider_sessions).where(
                provider_sessions.c.user_id == user_id, provider_sessions.c.provider_name == slug
            )
        )
        session_id = new_id()
        expires_at = token.get("expires_at")
        conn.execute(
            insert(provider_sessions).values(
                id=session_id,
                user_id=user_id,
                provider_type=PROVIDER_TYPE,
                provider_name=slug,
                external_id=external_id,
                token=self.vault.encrypt_json(token),
                scope=token.get("scope") or " ".join(partner.oauth.scopes) or None,
                expires_time=int(expires_at) * US if isinstance(expires_at, int) else None,
                created_time=now,
            )
        )
        source = self.find_source(conn, user_id, slug)
        if source is None:
            source_id = new_id()
            conn.execute(
                insert(data_sources).values(
                    id=source_id,
                    user_id=user_id,
                    provider_type=PROVIDER_TYPE,
                    provider_name=slug,
                    provider_session_id=session_id,
                    provider_external_id=external_id,
                    state=CONNECTED,
                    created_time=now,
                    revision=0,
                )
            )
        else:
            from inlet.partners import lifecycle  # the state's one owner (it imports this module)

            source_id = source.id
            lifecycle.connect(conn, source, session_id, external_id, now)
        task = conn.execute(
            select(sync_tasks.c.id).where(sync_tasks.c.user_id == user_id, sync_tasks.c.provider_name == slug)
        ).first()
        due = {
            "data_source_id": source_id,
            "next_run_time": now,
            "lease_owner": None,
            "lease_expires_time": None,
            "failure_count": 0,
            "last_error": None,
        }
        if task is None:
            conn.execute(
                insert(sync_tasks).values(
                    id=new_id(),
                    user_id=user_id,
                    provider_name=slug,
                    lease_generation=0,
                    created_time=now,
                    **due,
                )
            )
        else:
            conn.execute(
                update(sync_tasks).where(sync_tasks.c.id == task.id).values(modified_time=now, **due)
            )
        if restricted_token_hash is not None:
            conn.execute(
                delete(restricted_tokens).where(restricted_tokens.c.token_hash == restricted_token_hash)
            )
        found = self.get_source(conn, source_id)
        assert found is not None
        return found

    def disconnect(self, conn: Connection, slug: str, user_id: str) -> dict[str, Any] | None:
        """Delete the provider session, mark the data source disconnected, delete its sync task and
        any pending authorization. Returns the tokens that were stored (to revoke after commit)."""
        row = conn.execute(
            select(provider_sessions).where(
                provider_sessions.c.user_id == user_id, provider_sessions.c.provider_name == slug
            )
        ).first()
        token = None
        if row is not None:
            try:
                token = self.vault.decrypt_json(row.token)
            except VaultError:
                log.warning("partner %s: the stored tokens cannot be decrypted; not revoking", slug)
            conn.execute(delete(provider_sessions).where(provider_sessions.c.id == row.id))
        conn.execute(
            delete(sync_tasks).where(sync_tasks.c.user_id == user_id, sync_tasks.c.provider_name == slug)
        )
        conn.execute(
            delete(oauth_states).where(
                oauth_states.c.user_id == user_id,
                oauth_states.c.provider_name == slug,
                oauth_states.c.used_time.is_(None),
            )
        )
        source = self.find_source(conn, user_id, slug)
        if source is not None and (source.state != DISCONNECTED or source.provider_session_id is not None):
            from inlet.partners import lifecycle  # the state's one owner (it imports this module)

            lifecycle.disconnect(conn, source.id, self.now())
        return token

    def disconnect_and_revoke(self, engine: Engine, partner: Partner, user_id: str) -> None:
        """:meth:`disconnect` in its own committed transaction, then the partner's revocation (after
        the commit, so a slow or failing partner never holds the database nor blocks the disconnect)."""
        with engine.begin() as conn:
            token = self.disconnect(conn, partner.slug, user_id)
        if token is not None:
            self.revoke(partner, token)
        log.info("partner %s: disconnected user %s", partner.slug, user_id)

    # ---- data sources -------------------------------------------------------------------------------

    def find_source(self, conn: Connection, user_id: str, slug: str) -> DataSource | None:
        row = conn.execute(
            sources_query().where(data_sources.c.user_id == user_id, data_sources.c.provider_name == slug)
        ).first()
        return None if row is None else DataSource.from_row(row)

    def get_source(self, conn: Connection, source_id: str) -> DataSource | None:
        row = conn.execute(sources_query().where(data_sources.c.id == source_id)).first()
        return None if row is None else DataSource.from_row(row)

    def list_sources(
        self, conn: Connection, user_id: str, page: int = 0, size: int = 100
    ) -> list[DataSource]:
        rows = conn.execute(
            sources_query()
            .where(data_sources.c.user_id == user_id)
            .order_by(data_sources.c.created_time, data_sources.c.id)
            .offset(page * size)
            .limit(size)
        )
        return [DataSource.from_row(row) for row in rows]

    def update_source(self, conn: Connection, source: DataSource, changes: Mapping[str, Any]) -> DataSource:
        """Apply column changes (already validated) and bump the revision."""
        conn.execute(
            update(data_sources)
            .where(data_sources.c.id == source.id)
            .values(**changes, modified_time=self.now(), revision=source.revision + 1)
        )
        updated = self.get_source(conn, source.id)
        assert updated is not None
        return updated

    def delete_source(self, conn: Connection, source: DataSource) -> dict[str, Any] | None:
        """Disconnect, then delete the data source itself (its data stays). Returns tokens to revoke."""
        token = self.disconnect(conn, source.provider_name, source.user_id)
        conn.execute(delete(data_sources).where(data_sources.c.id == source.id))
        return token

    # ---- keys ---------------------------------------------------------------------------------------

    def rotate_keys(self, conn: Connection) -> RotationCounts:
        """Re-encrypt every provider session and stored PKCE verifier under the first key."""
        sessions = states = failed = 0
        for row in conn.execute(select(provider_sessions.c.id, provider_sessions.c.token)).all():
            try:
                rotated = self.vault.rotate(row.token)
            except VaultError:
                failed += 1
                continue
            conn.execute(
                update(provider_sessions).where(provider_sessions.c.id == row.id).values(token=rotated)
            )
            sessions += 1
        query = select(oauth_states.c.id, oauth_states.c.code_verifier).where(
            oauth_states.c.code_verifier.is_not(None)
        )
        for row in conn.execute(query).all():
            try:
                rotated = self.vault.rotate(row.code_verifier)
            except VaultError:
                failed += 1
                continue
            conn.execute(
                update(oauth_states).where(oauth_states.c.id == row.id).values(code_verifier=rotated)
            )
            states += 1
        return RotationCounts(sessions, states, failed)

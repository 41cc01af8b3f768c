"""A person's partner tokens as a sync run uses them: read from the vault, refreshed safely.

Refresh tokens rotate and are single-use at most partners (ACME; the simulator revokes the whole grant
when a used one is presented again). Two rules keep a grant alive:

1. one refresher at a time: a worker takes the session's refresh lock (``refresh_owner`` and
   ``refresh_until``, taken by a compare-and-set that also checks the token is still the one it read);
   a worker that finds the lock held waits, then uses the token the holder stored;
2. the new pair is stored (and committed) right after the partner answers, before any data call could
   need it, so a crash can lose at most the one answer in flight; it is stored even when the lock
   expired meanwhile (at a partner that rotates refresh tokens it is the only valid pair);
3. the lock outlasts the whole request: the request has an overall deadline
   (:data:`REFRESH_DEADLINE_SECONDS`, enforced around the per-phase HTTP timeouts) shorter than the
   lock; a request still running at its deadline fails the run as transient but is not abandoned:
   when it answers, its pair is stored and the lock released.

A failed refresh is classified: ``invalid_grant`` means the grant is gone (:class:`AuthFailed` final);
an unauthorized client is an authentication failure that may heal (a secret being rotated); anything
else (5xx, timeouts, a malformed answer) is :class:`Transient`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import httpx2
from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from sqlalchemy import Engine, or_, select, update

from inlet.db.schema import provider_sessions
from inlet.model.timeutil import US
from inlet.partners.contract import Partner
from inlet.partners.fetch import AuthFailed, Transient
from inlet.partners.service import PartnerService
from inlet.partners.vault import VaultError
from inlet.sync.worker import DATABASE_DOWN

log = logging.getLogger("inlet.sync")
EXPIRY_MARGIN_SECONDS = 60  # refresh this long before the partner's stated expiry
LOCK_SECONDS = 60.0
REFRESH_DEADLINE_SECONDS = 30.0  # the whole refresh request (the lock outlasts it)
FINAL_ERRORS = frozenset({"invalid_grant"})
AUTH_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


@dataclass
class Tokens:
    """The session's token as stored: the decrypted document and its ciphertext (the CAS key)."""

    session_id: str
    token: dict[str, Any]
    ciphertext: str

    @property
    def access(self) -> str:
        return str(self.token["access_token"])

    def expired(self, now_seconds: float) -> bool:
        expires_at = self.token.get("expires_at")
        return isinstance(expires_at, int | float) and expires_at <= now_seconds + EXPIRY_MARGIN_SECONDS


@dataclass
class TokenKeeper:
    engine: Engine
    partners: PartnerService
    owner: str
    lock_seconds: float = LOCK_SECONDS
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    deadline_seconds: float = REFRESH_DEADLINE_SECONDS
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def decrypt(self, session_id: str, ciphertext: str) -> Tokens:
        try:
            return Tokens(session_id, self.partners.vault.decrypt_json(ciphertext), ciphertext)
        except VaultError:
            # No key can read it (keys rotated away): only a reconnect can help.
            raise AuthFailed(
                "the stored tokens cannot be decrypted with the current keys", final=True
            ) from None

    def load(self, session_id: str) -> Tokens:
        with self.engine.connect() as conn:
            ciphertext = conn.execute(
                select(provider_sessions.c.token).where(provider_sessions.c.id == session_id)
            ).scalar_one_or_none()
        if ciphertext is None:
            raise AuthFailed("the partner session is gone (disconnected)", final=True)
        return self.decrypt(session_id, ciphertext)

    def _lock(self, stale: Tokens, clock: Callable[[], int]) -> Tokens | None:
        """Take the refresh lock for ``stale``; ``None`` when taken, else the newer tokens another
        worker stored meanwhile. Raises :class:`Transient` when the lock stays held too long."""
        t = provider_sessions.c
        give_up = self.monotonic() + self.lock_seconds + 5
        while True:
            with self.engine.begin() as conn:
                now = clock()
                row = conn.execute(
                    select(t.token, t.refresh_owner, t.refresh_until).where(t.id == stale.session_id)
                ).first()
                if row is None:
                    raise AuthFailed("the partner session is gone (disconnected)", final=True)
                if row.token != stale.ciphertext:
                    return self.decrypt(stale.session_id, row.token)
                if row.refresh_owner is None or (row.refresh_until or 0) <= now:
                    # The lock's own condition is in the UPDATE: PostgreSQL re-checks it against the
                    # row another worker just committed, so two workers never both take the lock.
                    free = or_(t.refresh_owner.is_(None), t.refresh_until.is_(None), t.refresh_until <= now)
                    taken = conn.execute(
                        update(provider_sessions)
                        .where(t.id == stale.session_id, t.token == stale.ciphertext, free)
                        .values(refresh_owner=self.owner, refresh_until=now + int(self.lock_seconds * US))
                    )
                    if taken.rowcount == 1:
                        return None
            if self.monotonic() > give_up:
                raise Transient("another worker has been refreshing this person's token for too long")
            self.sleep(0.2)

    def _release(self, session_id: str, token: dict[str, Any] | None, clock: Callable[[], int]) -> None:
        """Store ``token`` (a pair the partner issued: always, even when the lock was lost meanwhile)
        and release the lock if it is still ours."""
        t = provider_sessions.c
        with self.engine.begin() as conn:
            if token is not None:
                expires_at = token.get("expires_at")
                conn.execute(
                    update(provider_sessions)
                    .where(t.id == session_id)
                    .values(
                        token=self.partners.vault.encrypt_json(token),
                        expires_time=int(expires_at) * US if isinstance(expires_at, int) else None,
                        modified_time=clock(),
                    )
                )
            conn.execute(
                update(provider_sessions)
                .where(t.id == session_id, t.refresh_owner == self.owner)
                .values(refresh_owner=None, refresh_until=None)
            )

    def _keep(self, session_id: str, token: dict[str, Any], clock: Callable[[], int]) -> None:
        """Store a pair the partner issued, retried while the database is away (a restart) for as
        long as the lock lasts: at partners that rotate refresh tokens it is the only valid pair, and
        presenting the old one again would revoke the grant (the chaos run's PostgreSQL restart)."""
        give_up = self.monotonic() + self.lock_seconds
        while True:
            try:
                self._release(session_id, token, clock)
                return
            except DATABASE_DOWN as failure:
                if self.monotonic() > give_up:
                    raise
                log.warning("a new token pair waits for the database (%s)", type(failure).__name__)
                self.sleep(0.5)

    @property
    def pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(4, thread_name_prefix="inlet-refresh")
            return self._pool

    def _request(self, partner: Partner, refresh_token: str) -> dict[str, Any]:
        with self.partners.oauth_client(partner) as client:
            answer = client.refresh_token(partner.oauth.token_url, refresh_token=refresh_token)
        token: dict[str, Any] = self.partners.stored_token(answer)
        token.setdefault("refresh_token", refresh_token)
        return token

    def _late(self, session_id: str, outcome: Future[dict[str, Any]], clock: Callable[[], int]) -> None:
        """A request that answered after its deadline: its pair is kept all the same."""
        try:
            token = outcome.result()
        except BaseException:
            token = None
        try:
            if token is None:
                self._release(session_id, None, clock)
            else:
                self._keep(session_id, token, clock)
        except Exception as error:
            log.error("a late token pair could not be stored (%s)", type(error).__name__)
        if token is not None:
            log.info("a token refresh answered after its deadline; its pair is stored")

    def refresh(self, partner: Partner, stale: Tokens, clock: Callable[[], int]) -> Tokens:
        """New tokens for ``stale`` (which the partner refused or which expired). ``clock``: the run's
        time in microseconds (the refresh lock's expiry)."""
        newer = self._lock(stale, clock)
        if newer is not None:
            return newer
        refresh_token = stale.token.get("refresh_token")
        if not refresh_token:
            self._release(stale.session_id, None, clock)
            raise AuthFailed("the access token expired and the partner gave no refresh token", final=True)
        outcome = self.pool.submit(self._request, partner, str(refresh_token))
        try:
            token = outcome.result(timeout=self.deadline_seconds)
        except FutureTimeout:
            # Not abandoned: the lock stays ours, and the pair is stored when the partner answers.
            outcome.add_done_callback(lambda done: self._late(stale.session_id, done, clock))
            raise Transient("the token endpoint did not answer in time") from None
        except OAuthError as error:
            self._release(stale.session_id, None, clock)
            code = str(error.error or "")
            if code in FINAL_ERRORS:
                raise AuthFailed(f"the partner refused the refresh token ({code})", final=True) from None
            if code in AUTH_ERRORS:
                raise AuthFailed(f"the partner refused our client ({code})", final=False) from None
            raise Transient(f"the token endpoint answered {code or 'an error'}") from None
        except (httpx2.HTTPError, ValueError) as error:
            self._release(stale.session_id, None, clock)
            raise Transient(f"the token endpoint failed ({type(error).__name__})") from None
        except BaseException:
            self._release(stale.session_id, None, clock)
            raise
        self._keep(stale.session_id, token, clock)
        log.info("partner %s: token refreshed", partner.slug)
        with self.engine.connect() as conn:
            ciphertext = conn.execute(
                select(provider_sessions.c.token).where(provider_sessions.c.id == stale.session_id)
            ).scalar_one_or_none()
        if ciphertext is None:
            raise AuthFailed("the partner session is gone (disconnected)", final=True)
        return self.decrypt(stale.session_id, ciphertext)

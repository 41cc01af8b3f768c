"""Accounts: users, login sessions, restricted tokens and permissions.

Functions take the caller's connection and never commit (the request is the transaction). Tokens
are returned to the caller once and stored only as digests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, func, insert, or_, select, update

from inlet.accounts import passwords, tokens
from inlet.db.engine import read_only
from inlet.db.schema import (
    clinic_patients,
    login_failures,
    permissions,
    restricted_tokens,
    sessions,
    users,
)
from inlet.model.timeutil import US, format_utc, from_micros, now_utc, to_micros

ROLES = ("patient", "clinician", "clinic", "custodial_account", "care_partner", "demo")
PERMISSIONS = ("root", "custodian", "upload", "view", "follow")
RESTRICTED_TOKEN_DEFAULT_SECONDS = 3600
RESTRICTED_TOKEN_MAX_SECONDS = 90 * 86400
RESTRICTED_TOKEN_MAX_PATHS = 10
THROTTLE_PAIR = 5  # failed logins per (account, address) in the window
THROTTLE_ACCOUNT = 10  # per account, from every address together
THROTTLE_ADDRESS = 50  # per address, on every account together
THROTTLE_WINDOW_SECONDS = 15 * 60

Clock = Callable[[], datetime]


@dataclass(slots=True)
class User:
    id: str
    username: str | None
    emails: list[str]
    roles: list[str]
    terms_accepted: str | None
    email_verified: bool
    custodial: bool
    profile: dict[str, Any] | None
    password_hash: str | None = field(default=None, repr=False)

    def public(self, *, for_service: bool = False) -> dict[str, Any]:
        """The shoreline user object clients read; services also learn whether a password exists."""
        body: dict[str, Any] = {
            "userid": self.id,
            "username": self.username,
            "emails": self.emails,
            "roles": self.roles,
            "emailVerified": self.email_verified,
        }
        if self.terms_accepted:
            body["termsAccepted"] = self.terms_accepted
        if for_service:
            body["passwordExists"] = self.password_hash is not None
        return body

    @classmethod
    def from_row(cls, row: Any) -> User:
        m = row._mapping
        return cls(
            id=m["id"],
            username=m["username"],
            emails=list(m["emails"] or []),
            roles=list(m["roles"] or []),
            terms_accepted=m["terms_accepted"],
            email_verified=bool(m["email_verified"]),
            custodial=bool(m["custodial"]),
            profile=m["profile"],
            password_hash=m["password_hash"],
        )


@dataclass(slots=True)
class Session:
    user_id: str
    kind: str  # "user" or "server"
    expires_time: int


RESTRICTED_TOKEN_METHODS = ("GET",)  # what a token allows unless its creator says otherwise
# A token made through Tidepool's API carries paths only, as Tidepool's do: every method under them
# (a client may hand one to an uploader that POSTs, e.g. FHIR $submit-cgm-bundle). Inlet's own links
# (connect, export) narrow it to GET.
API_TOKEN_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@dataclass(slots=True)
class RestrictedToken:
    """A URL-borne credential: its user, for requests under ``paths`` made with one of ``methods``.

    Tidepool checks paths only; Inlet also checks the method, so a link that starts a connection
    (GET) can never also delete one. HEAD goes where GET may (it is a GET without the body)."""

    user_id: str
    paths: list[str]
    created_time: int
    expires_time: int
    methods: list[str] = field(default_factory=lambda: list(RESTRICTED_TOKEN_METHODS))

    def allows(self, path: str, method: str = "GET") -> bool:
        method = method.upper()
        if method not in self.methods and not (method == "HEAD" and "GET" in self.methods):
            return False
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.paths)


class UsernameTaken(Exception):
    pass


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class AccountService:
    password_profile: str = "standard"
    session_ttl_seconds: int = 3600
    clock: Clock = now_utc
    failures_per_pair: int = THROTTLE_PAIR
    failures_per_account: int = THROTTLE_ACCOUNT
    failures_per_address: int = THROTTLE_ADDRESS

    def now(self) -> int:
        return to_micros(self.clock())

    # ---- users -------------------------------------------------------------------------------

    def create_user(
        self,
        conn: Connection,
        *,
        username: str | None,
        password: str | None,
        emails: Iterable[str] = (),
        roles: Iterable[str] = (),
        custodial: bool = False,
        profile: dict[str, Any] | None = None,
    ) -> User:
        name = normalize_username(username) if username else None
        if name and self.find_user(conn, name) is not None:
            raise UsernameTaken(name)
        user = User(
            id=tokens.new_user_id(),
            username=name,
            emails=[normalize_username(e) for e in emails] or ([name] if name else []),
            roles=list(dict.fromkeys(roles)),
            terms_accepted=None,
            email_verified=False,
            custodial=custodial,
            profile=profile,
            password_hash=passwords.hash_password(password, self.password_profile) if password else None,
        )
        now = self.now()
        conn.execute(
            insert(users).values(
                id=user.id,
                username=user.username,
                password_hash=user.password_hash,
                emails=user.emails,
                roles=user.roles,
                terms_accepted=None,
                email_verified=False,
                custodial=custodial,
                profile=profile,
                created_time=now,
                modified_time=now,
            )
        )
        return user

    def get_user(self, conn: Connection, user_id: str) -> User | None:
        row = conn.execute(select(users).where(users.c.id == user_id, users.c.deleted_time.is_(None))).first()
        return User.from_row(row) if row else None

    def email_address(self, conn: Connection, user_id: str) -> str | None:
        """Where to email the account's owner: the first of its emails, else its username, that is an
        address; None for a missing account or one without any (custodial accounts may have none)."""
        user = self.get_user(conn, user_id)
        if user is None:
            return None
        for candidate in (*user.emails, user.username):
            if isinstance(candidate, str) and "@" in candidate:
                return candidate
        return None

    def find_user(self, conn: Connection, username: str) -> User | None:
        name = normalize_username(username)
        row = conn.execute(
            select(users).where(users.c.username == name, users.c.deleted_time.is_(None))
        ).first()
        return User.from_row(row) if row else None

    def update_user(self, conn: Connection, user: User, **values: Any) -> User:
        """Change columns of a user (``password`` is hashed). A custodial account that gets a password
        is claimed by its owner: it stops being custodial and its custodians lose custodianship."""
        if "password" in values:
            password = values.pop("password")
            values["password_hash"] = passwords.hash_password(password, self.password_profile)
            if user.custodial:
                values["custodial"] = False
                self.drop_custodians(conn, user.id)
        if "username" in values and values["username"] is not None:
            name = normalize_username(values["username"])
            other = self.find_user(conn, name)
            if other is not None and other.id != user.id:
                raise UsernameTaken(name)
            values["username"] = name
        conn.execute(update(users).where(users.c.id == user.id).values(modified_time=self.now(), **values))
        updated = self.get_user(conn, user.id)
        assert updated is not None
        return updated

    def set_profile(self, conn: Connection, user_id: str, profile: dict[str, Any] | None) -> None:
        conn.execute(
            update(users).where(users.c.id == user_id).values(profile=profile, modified_time=self.now())
        )

    def drop_custodians(self, conn: Connection, user_id: str) -> None:
        """Remove ``custodian`` from every grant on ``user_id``, keeping the other permissions."""
        for grantee, perms in self.grants_to(conn, user_id).items():
            if "custodian" in perms:
                rest = {k: v for k, v in perms.items() if k != "custodian"}
                self.set_permissions(conn, user_id, grantee, rest)
        rows = conn.execute(
            select(clinic_patients.c.clinic_id, clinic_patients.c.permissions).where(
                clinic_patients.c.user_id == user_id
            )
        ).all()
        for clinic_id, perms in rows:
            if "custodian" in perms:
                rest = {k: v for k, v in perms.items() if k != "custodian"}
                where = (clinic_patients.c.clinic_id == clinic_id) & (clinic_patients.c.user_id == user_id)
                if rest:
                    conn.execute(
                        update(clinic_patients).where(where).values(permissions=rest, updated_time=self.now())
                    )
                else:
                    conn.execute(delete(clinic_patients).where(where))

    # ---- login and sessions ----------------------------------------------------------------------

    def log_in(self, engine: Engine, username: str, password: str, address: str) -> tuple[User, str] | None:
        """Check a password under the login throttle; the user and a new session token, or ``None``.

        Raises :class:`Throttled` when any of the three rules is over its limit. The attempt is
        written as a failure in its own committed transaction *before* the password is checked, so
        parallel guesses (several server processes, PostgreSQL) each see the others and can never
        add up to more checks than the limits allow; a correct password then removes that row. argon2
        runs with no transaction open, so a slow hash never holds SQLite's write lock."""
        name = normalize_username(username)
        with engine.begin() as conn:
            attempt = self._record_attempt(conn, name, address)
        with read_only(engine) as conn:  # closed before any other connection is taken
            retry_after = self._retry_after(conn, name, address, attempt)
            user = None if retry_after else self.find_user(conn, name)
        if retry_after:
            with engine.begin() as conn:  # a refused attempt checked nothing: it is not a failure
                conn.execute(delete(login_failures).where(login_failures.c.pk == attempt))
            raise Throttled(retry_after)
        ok = passwords.verify_password(user.password_hash if user else None, password, self.password_profile)
        if not ok or user is None:
            return None  # the attempt's row stays: it is this failure
        with engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.pk == attempt))
            return user, self.create_session(conn, user.id)

    def _record_attempt(self, conn: Connection, name: str, address: str) -> int:
        """Insert a failure row for an attempt about to be checked (and purge expired rows)."""
        now = self.now()
        conn.execute(
            delete(login_failures).where(login_failures.c.time <= now - THROTTLE_WINDOW_SECONDS * US)
        )
        pk = conn.execute(
            insert(login_failures)
            .values(username=name, address=address, time=now)
            .returning(login_failures.c.pk)
        ).scalar_one()
        return int(pk)

    def _retry_after(self, conn: Connection, name: str, address: str, attempt: int) -> int:
        """0 when, counting this attempt, every rule is within its limit; otherwise the seconds until
        enough failures expire for every rule that is over it (``Retry-After``)."""
        now = self.now()
        since = now - THROTTLE_WINDOW_SECONDS * US
        rules = (
            (login_failures.c.username == name, self.failures_per_account),
            (login_failures.c.address == address, self.failures_per_address),
            (
                (login_failures.c.username == name) & (login_failures.c.address == address),
                self.failures_per_pair,
            ),
        )
        counts = conn.execute(
            select(*(func.coalesce(func.sum(case((cond, 1), else_=0)), 0) for cond, _ in rules)).where(
                or_(login_failures.c.username == name, login_failures.c.address == address),
                login_failures.c.time > since,
            )
        ).one()
        retry_after = 0
        for (cond, limit), count in zip(rules, counts, strict=True):
            if count <= limit:
                continue
            # Without this attempt there are count - 1 failures; this one may go once limit - 1 remain,
            # that is when the (count - limit)-th oldest of the others expires.
            oldest = conn.execute(
                select(login_failures.c.time)
                .where(cond, login_failures.c.time > since, login_failures.c.pk != attempt)
                .order_by(login_failures.c.time)
                .offset(max(0, count - limit - 1))
                .limit(1)
            ).scalar()
            remaining = (oldest if oldest is not None else now) + THROTTLE_WINDOW_SECONDS * US - now
            retry_after = max(retry_after, 1, -(-remaining // US))
        return int(retry_after)

    def create_session(self, conn: Connection, user_id: str, kind: str = "user") -> str:
        token = tokens.new_token()
        now = self.now()
        conn.execute(
            insert(sessions).values(
                token_hash=tokens.digest(token),
                user_id=user_id,
                kind=kind,
                created_time=now,
                expires_time=now + self.session_ttl_seconds * US,
            )
        )
        return token

    def resolve_session(self, conn: Connection, token: str) -> Session | None:
        row = conn.execute(select(sessions).where(sessions.c.token_hash == tokens.digest(token))).first()
        if row is None or row.expires_time <= self.now():
            return None
        return Session(user_id=row.user_id, kind=row.kind, expires_time=row.expires_time)

    def end_session(self, conn: Connection, token: str) -> None:
        conn.execute(delete(sessions).where(sessions.c.token_hash == tokens.digest(token)))

    def extend_session(self, conn: Connection, token: str) -> int | None:
        """Slide a live user session: it now expires a full TTL from now. The new expiry, or ``None``
        when the session is gone or already expired (an idle session is never brought back)."""
        now = self.now()
        expires = now + self.session_ttl_seconds * US
        done = conn.execute(
            update(sessions)
            .where(
                sessions.c.token_hash == tokens.digest(token),
                sessions.c.kind == "user",
                sessions.c.expires_time > now,
            )
            .values(expires_time=expires)
        )
        return expires if done.rowcount else None

    def end_all_sessions(self, conn: Connection, user_id: str) -> int:
        """Log a person out everywhere: every session of the account (API and web alike) and every
        restricted token (connect and export links) ends. How many sessions there were."""
        ended = conn.execute(delete(sessions).where(sessions.c.user_id == user_id)).rowcount
        conn.execute(delete(restricted_tokens).where(restricted_tokens.c.user_id == user_id))
        return int(ended or 0)

    def purge_expired_sessions(self, conn: Connection) -> None:
        conn.execute(delete(sessions).where(sessions.c.expires_time <= self.now()))

    # ---- restricted tokens -----------------------------------------------------------------------

    def create_restricted_token(
        self,
        conn: Connection,
        user_id: str,
        paths: list[str],
        expires_time: int | None = None,
        methods: Iterable[str] = RESTRICTED_TOKEN_METHODS,
    ) -> tuple[str, RestrictedToken]:
        """A new token for ``paths`` and ``methods`` (GET unless said otherwise); returned once,
        stored as its digest."""
        allowed = sorted({m.upper() for m in methods})
        now = self.now()
        expires = expires_time if expires_time is not None else now + RESTRICTED_TOKEN_DEFAULT_SECONDS * US
        expires = min(expires, now + RESTRICTED_TOKEN_MAX_SECONDS * US)
        token = tokens.new_token()
        conn.execute(
            insert(restricted_tokens).values(
                token_hash=tokens.digest(token),
                user_id=user_id,
                paths=paths,
                methods=allowed,
                created_time=now,
                expires_time=expires,
            )
        )
        return token, RestrictedToken(user_id, paths, now, expires, allowed)

    def resolve_restricted_token(self, conn: Connection, token: str) -> RestrictedToken | None:
        row = conn.execute(
            select(restricted_tokens).where(restricted_tokens.c.token_hash == tokens.digest(token))
        ).first()
        if row is None or row.expires_time <= self.now():
            return None
        return RestrictedToken(
            user_id=row.user_id,
            paths=list(row.paths),
            created_time=row.created_time,
            expires_time=row.expires_time,
            methods=list(row.methods or RESTRICTED_TOKEN_METHODS),
        )

    # ---- permissions -------------------------------------------------------------------------------

    def granted(self, conn: Connection, owner_id: str, grantee_id: str) -> dict[str, Any]:
        """The permissions ``owner_id`` granted ``grantee_id`` directly (``{"view": {}, ...}``)."""
        row = conn.execute(
            select(permissions.c.perms).where(
                permissions.c.granter_id == owner_id, permissions.c.grantee_id == grantee_id
            )
        ).first()
        return dict(row.perms) if row else {}

    def set_permissions(
        self, conn: Connection, owner_id: str, grantee_id: str, perms: dict[str, Any]
    ) -> None:
        """Replace what ``owner_id`` grants ``grantee_id``; an empty map removes the grant."""
        conn.execute(
            delete(permissions).where(
                permissions.c.granter_id == owner_id, permissions.c.grantee_id == grantee_id
            )
        )
        if perms:
            conn.execute(
                insert(permissions).values(
                    granter_id=owner_id, grantee_id=grantee_id, perms=perms, created_time=self.now()
                )
            )

    def grants_to(self, conn: Connection, owner_id: str) -> dict[str, dict[str, Any]]:
        rows = conn.execute(select(permissions).where(permissions.c.granter_id == owner_id))
        return {row.grantee_id: dict(row.perms) for row in rows}

    def grants_from(self, conn: Connection, grantee_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(grantee_ids)
        rows = conn.execute(select(permissions).where(or_(*(permissions.c.grantee_id == g for g in ids))))
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            out.setdefault(row.granter_id, {}).update(row.perms)
        return out


def normalize_username(username: str) -> str:
    return username.strip().lower()


_USER_ID = re.compile(r"[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_user_id(value: str) -> bool:
    """Tidepool user ids: 10 hex digits (shoreline) or a UUID. Anything else names no user, and is
    never sent to the database (PostgreSQL refuses some strings, such as ones holding NUL)."""
    return _USER_ID.fullmatch(value) is not None


def effective(perms: Iterable[str]) -> frozenset[str]:
    """Permissions with what they imply: root implies all; custodian implies upload and view."""
    have = set(perms)
    if "root" in have:
        have |= set(PERMISSIONS)
    if "custodian" in have:
        have |= {"upload", "view"}
    return frozenset(have)


def timestamp(micros: int) -> str:
    return format_utc(from_micros(micros))

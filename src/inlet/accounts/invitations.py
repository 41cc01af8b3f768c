"""Hydrophone's confirmations other than signup: care-team invitations, clinician invitations and
password resets, as database functions taking the caller's connection (they never commit).

Keys are never stored, only their SHA-256 digests (``confirm_requests.key_hash``):

- a **password reset** key is 192 random bits, sent once in the email and then only digested, so a
  copy of the database (or a backup) cannot reset anyone's password;
- an **invitation** key must be listed again later (``GET /confirm/invite/:userId`` shows the inviter
  its invites, ``GET /confirm/invitations/:userId`` shows the invitee the key to accept with), so it
  is derived instead of stored: ``b64url(HMAC-SHA256(secret, id))`` where ``secret`` is derived from
  the token keys (``vault.derive``). The database holds the random id and the key's digest; listing
  recomputes the key under each configured secret and keeps the one whose digest matches (so keys
  survive a key rotation while the old key stays configured). Accepting still needs the invitee's
  own session: the key only names the invitation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from inlet.accounts import tokens
from inlet.accounts.service import AccountService, User, normalize_username, timestamp
from inlet.db.schema import confirm_requests, sessions, users
from inlet.model.timeutil import US

CARETEAM = "careteam_invitation"
CLINICIAN = "clinician_invitation"
PASSWORD_RESET = "password_reset"
NO_ACCOUNT = "no_account"

PENDING = "pending"
COMPLETED = "completed"
CANCELED = "canceled"
DECLINED = "declined"

DAY = 86400 * US
INVITE_TTL = 7 * DAY
RESET_TTL = 7 * DAY
KEY_LABEL = b"inlet confirmation keys v1"

# Password-reset requests: per address asked about (known or not, so the limit reveals nothing) and
# per client address, within an hour.
RESET_WINDOW = 3600 * US
RESETS_PER_EMAIL = 3
RESETS_PER_CLIENT = 10

INVITE_PERMISSIONS = ("view", "note", "upload")


@dataclass(slots=True)
class ConfirmRequest:
    id: str
    type: str
    status: str
    key_hash: str
    email: str
    creator_id: str | None
    invitee_id: str | None
    clinic_id: str | None
    context: dict[str, Any] | None
    requester_address: str | None
    created_time: int
    modified_time: int | None
    expires_time: int

    @classmethod
    def from_row(cls, row: Any) -> ConfirmRequest:
        return cls(**dict(row._mapping))

    def live(self, now: int) -> bool:
        return self.status == PENDING and self.expires_time > now

    @property
    def permissions(self) -> dict[str, dict[str, Any]]:
        context = self.context or {}
        perms = context.get("permissions")
        return dict(perms) if isinstance(perms, dict) else {}

    def public(self, key: str | None, creator: User | None = None, **extra: Any) -> dict[str, Any]:
        """Hydrophone's confirmation object. ``key`` is the recomputed invitation key (None for a
        password reset, whose key is never shown again)."""
        body: dict[str, Any] = {
            "type": self.type,
            "email": self.email,
            "creatorId": self.creator_id,
            "context": self.context or {},
            "created": timestamp(self.created_time),
            "status": self.status,
            "expiresAt": timestamp(self.expires_time),
        }
        if key is not None:
            body = {"key": key, **body}
        if self.modified_time is not None:
            body["modified"] = timestamp(self.modified_time)
        if self.clinic_id is not None:
            body["clinicId"] = self.clinic_id
        if creator is not None:
            profile = creator.profile or {}
            body["creator"] = {
                "userid": creator.id,
                "profile": {k: profile[k] for k in ("fullName", "patient") if k in profile},
            }
        body.update(extra)
        return body


# ---- keys -------------------------------------------------------------------------------------------


def invitation_key(secret: bytes, request_id: str) -> str:
    return tokens.b64url(hmac.new(secret, request_id.encode("ascii"), hashlib.sha256).digest()[:24])


def key_of(request: ConfirmRequest, key_secrets: Sequence[bytes]) -> str | None:
    """The invitation's key, recomputed under whichever configured secret made it (None if none did:
    the key it was made under is no longer configured)."""
    for secret in key_secrets:
        key = invitation_key(secret, request.id)
        if hmac.compare_digest(tokens.digest(key), request.key_hash):
            return key
    return None


def get_request(conn: Connection, request_id: str) -> ConfirmRequest | None:
    if not request_id or len(request_id) > 32:
        return None
    row = conn.execute(select(confirm_requests).where(confirm_requests.c.id == request_id)).first()
    return ConfirmRequest.from_row(row) if row else None


def accept_invite(conn: Connection, accounts: AccountService, request: ConfirmRequest, invitee: User) -> None:
    """Grant the invitation's permissions (added to what the invitee already holds) and complete it."""
    assert request.creator_id is not None
    held = accounts.granted(conn, request.creator_id, invitee.id)
    accounts.set_permissions(conn, request.creator_id, invitee.id, {**held, **request.permissions})
    set_status(conn, request, accounts.now(), COMPLETED, invitee_id=invitee.id)


def find_by_key(conn: Connection, key: object, *types: str) -> ConfirmRequest | None:
    if not isinstance(key, str) or not key or len(key) > 200:
        return None
    row = conn.execute(
        select(confirm_requests).where(
            confirm_requests.c.key_hash == tokens.digest(key), confirm_requests.c.type.in_(types)
        )
    ).first()
    return ConfirmRequest.from_row(row) if row else None


def _insert(
    conn: Connection,
    now: int,
    type_: str,
    email: str,
    ttl: int,
    *,
    key_hash: str | None = None,
    creator_id: str | None = None,
    invitee_id: str | None = None,
    clinic_id: str | None = None,
    context: dict[str, Any] | None = None,
    requester_address: str | None = None,
    key_secret: bytes | None = None,
) -> tuple[ConfirmRequest, str]:
    """Store a pending request; answer it with its key (random, or derived from ``key_secret``)."""
    request_id = secrets.token_hex(16)
    key = (
        invitation_key(key_secret, request_id)
        if key_secret is not None
        else tokens.b64url(secrets.token_bytes(24))
    )
    request = ConfirmRequest(
        id=request_id,
        type=type_,
        status=PENDING,
        key_hash=key_hash or tokens.digest(key),
        email=normalize_username(email),
        creator_id=creator_id,
        invitee_id=invitee_id,
        clinic_id=clinic_id,
        context=context,
        requester_address=requester_address,
        created_time=now,
        modified_time=None,
        expires_time=now + ttl,
    )
    conn.execute(insert(confirm_requests).values(**_values(request)))
    return request, key


def _values(request: ConfirmRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in ConfirmRequest.__slots__}


def set_status(conn: Connection, request: ConfirmRequest, now: int, status: str, **values: Any) -> None:
    conn.execute(
        update(confirm_requests)
        .where(confirm_requests.c.id == request.id)
        .values(status=status, modified_time=now, **values)
    )
    request.status = status
    request.modified_time = now


# ---- accounts by address ----------------------------------------------------------------------------


def user_by_email(conn: Connection, accounts: AccountService, email: str) -> User | None:
    """The account whose username is ``email`` (case-insensitive), else one listing it among its
    emails. Emails are stored lower-cased (``create_user`` normalizes them)."""
    address = normalize_username(email)
    user = accounts.find_user(conn, address)
    if user is not None:
        return user
    # Accounts without a username (custodial ones) are known by their emails only: scan those.
    rows = conn.execute(select(users).where(users.c.deleted_time.is_(None), users.c.username.is_(None)))
    for row in rows:
        candidate = User.from_row(row)
        if address in (e.lower() for e in candidate.emails):
            return candidate
    return None


def end_all_sessions(conn: Connection, user_id: str) -> int:
    """End every session of the account (API and web share the store); answers how many ended."""
    return conn.execute(delete(sessions).where(sessions.c.user_id == user_id)).rowcount or 0


# ---- password reset ---------------------------------------------------------------------------------


class ResetThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many password reset requests; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(slots=True)
class ResetRequest:
    """What a reset request produced: the key to email (None when throttled per address asked
    about: nothing is sent, and the answer is the same) and the account, if the address has one."""

    key: str | None
    user: User | None


def request_password_reset(
    conn: Connection, accounts: AccountService, email: str, client: str
) -> ResetRequest:
    """Record a password-reset request for ``email`` from the client address ``client``.

    Raises :class:`ResetThrottled` when this client asked too often (the same for every address, so
    it says nothing about accounts). Past :data:`RESETS_PER_EMAIL` requests for one address in the
    window, nothing more is recorded or sent, silently. An address without an account records a
    ``no_account`` request (its key is never sent) so the same limits apply to it."""
    now = accounts.now()
    since = now - RESET_WINDOW
    address = normalize_username(email)
    asked = (PASSWORD_RESET, NO_ACCOUNT)
    by_client, oldest = conn.execute(
        select(func.count(), func.min(confirm_requests.c.created_time)).where(
            confirm_requests.c.requester_address == client,
            confirm_requests.c.type.in_(asked),
            confirm_requests.c.created_time > since,
        )
    ).one()
    if by_client >= RESETS_PER_CLIENT:
        raise ResetThrottled(max(1, -(-(oldest + RESET_WINDOW - now) // US)))
    by_email = conn.execute(
        select(func.count()).where(
            confirm_requests.c.email == address,
            confirm_requests.c.type.in_(asked),
            confirm_requests.c.created_time > since,
        )
    ).scalar_one()
    user = user_by_email(conn, accounts, address)
    if by_email >= RESETS_PER_EMAIL:
        return ResetRequest(None, user)
    kind = PASSWORD_RESET if user is not None else NO_ACCOUNT
    _, key = _insert(
        conn,
        now,
        kind,
        address,
        RESET_TTL,
        invitee_id=user.id if user else None,
        requester_address=client,
    )
    return ResetRequest(key, user)


def accept_password_reset(
    conn: Connection, accounts: AccountService, key: str, email: str, password: str
) -> User | None:
    """Set a new password with a pending, unexpired reset key issued for ``email``; every session of
    the account ends and every other pending reset of it is canceled. None (and nothing changes)
    for any other key: unknown, used, expired, or issued for another address."""
    now = accounts.now()
    request = find_by_key(conn, key, PASSWORD_RESET)
    if request is None or not request.live(now) or request.email != normalize_username(email):
        return None
    user = accounts.get_user(conn, request.invitee_id) if request.invitee_id else None
    if user is None:
        return None
    accounts.update_user(conn, user, password=password)
    set_status(conn, request, now, COMPLETED)
    conn.execute(
        update(confirm_requests)
        .where(
            confirm_requests.c.invitee_id == user.id,
            confirm_requests.c.type == PASSWORD_RESET,
            confirm_requests.c.status == PENDING,
        )
        .values(status=CANCELED, modified_time=now)
    )
    end_all_sessions(conn, user.id)
    return user


# ---- care-team invitations --------------------------------------------------------------------------


def invite_context(perms: dict[str, dict[str, Any]], nickname: str | None) -> dict[str, Any]:
    """Both shapes Tidepool clients read: ``permissions`` nested, and each permission flat
    (Tidepool Web reads ``context.upload``)."""
    context: dict[str, Any] = {"permissions": perms, **perms}
    if nickname:
        context["nickname"] = nickname
    return context


def pending_invite(
    conn: Connection, now: int, creator_id: str, email: str, type_: str = CARETEAM
) -> ConfirmRequest | None:
    row = conn.execute(
        select(confirm_requests)
        .where(
            confirm_requests.c.creator_id == creator_id,
            confirm_requests.c.type == type_,
            confirm_requests.c.email == normalize_username(email),
            confirm_requests.c.status == PENDING,
            confirm_requests.c.expires_time > now,
        )
        .order_by(confirm_requests.c.created_time.desc())
    ).first()
    return ConfirmRequest.from_row(row) if row else None


def create_invite(
    conn: Connection,
    now: int,
    key_secret: bytes,
    *,
    creator_id: str,
    email: str,
    context: dict[str, Any],
    type_: str = CARETEAM,
    clinic_id: str | None = None,
) -> tuple[ConfirmRequest, str]:
    return _insert(
        conn,
        now,
        type_,
        email,
        INVITE_TTL,
        creator_id=creator_id,
        clinic_id=clinic_id,
        context=context,
        key_secret=key_secret,
    )


def invites_sent(conn: Connection, creator_id: str, type_: str = CARETEAM) -> list[ConfirmRequest]:
    """Pending and declined invitations ``creator_id`` made, newest first."""
    rows = conn.execute(
        select(confirm_requests)
        .where(
            confirm_requests.c.creator_id == creator_id,
            confirm_requests.c.type == type_,
            confirm_requests.c.status.in_((PENDING, DECLINED)),
        )
        .order_by(confirm_requests.c.created_time.desc())
    )
    return [ConfirmRequest.from_row(row) for row in rows]


def invites_received(
    conn: Connection, now: int, emails: Iterable[str], type_: str = CARETEAM
) -> list[ConfirmRequest]:
    """Pending, unexpired invitations to any of ``emails`` (case-insensitive), newest first: this
    also finds invitations made before the account existed."""
    addresses = sorted({normalize_username(e) for e in emails if e})
    if not addresses:
        return []
    rows = conn.execute(
        select(confirm_requests)
        .where(
            confirm_requests.c.email.in_(addresses),
            confirm_requests.c.type == type_,
            confirm_requests.c.status == PENDING,
            confirm_requests.c.expires_time > now,
        )
        .order_by(confirm_requests.c.created_time.desc())
    )
    return [ConfirmRequest.from_row(row) for row in rows]


def invites_of_clinic(conn: Connection, clinic_id: str) -> list[ConfirmRequest]:
    rows = conn.execute(
        select(confirm_requests)
        .where(
            confirm_requests.c.clinic_id == clinic_id,
            confirm_requests.c.type == CLINICIAN,
            or_(confirm_requests.c.status == PENDING, confirm_requests.c.status == DECLINED),
        )
        .order_by(confirm_requests.c.created_time.desc())
    )
    return [ConfirmRequest.from_row(row) for row in rows]


def addressed_to(request: ConfirmRequest, user: User) -> bool:
    """Whether the invitation was sent to one of ``user``'s addresses."""
    mine = {normalize_username(e) for e in (*user.emails, user.username or "") if e}
    return request.email in mine

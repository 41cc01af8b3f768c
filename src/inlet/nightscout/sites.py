"""Nightscout sites: one per person, its API secret, its access tokens, JWTs and the credential throttle.

Nightscout clients send the lowercase SHA-1 hex of the API secret (SHA-512 hex is accepted too) in the
``api-secret`` header or ``?secret=``; tokens come as ``?token=``, in ``api-secret`` (or its SHA-1), or
exchanged for an 8-hour JWT (``Authorization: Bearer``). What a client sends is as good as the secret,
so none of it is stored: each is kept as an HMAC-SHA256 under a key derived from the token keys
(``TokenVault.derive``), and a presented value is hashed the same way under every key (so the digests
survive a key rotation) and compared in constant time. Five wrong or missing credentials per site and
client address within 15 minutes lock that pair out (429 with Retry-After), like logins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from inlet.db.schema import nightscout_failures, nightscout_sites, nightscout_tokens

DIGEST_LABEL = b"inlet.nightscout.secret-digest"
JWT_LABEL = b"inlet.nightscout.jwt"
THROTTLE_FAILURES = 5
THROTTLE_WINDOW_SECONDS = 15 * 60
JWT_LIFETIME_SECONDS = 8 * 3600
US = 1_000_000

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "entries", "treatments", "devicestatus", "profile", "admin"}),
    "readable": frozenset({"read"}),
    "careportal": frozenset({"read", "treatments"}),
    "devicestatus-upload": frozenset({"read", "devicestatus"}),
    "status-only": frozenset(),
    "activity": frozenset(),
    "denied": frozenset(),
}
"""Nightscout's default roles and what each allows here: ``read`` every collection; a collection name
writes it; ``admin`` manages tokens (``/api/v2/authorization/subjects``)."""
ALL = ROLES["admin"]
TOKEN_NAME = re.compile(r"[^a-z0-9]")


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed credentials")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Site:
    site_id: str
    user_id: str
    enabled: bool
    secret_digests: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Access:
    """What a request's credentials allow on a site."""

    site: Site
    permissions: frozenset[str]
    subject: str  # "api-secret" or the token's name

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    roles: list[str]
    created_time: int


def sha1_hex(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()


def sha512_hex(value: str) -> str:
    return hashlib.sha512(value.encode("utf-8")).hexdigest()


class SiteKeys:
    """The derived keys: the first makes digests and signs JWTs; every key verifies."""

    def __init__(self, digest_keys: Sequence[bytes], jwt_keys: Sequence[bytes]) -> None:
        self.digest_keys = list(digest_keys)
        self.jwt_keys = list(jwt_keys)

    def digest(self, value: str, key: bytes | None = None) -> str:
        return hmac.new(key or self.digest_keys[0], value.encode("utf-8"), hashlib.sha256).hexdigest()

    def candidates(self, value: str) -> list[str]:
        return [self.digest(value, key) for key in self.digest_keys]


def _now() -> int:
    return time.time_ns() // 1000


def _row_site(row: Any) -> Site:
    return Site(row.site_id, row.user_id, bool(row.enabled), tuple(row.secret_digests or ()))


def site_of_user(conn: Connection, user_id: str) -> Site | None:
    row = conn.execute(select(nightscout_sites).where(nightscout_sites.c.user_id == user_id)).first()
    return _row_site(row) if row else None


def site_by_id(conn: Connection, site_id: str) -> Site | None:
    if len(site_id) > 32:
        return None
    row = conn.execute(select(nightscout_sites).where(nightscout_sites.c.site_id == site_id)).first()
    return _row_site(row) if row else None


def new_secret() -> str:
    """A 24-character secret (Nightscout asks for at least 12), easy to type into a phone."""
    return secrets.token_urlsafe(18)


def enable(conn: Connection, keys: SiteKeys, user_id: str) -> tuple[Site, str]:
    """Enable the person's site (created on first use, with a random id) with a new secret, which is
    returned once and stored only as digests of its SHA-1 and SHA-512 hex."""
    secret = new_secret()
    digests = [keys.digest(sha1_hex(secret)), keys.digest(sha512_hex(secret))]
    now = _now()
    existing = site_of_user(conn, user_id)
    if existing is None:
        site_id = secrets.token_hex(8)
        conn.execute(
            insert(nightscout_sites).values(
                site_id=site_id,
                user_id=user_id,
                enabled=True,
                secret_digests=digests,
                created_time=now,
                modified_time=now,
            )
        )
    else:
        site_id = existing.site_id
        conn.execute(
            update(nightscout_sites)
            .where(nightscout_sites.c.site_id == site_id)
            .values(enabled=True, secret_digests=digests, modified_time=now)
        )
    return Site(site_id, user_id, True, tuple(digests)), secret


def disable(conn: Connection, site: Site) -> None:
    """The secret and every token stop working; the data stays (it is the person's data)."""
    conn.execute(
        update(nightscout_sites)
        .where(nightscout_sites.c.site_id == site.site_id)
        .values(enabled=False, secret_digests=[], modified_time=_now())
    )
    conn.execute(delete(nightscout_tokens).where(nightscout_tokens.c.site_id == site.site_id))


def roles_permissions(roles: Sequence[str]) -> frozenset[str]:
    found: set[str] = set()
    for role in roles:
        found |= ROLES.get(role, frozenset())
    return frozenset(found)


def create_token(
    conn: Connection, keys: SiteKeys, site: Site, name: str, roles: Sequence[str]
) -> tuple[str, str]:
    """A new access token ``<name up to 10 chars>-<16 hex>`` (Nightscout's shape); returns (id, token)."""
    prefix = TOKEN_NAME.sub("", name.lower())[:10] or "token"
    token = f"{prefix}-{secrets.token_hex(8)}"
    token_id = secrets.token_hex(12)
    conn.execute(
        insert(nightscout_tokens).values(
            id=token_id,
            site_id=site.site_id,
            name=name,
            roles=list(roles),
            digest=keys.digest(token),
            sha1_digest=keys.digest(sha1_hex(token)),
            created_time=_now(),
        )
    )
    return token_id, token


def list_tokens(conn: Connection, site: Site) -> list[TokenRecord]:
    t = nightscout_tokens.c
    rows = conn.execute(
        select(t.id, t.name, t.roles, t.created_time)
        .where(t.site_id == site.site_id)
        .order_by(t.created_time)
    )
    return [TokenRecord(r.id, r.name, list(r.roles or []), r.created_time) for r in rows]


def revoke_token(conn: Connection, site: Site, token_id: str) -> bool:
    t = nightscout_tokens.c
    result = conn.execute(delete(nightscout_tokens).where(t.site_id == site.site_id, t.id == token_id))
    return bool(result.rowcount)


# ---- checking credentials ---------------------------------------------------------------------------


def _secret_matches(keys: SiteKeys, site: Site, presented: str) -> bool:
    value = presented.strip().lower().encode("utf-8")
    ok = False
    for key in keys.digest_keys:
        candidate = hmac.new(key, value, hashlib.sha256).hexdigest().encode("ascii")
        for stored in site.secret_digests:
            ok |= hmac.compare_digest(candidate, stored.encode("ascii"))
    return ok


def _token_access(conn: Connection, keys: SiteKeys, site: Site, presented: str) -> Access | None:
    """The token (or its SHA-1) among the site's tokens: looked up by its keyed digest, which is then
    compared again in constant time."""
    t = nightscout_tokens.c
    candidates = keys.candidates(presented) + keys.candidates(presented.lower())
    rows = conn.execute(
        select(t.name, t.roles, t.digest, t.sha1_digest).where(
            t.site_id == site.site_id, (t.digest.in_(candidates)) | (t.sha1_digest.in_(candidates))
        )
    ).all()
    for row in rows:
        for candidate in candidates:
            if hmac.compare_digest(candidate.encode(), row.digest.encode()) or hmac.compare_digest(
                candidate.encode(), row.sha1_digest.encode()
            ):
                return Access(site, roles_permissions(row.roles or []), row.name)
    return None


def _token_by_name(conn: Connection, site: Site, name: str) -> Access | None:
    t = nightscout_tokens.c
    row = conn.execute(select(t.name, t.roles).where(t.site_id == site.site_id, t.id == name)).first()
    return Access(site, roles_permissions(row.roles or []), row.name) if row else None


def check(
    conn: Connection,
    keys: SiteKeys,
    site: Site,
    *,
    api_secret: str | None,
    token: str | None,
    bearer: str | None,
) -> Access | None:
    """The access these credentials give on ``site``, or None when none is valid (or none is given)."""
    if not site.enabled:
        return None
    if bearer:
        claims = verify_jwt(keys, bearer)
        if claims is not None and claims.get("site") == site.site_id:
            found = _token_by_name(conn, site, str(claims.get("tid", "")))
            if found is not None:
                return found
    for value in (api_secret, token):
        if not value or len(value) > 200:
            continue
        if _secret_matches(keys, site, value):
            return Access(site, ALL, "api-secret")
        found = _token_access(conn, keys, site, value)
        if found is not None:
            return found
    return None


def token_for_jwt(
    conn: Connection, keys: SiteKeys, site: Site, presented: str
) -> tuple[str, TokenRecord] | None:
    """The token record an access token (as sent to ``/api/v2/authorization/request/<token>``) names."""
    if not site.enabled or len(presented) > 200:
        return None
    t = nightscout_tokens.c
    candidates = keys.candidates(presented)
    row = conn.execute(
        select(t.id, t.name, t.roles, t.created_time, t.digest).where(
            t.site_id == site.site_id, t.digest.in_(candidates)
        )
    ).first()
    if row is None or not any(hmac.compare_digest(c.encode(), row.digest.encode()) for c in candidates):
        return None
    return row.id, TokenRecord(row.id, row.name, list(row.roles or []), row.created_time)


# ---- the throttle -----------------------------------------------------------------------------------


def check_throttle(conn: Connection, site_id: str, address: str) -> None:
    now = _now()
    f = nightscout_failures.c
    count, oldest = conn.execute(
        select(func.count(), func.min(f.time)).where(
            f.site_id == site_id, f.address == address, f.time > now - THROTTLE_WINDOW_SECONDS * US
        )
    ).one()
    if count >= THROTTLE_FAILURES:
        remaining = oldest + THROTTLE_WINDOW_SECONDS * US - now
        raise Throttled(max(1, int(-(-remaining // US))))


def record_failure(conn: Connection, site_id: str, address: str) -> None:
    now = _now()
    f = nightscout_failures.c
    conn.execute(delete(nightscout_failures).where(f.time <= now - THROTTLE_WINDOW_SECONDS * US))
    conn.execute(insert(nightscout_failures).values(site_id=site_id, address=address[:64], time=now))


# ---- JWTs (HS256) ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_jwt(
    keys: SiteKeys, site: Site, token_id: str, subject: str, now: int | None = None
) -> dict[str, Any]:
    """``{token, sub, permissionGroups, iat, exp}`` as Nightscout's ``/api/v2/authorization/request``."""
    iat = int(now if now is not None else time.time())
    claims = {
        "tid": token_id,
        "site": site.site_id,
        "sub": subject,
        "iat": iat,
        "exp": iat + JWT_LIFETIME_SECONDS,
    }
    header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    body = _b64(orjson.dumps(claims))
    signature = hmac.new(keys.jwt_keys[0], f"{header}.{body}".encode("ascii"), hashlib.sha256).digest()
    return {"token": f"{header}.{body}.{_b64(signature)}", "sub": subject, "iat": iat, "exp": claims["exp"]}


def verify_jwt(keys: SiteKeys, token: str, now: int | None = None) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 2000:
        return None
    header, body, signature = parts
    try:
        given = _unb64(signature)
        claims = orjson.loads(_unb64(body))
    except (ValueError, orjson.JSONDecodeError):
        return None
    signed = f"{header}.{body}".encode("ascii", "replace")
    if not any(
        hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), given) for key in keys.jwt_keys
    ):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        return None
    if claims["exp"] <= int(now if now is not None else time.time()):
        return None
    return claims

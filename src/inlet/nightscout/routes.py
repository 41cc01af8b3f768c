"""Nightscout's API on a person's site (``/ns/<site-id>/api/v1``, ``/api``, ``/api/v2``, ``/api/v3``) and
the site's management (``/v1/users/:userId/nightscout``, the person or a custodian).

Every site route answers 401 without valid credentials (Inlet sites are private) except
``verifyauth``, which always answers 200 and says ``UNAUTHORIZED`` (clients probe that way). Wrong or
missing credentials count against the site and the client address: the sixth try within 15 minutes
answers 429 with Retry-After, the right secret included, until the window passes. Errors are
Nightscout's ``{status, message}``; the management routes use the platform envelope.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from inlet import __version__
from inlet.accounts.deps import CallerDep, require_account
from inlet.api.body import openapi_json_body
from inlet.api.deps import ReadConn, ServicesDep, WriteConn
from inlet.api.errors import PlatformError, json_response, not_found
from inlet.db.engine import read_only
from inlet.model.timeutil import now_utc, to_micros
from inlet.nightscout import mapping, sites, store
from inlet.nightscout.mapping import RecordInvalid
from inlet.nightscout.sites import Access, Site, SiteKeys

if TYPE_CHECKING:
    from inlet.services import Services

router = APIRouter()
F = TypeVar("F", bound=Callable[..., Any])
PREFIXES = ("/ns/{site_id}/api/v1", "/ns/{site_id}/api")
JSON_TYPE = "application/json"


class NightscoutError(Exception):
    """An error in Nightscout's shape: ``{status, message, description}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(NightscoutError)
    async def nightscout_error(_: Request, exc: NightscoutError) -> Response:
        body = {"status": exc.status, "message": exc.message}
        return Response(orjson.dumps(body), exc.status, exc.headers, media_type=JSON_TYPE)


def site_keys(services: Services) -> SiteKeys:
    vault = services.partners.vault
    return SiteKeys(vault.derive(sites.DIGEST_LABEL), vault.derive(sites.JWT_LABEL))


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _credentials(request: Request) -> tuple[str | None, str | None, str | None]:
    header = request.headers.get("api-secret")
    secret = header or request.query_params.get("secret")
    token = request.query_params.get("token")
    if secret and secret.startswith("token="):  # py-nightscout sends a token this way
        token = token or secret.removeprefix("token=")
        secret = None
    bearer = None
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        bearer = value.strip()
    return secret, token, bearer


def resolve(request: Request, services: Services, site_id: str, *, probe: bool = False) -> Access | None:
    """The caller's access on the site; for any route but ``verifyauth`` (``probe``) a 401 or a 429."""
    keys = site_keys(services)
    address = _address(request)
    secret, token, bearer = _credentials(request)
    with read_only(services.engine) as conn:
        site = sites.site_by_id(conn, site_id)
        key = site.site_id if site else site_id[:32]
        try:
            sites.check_throttle(conn, key, address)
        except sites.Throttled as throttled:
            if probe:
                return None
            raise NightscoutError(
                429, "Too many failed attempts", {"Retry-After": str(throttled.retry_after)}
            ) from None
        access = (
            sites.check(conn, keys, site, api_secret=secret, token=token, bearer=bearer) if site else None
        )
    if access is None and (not probe or secret or token or bearer):
        with services.engine.begin() as conn:  # its own transaction: kept when the request fails
            sites.record_failure(conn, key, address)
    if access is None and not probe:
        raise NightscoutError(401, "Unauthorized")
    return access


def need(access: Access | None, permission: str) -> Access:
    if access is None or not access.can(permission):
        raise NightscoutError(401, "Unauthorized")
    return access


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type=JSON_TYPE)


async def _body(request: Request, services: Services) -> Any:
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").lower()
    limit = services.settings.max_body_bytes
    if encoding in ("gzip", "deflate"):
        try:
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
            raw = decoder.decompress(raw, limit + 1)
            if len(raw) > limit or decoder.unconsumed_tail:
                raise NightscoutError(413, "Request body too large")
        except (zlib.error, gzip.BadGzipFile) as error:
            raise NightscoutError(400, "Body is not valid gzip") from error
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as error:
        raise NightscoutError(400, "Body is not valid JSON") from error


def _count(request: Request, default: int) -> int:
    value = request.query_params.get("count")
    if value is None:
        return default
    try:
        return max(0, min(int(value), 100_000))
    except ValueError as error:
        raise NightscoutError(400, "count must be an integer") from error


def _find(request: Request, *, default_window: bool = True) -> store.Find:
    return store.Find.parse(request.query_params.multi_items(), now_utc(), default_window=default_window)


def _delete_find(request: Request) -> store.Find:
    """A DELETE's selection: its ``find`` over all time (Trio deletes by ``find[id][$eq]``); a bare
    DELETE without any ``find`` only covers the default 4 days, never everything."""
    find = _find(request, default_window=False)
    return find if find.terms else _find(request)


def _invalid(error: RecordInvalid) -> NightscoutError:
    return NightscoutError(400, f"Invalid record {error.index}: field {error.field}: {error}")


def _wants_json(request: Request, path: str) -> bool:
    if path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].strip().lower()
    return first.startswith("application/json")


def _tsv(records: list[dict[str, Any]]) -> Response:
    lines = []
    for r in records:
        value = r.get("sgv", r.get("mbg", ""))
        fields = [f'"{r.get("dateString", "")}"', str(r.get("date", "")), str(value)]
        fields += [f'"{r.get("direction", "")}"', f'"{r.get("device", "")}"']
        lines.append("\t".join(fields))
    return Response("\n".join(lines), media_type="text/plain; charset=utf-8")


def _route(methods: list[str], *paths: str) -> Callable[[F], F]:
    """Register a handler under both v1 mounts (``/api/v1`` and ``/api``) for each path."""

    def wrap(func: F) -> F:
        for prefix in PREFIXES:
            for path in paths:
                router.add_api_route(prefix + path, func, methods=methods, include_in_schema=False)
        return func

    return wrap


def _records(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise NightscoutError(400, "Body must be an object or an array of objects")


def _now() -> datetime:
    return now_utc()


# ---- management: /v1/users/:userId/nightscout -------------------------------------------------------


def _site_url(services: Services, site: Site) -> str:
    return f"{str(services.settings.public_url).rstrip('/')}/ns/{site.site_id}/"


def _own_site(request: Request, conn: Any, caller: Any, user_id: str) -> Site:
    require_account(request, conn, caller, user_id, "root", "custodian")
    site = sites.site_of_user(conn, user_id)
    if site is None:
        raise not_found("nightscout-not-found", "nightscout site", user_id)
    return site


@router.put("/v1/users/{user_id}/nightscout", tags=["nightscout"])
def enable_site(
    request: Request, user_id: str, caller: CallerDep, services: ServicesDep, conn: WriteConn
) -> Response:
    """Enable the person's Nightscout site, or give it a new API secret: ``{siteUrl, apiSecret}``. The
    only time the secret is shown; it is stored only as keyed digests."""
    require_account(request, conn, caller, user_id, "root", "custodian")
    site, secret = sites.enable(conn, site_keys(services), user_id)
    return json_response({"siteUrl": _site_url(services, site), "apiSecret": secret})


@router.get("/v1/users/{user_id}/nightscout", tags=["nightscout"])
def get_site(
    request: Request, user_id: str, caller: CallerDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """``{enabled, siteUrl}``; 404 when never enabled."""
    site = _own_site(request, conn, caller, user_id)
    return json_response({"enabled": site.enabled, "siteUrl": _site_url(services, site)})


@router.delete("/v1/users/{user_id}/nightscout", status_code=204, tags=["nightscout"])
def disable_site(request: Request, user_id: str, caller: CallerDep, conn: WriteConn) -> Response:
    """Disable: the secret and every token stop working (the data stays)."""
    site = _own_site(request, conn, caller, user_id)
    sites.disable(conn, site)
    return Response(status_code=204)


def _token_body(body: Any) -> tuple[str, list[str]]:
    if not isinstance(body, dict):
        raise PlatformError(400, "value-not-valid", "value is not valid", "body must be an object")
    name = body.get("name")
    roles = body.get("roles")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise PlatformError(
            400, "value-not-valid", "value is not valid", "name must be 1 to 64 characters", pointer="/name"
        )
    if not isinstance(roles, list) or not roles or any(r not in sites.ROLES for r in roles):
        raise PlatformError(
            400,
            "value-not-valid",
            "value is not valid",
            f"roles must be a list of: {', '.join(sites.ROLES)}",
            pointer="/roles",
        )
    return name.strip(), list(dict.fromkeys(roles))


@router.post(
    "/v1/users/{user_id}/nightscout/tokens",
    status_code=201,
    tags=["nightscout"],
    openapi_extra=openapi_json_body(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "roles": {"type": "array", "items": {"type": "string"}},
            },
        }
    ),
)
async def create_token(request: Request, user_id: str, caller: CallerDep, services: ServicesDep) -> Response:
    """A new access token ``{id, name, roles, token}`` (the token shown this once)."""
    body = await _read_platform_json(request)
    name, roles = _token_body(body)
    with services.engine.begin() as conn:
        site = _own_site(request, conn, caller, user_id)
        if not site.enabled:
            raise not_found("nightscout-not-found", "nightscout site", user_id)
        token_id, token = sites.create_token(conn, site_keys(services), site, name, roles)
    return json_response({"id": token_id, "name": name, "roles": roles, "token": token}, 201)


async def _read_platform_json(request: Request) -> Any:
    from inlet.api.body import read_json

    return await read_json(request)


@router.get("/v1/users/{user_id}/nightscout/tokens", tags=["nightscout"])
def list_tokens(request: Request, user_id: str, caller: CallerDep, conn: ReadConn) -> Response:
    site = _own_site(request, conn, caller, user_id)
    return json_response(
        [{"id": t.id, "name": t.name, "roles": t.roles} for t in sites.list_tokens(conn, site)]
    )


@router.delete("/v1/users/{user_id}/nightscout/tokens/{token_id}", status_code=204, tags=["nightscout"])
def revoke_token(
    request: Request, user_id: str, token_id: str, caller: CallerDep, conn: WriteConn
) -> Response:
    site = _own_site(request, conn, caller, user_id)
    if not sites.revoke_token(conn, site, token_id):
        raise not_found("token-not-found", "token", token_id)
    return Response(status_code=204)


# ---- v1: status, verifyauth, experiments ------------------------------------------------------------


def _status_body(access: Access) -> dict[str, Any]:
    now = _now()
    return {
        "status": "ok",
        "name": "Inlet",
        "version": "15.0.2",
        "serverTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "serverTimeEpoch": to_micros(now) // 1000,
        "apiEnabled": True,
        "careportalEnabled": True,
        "boluscalcEnabled": False,
        "head": f"inlet-{__version__}",
        "settings": {
            "units": "mg/dl",
            "timeFormat": 24,
            "theme": "default",
            "enable": ["careportal", "iob", "cob", "basal", "devicestatus"],
            "authDefaultRoles": "denied",
            "thresholds": {"bgHigh": 260, "bgTargetTop": 180, "bgTargetBottom": 70, "bgLow": 55},
            "DEFAULT_FEATURES": [
                "bgnow",
                "delta",
                "direction",
                "timeago",
                "devicestatus",
                "upbat",
                "errorcodes",
                "profile",
            ],
        },
        "extendedSettings": {"devicestatus": {"advanced": True}},
        "authorized": None,
    }


@_route(["GET"], "/status", "/status.json")
def status(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = resolve(request, services, site_id)  # any valid credential (status-only included)
    assert access is not None
    return _json(_status_body(access))


@_route(["GET"], "/verifyauth")
def verifyauth(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = resolve(request, services, site_id, probe=True)
    ok = access is not None
    permissions = sorted(access.permissions) if access else []
    message = {
        "canRead": bool(access and access.can("read")),
        "canWrite": bool(access and (access.permissions - {"read", "admin"})),
        "isAdmin": bool(access and access.can("admin")),
        "message": "OK" if ok else "UNAUTHORIZED",
        "rolefound": "FOUND" if ok else "NOTFOUND",
        "permissions": "ROLE" if ok else "DEFAULT",
        "granted": permissions,
    }
    return _json({"status": 200, "message": message})


@_route(["GET"], "/experiments/test")
def experiments_test(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = resolve(request, services, site_id)
    if access is None or not (access.permissions - {"read", "admin"}):
        raise NightscoutError(401, "Unauthorized")
    return _json({"status": "ok"})


# ---- v1: entries ------------------------------------------------------------------------------------


def _entries(
    request: Request, services: Services, site: Site, kind: str | None, count: int
) -> list[dict[str, Any]]:
    find = _find(request)
    with read_only(services.engine) as conn:
        return store.read_entries(conn, site, find, count, kind)


@_route(
    ["GET"],
    "/entries",
    "/entries.json",
    "/entries/sgv",
    "/entries/sgv.json",
    "/entries/mbg.json",
    "/entries/cal.json",
)
def get_entries(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "read")
    path = request.url.path
    kind = next((k for k in ("sgv", "mbg", "cal") if f"/entries/{k}" in path), None)
    records = _entries(request, services, access.site, kind, _count(request, 10))
    return _json(records) if _wants_json(request, path) else _tsv(records)


@_route(["GET"], "/entries/current", "/entries/current.json")
def current_entry(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "read")
    records = _entries(request, services, access.site, "sgv", 1)
    return _json(records) if _wants_json(request, request.url.path) else _tsv(records)


@_route(["GET"], "/entries/{spec}")
def entries_by_spec(request: Request, site_id: str, spec: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "read")
    name = spec[:-5] if spec.endswith(".json") else spec
    if name in ("sgv", "mbg", "cal"):
        records = _entries(request, services, access.site, name, _count(request, 10))
    else:
        with read_only(services.engine) as conn:
            found = store.find_by_key(conn, access.site, "entries", name)
        records = [found] if found else []
    return _json(records)


async def _store(
    request: Request, services: Services, site: Site, collection: str, records: list[Any]
) -> list[dict[str, Any]]:
    now = _now()
    prepare: Callable[[Any, int], dict[str, Any]] = {
        "entries": lambda r, i: mapping.prepare_entry(r, i),
        "treatments": lambda r, i: mapping.prepare_treatment(r, i, now),
        "devicestatus": lambda r, i: _prepare_plain(r, i, now, "created_at"),
        "profile": lambda r, i: _prepare_plain(r, i, now, "startDate"),
    }[collection]

    def write() -> list[dict[str, Any]]:
        prepared = [prepare(record, index) for index, record in enumerate(records)]
        with services.engine.begin() as conn:
            return store.store(conn, services.data, site, collection, prepared, now)

    try:
        return await run_in_threadpool(write)  # the database work stays off the event loop
    except RecordInvalid as error:
        raise _invalid(error) from None


def _prepare_plain(record: Any, index: int, now: datetime, time_field: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise RecordInvalid(index, "record", "must be an object")
    mapping.check_key(record, index)
    out = dict(record)
    if not out.get(time_field) and not out.get("created_at"):
        out[time_field] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if time_field == "startDate" and not out.get("startDate"):
        out["startDate"] = out["created_at"]
    if "_id" not in out and "identifier" not in out:
        out["_id"] = mapping.derived_id(
            time_field, out.get(time_field) or out.get("created_at"), out.get("device"), now.timestamp()
        )
    return out


@_route(["POST"], "/entries", "/entries.json")
async def post_entries(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "entries")
    records = _records(await _body(request, services))
    return _json(await _store(request, services, access.site, "entries", records))


@_route(["DELETE"], "/entries", "/entries.json", "/entries/{spec}")
def delete_entries(
    request: Request, site_id: str, services: ServicesDep, spec: str | None = None
) -> Response:
    name = spec[:-5] if spec and spec.endswith(".json") else spec
    key = name if name and name not in ("sgv", "mbg", "cal", "*") else None
    return _delete(request, site_id, services, "entries", key)


def _delete(
    request: Request, site_id: str, services: ServicesDep, collection: str, key: str | None
) -> Response:
    """v1 DELETE: the one record ``key`` names, else every record the ``find`` query matches, as
    tombstones (a deleted record stays in the history); answers Nightscout's count shape."""
    access = need(resolve(request, services, site_id), collection)
    find = _delete_find(request)
    with services.engine.begin() as conn:
        keys = [key] if key else store.keys_matching(conn, access.site, collection, find)
        n = store.tombstone(conn, access.site, collection, keys, to_micros(_now()))
    return _json({"n": n, "ok": 1, "deletedCount": n})


# ---- v1: treatments ---------------------------------------------------------------------------------


@_route(["GET"], "/treatments", "/treatments.json")
def get_treatments(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "read")
    find = _find(request)
    count = _count(request, 1000 if find.terms else 100)
    with read_only(services.engine) as conn:
        return _json(store.read_treatments(conn, access.site, find, count))


@_route(["POST", "PUT"], "/treatments", "/treatments.json")
async def post_treatments(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "treatments")
    records = _records(await _body(request, services))
    stored = await _store(request, services, access.site, "treatments", records)
    if request.method == "PUT" and len(stored) == 1:
        return _json(stored[0])
    return _json(stored)


@_route(["DELETE"], "/treatments", "/treatments.json", "/treatments/{key}")
def delete_treatments(
    request: Request, site_id: str, services: ServicesDep, key: str | None = None
) -> Response:
    return _delete(request, site_id, services, "treatments", key)


# ---- v1: devicestatus and profile (kept as documents) -----------------------------------------------


@_route(["GET"], "/devicestatus", "/devicestatus.json")
def get_devicestatus(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "read")
    find = _find(request)
    with read_only(services.engine) as conn:
        return _json(store.read_documents(conn, access.site, "devicestatus", find, _count(request, 10)))


@_route(["POST"], "/devicestatus", "/devicestatus.json")
async def post_devicestatus(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "devicestatus")
    records = _records(await _body(request, services))
    return _json(await _store(request, services, access.site, "devicestatus", records))


@_route(["DELETE"], "/devicestatus", "/devicestatus.json", "/devicestatus/{key}")
def delete_devicestatus(
    request: Request, site_id: str, services: ServicesDep, key: str | None = None
) -> Response:
    return _delete(request, site_id, services, "devicestatus", key)


@_route(["GET"], "/profile", "/profile.json", "/profiles", "/profiles.json")
def get_profiles(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "read")
    find = _find(request, default_window=False)
    with read_only(services.engine) as conn:
        return _json(store.read_documents(conn, access.site, "profile", find, _count(request, 10)))


@_route(["GET"], "/profile/current")
def current_profile(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "read")
    with read_only(services.engine) as conn:
        found = store.read_documents(conn, access.site, "profile", store.Find(), 1)
    return _json(found[0] if found else {})


@_route(["POST", "PUT"], "/profile", "/profile.json")
async def post_profile(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "profile")
    records = _records(await _body(request, services))
    stored = await _store(request, services, access.site, "profile", records)
    return _json(stored[0] if request.method == "PUT" and len(stored) == 1 else stored)


@_route(["DELETE"], "/profile/{key}")
def delete_profile(request: Request, site_id: str, key: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "profile")
    with services.engine.begin() as conn:
        n = store.tombstone(conn, access.site, "profile", [key], to_micros(_now()))
    return _json({"n": n, "ok": 1, "deletedCount": n})


# ---- v2: authorization ------------------------------------------------------------------------------


@router.get("/ns/{site_id}/api/v2/authorization/request/{token}", include_in_schema=False)
def authorization_request(request: Request, site_id: str, token: str, services: ServicesDep) -> Response:
    """An access token -> an 8-hour JWT ``{token, sub, permissionGroups, iat, exp}``."""
    keys = site_keys(services)
    address = _address(request)
    with services.engine.begin() as conn:
        site = sites.site_by_id(conn, site_id)
        key = site.site_id if site else site_id[:32]
        try:
            sites.check_throttle(conn, key, address)
        except sites.Throttled as throttled:
            raise NightscoutError(
                429, "Too many failed attempts", {"Retry-After": str(throttled.retry_after)}
            ) from None
        found = sites.token_for_jwt(conn, keys, site, token) if site else None
        if found is None:
            sites.record_failure(conn, key, address)
    if found is None or site is None:
        raise NightscoutError(401, "Unauthorized")
    token_id, record = found
    issued = sites.issue_jwt(keys, site, token_id, record.name)
    issued["permissionGroups"] = [sorted(sites.roles_permissions(record.roles))]
    return _json(issued)


@router.get("/ns/{site_id}/api/v2/authorization/subjects", include_in_schema=False)
def list_subjects(request: Request, site_id: str, services: ServicesDep) -> Response:
    access = need(resolve(request, services, site_id), "admin")
    with read_only(services.engine) as conn:
        tokens = sites.list_tokens(conn, access.site)
    return _json([{"_id": t.id, "name": t.name, "roles": t.roles, "accessToken": None} for t in tokens])


@router.post("/ns/{site_id}/api/v2/authorization/subjects", include_in_schema=False)
async def create_subject(request: Request, site_id: str, services: ServicesDep) -> Response:
    """Nightscout's admin API: a new subject (an access token, the same tokens as the profile card's)."""
    access = need(resolve(request, services, site_id), "admin")
    body = await _body(request, services)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise NightscoutError(400, "Invalid subject: field name is required")
    roles = body.get("roles") or ["readable"]
    if not isinstance(roles, list) or any(r not in sites.ROLES for r in roles):
        raise NightscoutError(400, "Invalid subject: field roles holds an unknown role")
    with services.engine.begin() as conn:
        token_id, token = sites.create_token(
            conn, site_keys(services), access.site, body["name"].strip(), roles
        )
    return _json({"_id": token_id, "name": body["name"].strip(), "roles": roles, "accessToken": token}, 201)

"""Partner connections over HTTP: the OAuth browser legs, disconnection, data sources.

| method | path | who | success |
| --- | --- | --- | --- |
| GET | /v1/oauth/:slug/authorize | the user (``restricted_token``, or a session) | 307 to the partner |
| GET | /v1/oauth/:slug/redirect?code&state | the browser back from the partner | 303 to a result page |
| DELETE | /v1/oauth/:slug/authorize | the current user | 200 |
| DELETE | /v1/users/:userId/oauth/:slug/authorize | the user, a custodian, a server | 200 |
| GET | /v1/data_sources/:id | view | 200 data source |
| PUT | /v1/data_sources/:id | servers (the sync engine) | 200 data source |
| DELETE | /v1/data_sources/:id | the user, a custodian, a server | 200 |

The restricted token must allow ``GET /v1/oauth/<slug>/authorize``. The redirect leg ends on a
result page (``/oauth/<slug>/authorized``, ``/declined``, ``/error?reason=...``), which is a web page
(:mod:`inlet.web.oauth_pages`).

The flow is bound to the browser that started it (RFC 6749 section 10.12): the authorize leg sets the
``inlet_oauth`` cookie (HttpOnly, SameSite=Lax, path ``/v1/oauth/<slug>``, 15 minutes, Secure over
https) to an HMAC of the state's nonce, and the redirect leg refuses a state whose cookie is missing
or different, after spending it and before any code exchange. So a consent link started by someone
else and approved in a victim's browser connects nothing.
``GET /v1/users/:userId/data_sources`` is in ``inlet.data.routes``. Refusals of the redirect leg (a
tampered, replayed, expired or foreign state, a code the partner refuses) never store anything and
end on the error page, which says what happened in plain words.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Annotated, Any

from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from inlet.accounts.deps import AuthDep, require, require_account
from inlet.api.deps import JsonBody, ReadConn, ServicesDep
from inlet.api.errors import PlatformError, json_response, unauthorized
from inlet.db.engine import read_only
from inlet.model.timeutil import parse_rfc3339, to_micros
from inlet.partners.contract import Partner
from inlet.partners.registry import PartnerRegistry
from inlet.partners.service import DataSource, PartnerService, StateRefused
from inlet.partners.states import CONNECTED, DATA_SOURCE_STATES

if TYPE_CHECKING:
    from inlet.services import Services

router = APIRouter(tags=["partners"])
log = logging.getLogger("inlet.partners")

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
TIME_FIELDS = {
    "earliestDataTime": "earliest_data_time",
    "latestDataTime": "latest_data_time",
    "lastImportTime": "last_import_time",
}
BROWSER_COOKIE = "inlet_oauth"  # binds a flow to its browser; path /v1/oauth/<slug>


def partner_or_404(services: Services, slug: str, *, available: bool = True) -> Partner:
    """The partner ``slug`` (only if offered now, unless ``available`` is false), else a 404."""
    registry: PartnerRegistry = services.partners.registry
    partner = registry.available(slug) if available else registry.get(slug)
    if partner is None:
        raise PlatformError(
            404, "partner-not-found", "partner not found", f"no partner {slug!r} is offered by this server"
        )
    return partner


def _page(
    services: Services, slug: str, outcome: str, reason: str | None = None, *, spent: bool = True
) -> RedirectResponse:
    """303 to a result page. Once the state is spent, the flow's browser cookie goes with it; a refused
    state (forged, foreign) leaves it, so a stray link cannot break the browser's flow in progress."""
    url = f"{services.settings.public_base}/oauth/{slug}/{outcome}"
    if reason is not None:
        url += f"?reason={reason}"
    response = RedirectResponse(url, status_code=303, headers=NO_STORE)
    if spent:
        response.delete_cookie(BROWSER_COOKIE, path=f"/v1/oauth/{slug}", httponly=True, samesite="lax")
    return response


def _secure(request: Request, services: Services) -> bool:
    return str(services.settings.public_base).startswith("https://") or request.url.scheme == "https"


# ---- the browser legs -------------------------------------------------------------------------------


@router.get("/v1/oauth/{slug}/authorize", status_code=307, responses={307: {"description": "to the partner"}})
def authorize(
    request: Request,
    slug: str,
    caller: AuthDep,
    services: ServicesDep,
    restricted_token: Annotated[str | None, Query()] = None,
) -> Response:
    """Start connecting the caller's account to ``slug``: 307 to the partner's authorize URL with a
    signed, single-use ``state`` (and PKCE S256 where the partner asks). A restricted token whose
    paths include ``/v1/oauth/<slug>`` is all the browser needs."""
    partner = partner_or_404(services, slug)
    if caller.user_id is None:
        raise unauthorized()  # a server has no partner account to connect
    partners: PartnerService = services.partners
    redirect_uri = partner.redirect_uri(services.settings.public_base)
    with services.engine.begin() as conn:
        started = partners.start(
            conn, partner, caller.user_id, redirect_uri, restricted_token if caller.restricted else None
        )
    log.info("partner %s: authorization started for user %s", slug, caller.user_id)
    response = RedirectResponse(started.url, status_code=307, headers=NO_STORE)
    response.set_cookie(
        BROWSER_COOKIE,
        started.browser_binding,
        max_age=partners.state_ttl_seconds,
        path=f"/v1/oauth/{slug}",
        secure=_secure(request, services),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/v1/oauth/{slug}/redirect", status_code=303, responses={303: {"description": "to a result page"}}
)
def oauth_redirect(
    request: Request,
    slug: str,
    services: ServicesDep,
    code: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
    error_description: Annotated[str | None, Query()] = None,
) -> Response:
    """The redirect URI registered with the partner: spend the state, check that this browser started
    the flow (its ``inlet_oauth`` cookie), exchange the code, store the provider session, connect the
    data source and make its sync task due, all in one transaction."""
    partner = partner_or_404(services, slug, available=False)
    partners: PartnerService = services.partners
    try:
        with services.engine.begin() as conn:
            pending = partners.consume_state(conn, partner, state)
    except StateRefused as refused:
        log.warning("partner %s: redirect refused (%s)", slug, refused.reason)
        return _page(services, slug, "error", refused.reason, spent=False)
    # The state is spent (committed) either way: a flow finished in another browser is dead for good.
    if not partners.browser_matches(slug, state, request.cookies.get(BROWSER_COOKIE)):
        log.warning(
            "partner %s: redirect refused (browser-mismatch: not the browser that started it; user %s)",
            slug,
            pending.user_id,
        )
        return _page(services, slug, "error", "browser-mismatch", spent=False)  # not this browser's
    if error is not None:
        if error == "access_denied":
            log.info("partner %s: the person declined (user %s)", slug, pending.user_id)
            return _page(services, slug, "declined")
        log.warning("partner %s: the partner answered error %r", slug, error[:64])
        return _page(services, slug, "error", "partner-error")
    if not code:
        return _page(services, slug, "error", "code-missing")
    if not partner.configured:
        return _page(services, slug, "error", "partner-error")
    redirect_uri = partner.redirect_uri(services.settings.public_base)
    try:
        token = partners.exchange(partner, redirect_uri, code, pending.code_verifier)
    except OAuthError as failure:  # the partner answered with an OAuth error (invalid_grant, ...)
        log.warning("partner %s: code exchange refused (%s)", slug, str(failure.error)[:64])
        return _page(services, slug, "error", "exchange-failed")
    except Exception as failure:  # no answer, a 5xx, or not a token response
        log.warning("partner %s: code exchange failed (%s)", slug, type(failure).__name__)
        return _page(services, slug, "error", "partner-unreachable")
    external_id = partners.external_id(partner, token)
    try:
        with services.engine.begin() as conn:
            if services.accounts.get_user(conn, pending.user_id) is None:
                reason = "account-gone"
            else:
                reason = None
                source = partners.connect(
                    conn, partner, pending.user_id, token, external_id, pending.restricted_token_hash
                )
    except Exception as failure:
        log.error("partner %s: storing the connection failed (%s)", slug, type(failure).__name__)
        reason = "storage-failed"
    if reason is not None:
        partners.revoke(partner, token)
        return _page(services, slug, "error", reason)
    log.info("partner %s: connected user %s (data source %s)", slug, pending.user_id, source.id)
    return _page(services, slug, "authorized")


# ---- disconnect ----------------------------------------------------------------------------------------


def _disconnect(services: Services, partner: Partner, user_id: str) -> Response:
    services.partners.disconnect_and_revoke(services.engine, partner, user_id)
    return Response(status_code=200)


@router.delete("/v1/oauth/{slug}/authorize", status_code=200)
def disconnect_current_user(slug: str, caller: AuthDep, services: ServicesDep) -> Response:
    """Disconnect the caller's account from ``slug``: revoke at the partner where it can, delete the
    tokens, mark the data source disconnected, delete its sync task. 200 also when not connected."""
    partner = partner_or_404(services, slug, available=False)
    if caller.user_id is None:
        raise unauthorized()
    return _disconnect(services, partner, caller.user_id)


@router.delete("/v1/users/{userId}/oauth/{slug}/authorize", status_code=200)
def disconnect_user(
    request: Request, userId: str, slug: str, caller: AuthDep, services: ServicesDep
) -> Response:
    """Disconnect ``userId`` from ``slug`` (the user, a custodian, or a server)."""
    partner = partner_or_404(services, slug, available=False)
    with read_only(services.engine) as conn:
        require_account(request, conn, caller, userId, "root", "custodian")
    return _disconnect(services, partner, userId)


# ---- data sources ------------------------------------------------------------------------------------


def _source_not_found(source_id: str) -> PlatformError:
    return PlatformError(
        404, "resource-not-found", "resource not found", f'resource with id "{source_id}" not found'
    )


def _find_source(services: Services, conn: Connection, source_id: str) -> DataSource:
    partners: PartnerService = services.partners
    source = None if "\x00" in source_id else partners.get_source(conn, source_id)
    if source is None:
        raise _source_not_found(source_id)
    return source


@router.get("/v1/data_sources/{id}")
def get_data_source(
    request: Request, id: str, caller: AuthDep, services: ServicesDep, conn: ReadConn
) -> Response:
    """One data source (who may view its owner's data)."""
    source = _find_source(services, conn, id)
    require(request, conn, caller, source.user_id, "view")
    return json_response(source.public())


_DATA_SET_ID = re.compile(r"^[0-9a-zA-Z]{1,64}$")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _invalid(pointer: str, detail: str) -> PlatformError:
    return PlatformError(400, "value-not-valid", "value is not valid", detail, pointer=pointer)


def _source_changes(body: Any, source: DataSource) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PlatformError(
            400, "type-not-object", "type is not object", "the body must be a JSON object", pointer=""
        )
    changes: dict[str, Any] = {}
    for key, value in body.items():
        pointer = f"/{key}"
        if key == "state":
            if value not in DATA_SOURCE_STATES:
                raise _invalid(pointer, f"state must be one of {', '.join(DATA_SOURCE_STATES)}")
            if value == CONNECTED and source.provider_session_id is None:
                raise _invalid(pointer, "a data source without a provider session cannot be connected")
            changes["state"] = value
        elif key == "error":
            if value is not None and not isinstance(value, dict):
                raise _invalid(pointer, "error must be an object or null")
            if _has_nul(value):
                raise _invalid(pointer, "error contains a NUL character")
            changes["error"] = value
        elif key == "dataSetId":
            if value is not None and not (isinstance(value, str) and _DATA_SET_ID.fullmatch(value)):
                raise _invalid(pointer, "dataSetId must be a data set id or null")
            changes["data_set_id"] = value
        elif key in TIME_FIELDS:
            if value is None:
                changes[TIME_FIELDS[key]] = None
                continue
            parsed = parse_rfc3339(value) if isinstance(value, str) else None
            if parsed is None:
                raise _invalid(pointer, f"{key} must be an RFC 3339 time with a zone, or null")
            changes[TIME_FIELDS[key]] = to_micros(parsed)
        else:
            raise PlatformError(
                400, "not-parsed", "value is not parsed", f"{key} cannot be changed", pointer=pointer
            )
    return changes


@router.put(
    "/v1/data_sources/{id}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "state": {"type": "string", "enum": list(DATA_SOURCE_STATES)},
                            "error": {"type": ["object", "null"]},
                            "dataSetId": {"type": ["string", "null"]},
                            **{
                                name: {"type": ["string", "null"], "format": "date-time"}
                                for name in TIME_FIELDS
                            },
                        },
                        "additionalProperties": False,
                    }
                }
            },
        }
    },
)
def update_data_source(
    request: Request, id: str, body: JsonBody, caller: AuthDep, services: ServicesDep
) -> Response:
    """Update a data source's state, error, data set and times (servers: the sync engine).
    ``?revision=N`` makes the update conditional (409 when the data source has changed)."""
    with services.engine.begin() as conn:
        source = _find_source(services, conn, id)
        if not caller.is_service:
            raise unauthorized()
        revision = request.query_params.get("revision")
        if revision is not None and revision != str(source.revision):
            raise PlatformError(
                409,
                "resource-revision-mismatch",
                "resource revision mismatch",
                f"the data source is at revision {source.revision}",
            )
        updated = services.partners.update_source(conn, source, _source_changes(body, source))
    return json_response(updated.public())


@router.delete("/v1/data_sources/{id}", status_code=200)
def delete_data_source(request: Request, id: str, caller: AuthDep, services: ServicesDep) -> Response:
    """Delete a data source (its owner, a custodian, or a server): disconnected first, revoked at the
    partner where it can be; the data it brought stays."""
    partners: PartnerService = services.partners
    with services.engine.begin() as conn:
        source = _find_source(services, conn, id)
        require(request, conn, caller, source.user_id, "root", "custodian")
        token = partners.delete_source(conn, source)
    partner = services.partners.registry.get(source.provider_name)
    if token is not None and partner is not None:
        partners.revoke(partner, token)
    return Response(status_code=200)

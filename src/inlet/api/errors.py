"""Tidepool's two error formats and the exceptions that produce them.

- Platform envelope (``/v1/*``, ``/auth/*``, ``/access/*``, ``/metadata/*``)::

      {"errors": [{"code", "title", "detail", "status", "source": {"pointer"|"parameter"}, "meta"}],
       "meta": {"trace": {...}}}

  Inlet always answers with the envelope, even for a single error.
- Data read format (``GET /data/:userId``): ``{"status", "id", "code", "message"}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from inlet.model.errors import ModelError

JSON = "application/json; charset=utf-8"


class PlatformError(Exception):
    """An error answered in the platform envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = headers
        error: dict[str, Any] = {"code": code, "title": title, "detail": detail, "status": str(status)}
        if pointer is not None:
            error["source"] = {"pointer": pointer}
        elif parameter is not None:
            error["source"] = {"parameter": parameter}
        error["meta"] = {}
        self.errors = [error]


class DataReadError(Exception):
    """An error of ``GET /data/:userId``, in tide-whisperer's ``{status, id, code, message}`` form."""

    def __init__(self, status: int, code: str, message: str, id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"status": status, "id": id or code, "code": code, "message": message}


def unauthenticated() -> PlatformError:
    return PlatformError(
        401, "unauthenticated", "authentication token is invalid", "authentication token is invalid"
    )


def unauthorized() -> PlatformError:
    return PlatformError(
        403,
        "unauthorized",
        "authentication token is not authorized for requested action",
        "authentication token is not authorized for requested action",
    )


def not_found(code: str, what: str, ident: str) -> PlatformError:
    return PlatformError(404, code, f"{what} not found", f"{what} with id {ident!r} not found")


def json_malformed() -> PlatformError:
    return PlatformError(400, "json-malformed", "json is malformed", "json is malformed")


def body_too_large(limit: int) -> PlatformError:
    return PlatformError(
        413, "request-too-large", "request body is too large", f"request body is larger than {limit} bytes"
    )


def parameter_invalid(parameter: str, detail: str) -> PlatformError:
    error = PlatformError(400, "value-not-valid", "value is not valid", detail, parameter=parameter)
    return error


def envelope(errors: Sequence[dict[str, Any]], request: Request | None = None) -> dict[str, Any]:
    trace = {}
    if request is not None:
        for header in ("x-tidepool-trace-request", "x-tidepool-trace-session"):
            value = request.headers.get(header)
            if value:
                trace["request" if header.endswith("request") else "session"] = value
    return {"errors": list(errors), "meta": {"trace": trace}}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def model_errors(errors: Sequence[ModelError], status: int = 400) -> list[dict[str, Any]]:
    return [error.to_platform(status) for error in errors]


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into Tidepool's formats."""

    @app.exception_handler(PlatformError)
    async def platform_error(request: Request, exc: PlatformError) -> Response:
        return json_response(envelope(exc.errors, request), exc.status, exc.headers)

    @app.exception_handler(DataReadError)
    async def data_read_error(request: Request, exc: DataReadError) -> Response:
        return json_response(exc.body, exc.status)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for item in exc.errors():
            location = [str(part) for part in item.get("loc", ())]
            where, name = (location[0], location[-1]) if location else ("body", "")
            source = (
                {"parameter": name}
                if where in ("query", "path", "header")
                else {"pointer": "/" + "/".join(location[1:])}
            )
            errors.append(
                {
                    "code": "value-not-valid",
                    "title": "value is not valid",
                    "detail": str(item.get("msg", "value is not valid")),
                    "status": "400",
                    "source": source,
                    "meta": {},
                }
            )
        return json_response(envelope(errors, request), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated", 403: "unauthorized"}
        code = codes.get(exc.status_code, "request-failed")
        error = {
            "code": code,
            "title": str(exc.detail).lower(),
            "detail": str(exc.detail),
            "status": str(exc.status_code),
            "meta": {},
        }
        return json_response(envelope([error], request), exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.InterfaceError)
    async def database_unavailable(request: Request, exc: Exception) -> Response:
        """The database is unreachable (restarting, a lost connection): a clear 503 that the client
        may retry, logged by class only (a database error's text quotes its parameters). The pool
        reconnects on the next request: the server needs no restart."""
        import structlog

        structlog.get_logger("inlet.api").warning(
            "database unavailable", path=request.url.path, error=type(exc).__name__
        )
        if request.url.path.startswith("/data/"):
            body = DataReadError(503, "database-unavailable", "the database is unavailable; retry").body
            return json_response(body, 503, {"Retry-After": "5"})
        error = {
            "code": "database-unavailable",
            "title": "the database is unavailable",
            "detail": "the database is unavailable; retry shortly",
            "status": "503",
            "meta": {},
        }
        return json_response(envelope([error], request), 503, {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        import structlog

        structlog.get_logger("inlet.api").exception("unhandled error", path=request.url.path)
        error = {
            "code": "internal-server-failure",
            "title": "internal server failure",
            "detail": "internal server failure",
            "status": "500",
            "meta": {},
        }
        return json_response(envelope([error], request), 500)

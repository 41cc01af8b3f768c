"""Request bodies: a size limit answered with 413 (uploaders halve their batch on it) and JSON parsing
that answers ``json-malformed``."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inlet.api.errors import body_too_large, envelope, json_malformed


class BodyLimit:
    """ASGI middleware refusing bodies over ``limit`` bytes, by Content-Length or as they stream."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.limit
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(send)
                    return
        received = 0
        limit = self.limit

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(envelope(body_too_large(self.limit).errors))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


async def read_json(request: Request) -> Any:
    """The request body as JSON; ``json-malformed`` (400) when it is not JSON."""
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise json_malformed() from error


def openapi_json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """A route's ``openapi_extra`` describing its JSON body. Handlers read bodies themselves (to answer
    in Tidepool's error format), so FastAPI cannot infer the schema; the OpenAPI document, and the
    schemathesis fuzzing driven by it, learn the body from here."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}

"""FastAPI dependencies shared by every domain: the services and database connections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection

from inlet.api.body import read_json
from inlet.db.engine import read_only

if TYPE_CHECKING:
    from inlet.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated["Services", Depends(get_services)]


def write_connection(request: Request) -> Iterator[Connection]:
    """One transaction per request: committed when the handler returns, rolled back if it raises;
    the emails it recorded are delivered after the commit (the transactional outbox)."""
    services = get_services(request)
    with services.notifier.transaction(services.engine) as conn:
        yield conn


def read_connection(request: Request) -> Iterator[Connection]:
    with read_only(get_services(request).engine) as conn:
        yield conn


# scope="function": the transaction ends (commits or rolls back) before the response is sent. With
# FastAPI's default ("request") a client could get its 2xx before the commit, and read its own write
# too early on the next request, or never have it stored if the commit failed.
WriteConn = Annotated[Connection, Depends(write_connection, scope="function")]
ReadConn = Annotated[Connection, Depends(read_connection, scope="function")]


async def json_body(request: Request) -> Any:
    return await read_json(request)


JsonBody = Annotated[Any, Depends(json_body)]

"""Request bodies, decoded strictly (engine/json_body.py) as the `payload` dependency.

Litestar's own `data` decoding converts leniently (`0` for a boolean, `"5"` for an integer),
which would accept bodies the schema forbids. Routes therefore take `payload`, decoded from
the bytes the `before_request` guard already read and checked (auth, size, depth; limits.py),
and declare the struct for `/schema` with `request_body`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.di import Provide

from engine import decode_body
from virtual_server.errors import bad_request

T = TypeVar("T")


def request_body(type_: type[Any]) -> dict[str, Provide]:
    """A dependency no handler asks for whose `data` parameter is `type_`: Litestar documents
    it as the route's JSON request body and never resolves it."""

    def declared(data: Any) -> None:  # pragma: no cover - never called
        raise AssertionError("documentation-only dependency")

    declared.__annotations__ = {"data": type_, "return": None}
    return {"request_body": Provide(declared, sync_to_thread=False)}


def body_of(type_: type[T]) -> dict[str, Provide]:
    """Route dependencies: `payload`, the request's JSON as `type_`, and its declaration
    (`data` and `body` are Litestar's own names for the request body)."""

    async def payload(request: Request[Any, Any, Any]) -> Any:
        raw = await request.body()
        try:
            return decode_body(raw, type_)
        except msgspec.ValidationError as exc:
            raise bad_request("Invalid request body", errors=[str(exc)]) from None
        except msgspec.DecodeError as exc:
            raise bad_request("Malformed JSON body", errors=[str(exc)]) from None

    return {"payload": Provide(payload), **request_body(type_)}

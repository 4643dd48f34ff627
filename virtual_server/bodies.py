"""Request bodies, decoded strictly (engine/json_body.py) as the `payload` dependency.

Litestar's own `data` decoding converts leniently (`0` for a boolean, `"5"` for an integer),
which would accept bodies the schema forbids. Routes therefore take `payload`, decoded from
the bytes the `before_request` guard already read and checked (auth, size, depth; limits.py),
or taken as the guard decoded it (the JSON routes of jobs.py), and declare the struct for
`/schema` with `request_body`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.di import NamedDependency, Provide

from engine import decode_body
from virtual_server.errors import bad_request
from virtual_server.jobs import JOB_PATHS
from virtual_server.runtime import runtime

T = TypeVar("T")

#: the `payload` of a route an engine process may answer: its struct (decoded strictly here) or
#: a `RawBody`; `Any` so that Litestar does not validate a `RawBody` against the struct
Payload = NamedDependency[Any]


class RawBody:
    """The undecoded body of a request that an engine process answers (jobs.py): decoding it
    here would cost the event loop's process the very CPU the processes are there to take."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


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
        if request.url.path in JOB_PATHS:
            if runtime(request).procs is not None:
                return RawBody(raw)
            decoded = getattr(request.state, "decoded", None)
            if decoded is not None:  # the guard's strict decode (limits.py)
                return decoded
        try:
            return decode_body(raw, type_)
        except msgspec.ValidationError as exc:
            raise bad_request("Invalid request body", errors=[str(exc)]) from None
        except msgspec.DecodeError as exc:
            raise bad_request("Malformed JSON body", errors=[str(exc)]) from None

    return {"payload": Provide(payload), **request_body(type_)}

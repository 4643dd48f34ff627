"""Request bodies: size limit on the streamed bytes, depth scan, then msgspec decoding.

Handlers read bodies through `read_body` instead of framework parsing so that the limits of
WIRE-3/WIRE-4 apply before any parser sees the bytes, and every decoding failure is a 400
`bad_request` with msgspec's message and path (hostile input never crashes the process, WIRE-8).
The scan and the decoding of a body of an engine route (admitted before its body was read,
engine/admission.py) run on the engine pool's threads, off the event loop (issue 15).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request

from engine import decode_body, depth_within
from production_server.errors import ApiError, bad_request

T = TypeVar("T")


async def read_bytes(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The raw body, refusing it as soon as the streamed bytes pass `limit` (413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", "Request body too large", {"limit": limit})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", "Request body too large", {"limit": limit})
        chunks.append(chunk)
    return b"".join(chunks)


INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_LONG_NUMBER = re.compile(rb"\d{19,}")


def unstorable(value: Any, path: str = "$") -> tuple[str, str] | None:
    """(path, reason) of the first part MongoDB cannot store — an object key with a NUL
    character, an integer beyond 64 bits — or None. Such a body would fail a write half-way
    (openapi_values.py states the rule in the schema)."""
    if isinstance(value, int) and not isinstance(value, bool) \
            and not INT64_MIN <= value <= INT64_MAX:
        return path, "Integers must fit in 64 bits"
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return path, "Object keys must not contain NUL characters"
            found = unstorable(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def check_storable(raw: bytes, decoded: Any) -> None:
    """400 for a decoded body MongoDB could not store (fields the struct does not know were
    dropped and are not looked at). Only a body with an escaped NUL or a number of 19+ digits
    can be one, so any other body is not walked at all."""
    if b"\\u0000" not in raw and _LONG_NUMBER.search(raw) is None:
        return
    found = unstorable(msgspec.to_builtins(decoded))
    if found is not None:
        raise bad_request(found[1], path=found[0])


def decode(raw: bytes, type_: type[T], max_depth: int) -> T:
    """Depth, strict typed decoding (engine/json_body.py), then storability."""
    if not depth_within(raw, max_depth):
        raise bad_request("Request body nested too deeply", max_depth=max_depth)
    try:
        decoded = decode_body(raw, type_)
    except msgspec.ValidationError as exc:
        raise bad_request("Invalid request body", errors=[str(exc)]) from None
    except msgspec.DecodeError as exc:
        raise bad_request("Malformed JSON body", errors=[str(exc)]) from None
    except RecursionError:
        raise bad_request("Request body nested too deeply", max_depth=max_depth) from None
    check_storable(raw, decoded)
    return decoded


def pool_of(request: Request[Any, Any, Any]) -> Any:
    return request.app.state["services"].pool


async def read_body(request: Request[Any, Any, Any], type_: type[T], limit: int, max_depth: int,
                    *, optional: bool = False) -> T:
    """Read, check and decode a body; `optional` lets an empty body mean `{}`."""
    raw = await read_bytes(request, limit)
    if optional and not raw.strip():
        raw = b"{}"
    decoded: T = await pool_of(request).off_loop(decode, raw, type_, max_depth)
    return decoded

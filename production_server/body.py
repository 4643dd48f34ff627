"""Request bodies: size limit on the streamed bytes, depth scan, then msgspec decoding.

Handlers read bodies through `read_body` instead of framework parsing so that the limits of
WIRE-3/WIRE-4 apply before any parser sees the bytes, and every decoding failure is a 400
`bad_request` with msgspec's message and path (hostile input never crashes the process, WIRE-8).
The scan and the decoding of a body of an engine route (admitted before its body was read,
engine/admission.py) run on the engine pool's threads, off the event loop (issue 15).
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, TypeVar

import msgspec
from litestar import Request

from production_server.errors import ApiError, bad_request

T = TypeVar("T")

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def json_depth_of(raw: bytes) -> int:
    """Nesting depth of JSON text without parsing it (string contents are ignored)."""
    brackets = _STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(b - 1 for b in brackets.translate(_STEP)))


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


def decode(raw: bytes, type_: type[T], max_depth: int) -> T:
    if json_depth_of(raw) > max_depth:
        raise bad_request("Request body nested too deeply", max_depth=max_depth)
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise bad_request("Invalid request body", errors=[str(exc)]) from None
    except msgspec.DecodeError as exc:
        raise bad_request("Malformed JSON body", errors=[str(exc)]) from None
    except RecursionError:
        raise bad_request("Request body nested too deeply", max_depth=max_depth) from None


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

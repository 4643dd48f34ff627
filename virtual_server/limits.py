"""Request limits applied before any JSON parser sees a body (WIRE-3, WIRE-4, VS-3).

Every POST has taken its engine-pool slot before this runs (engine/admission.py: a full pool is
a 503 without the body being read). The app-wide `before_request` hook runs ahead of Litestar's
body decoding, so the order of VS-3 holds: authenticate → size limit on the streamed bytes
(Litestar's `request_max_body_size`, 413 `payload_too_large`) → iterative nesting-depth scan
(400) → msgspec decoding (400 `bad_request` with `details.errors`, mapped in errors.py). The
scan and the JSON parse of a body run on the engine pool's threads, not on the event loop
(issue 15); Litestar takes the parsed body from its connection cache and only converts it.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, Awaitable, Callable

import msgspec
from litestar import Request
from litestar.utils.scope.state import ScopeState

from virtual_server.auth import authenticate
from virtual_server.errors import bad_request
from virtual_server.runtime import runtime
from virtual_server.settings import VirtualSettings

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")

OPEN_PATHS = ("/health", "/schema")


def json_depth(raw: bytes) -> int:
    """Nesting depth of JSON text without parsing or recursing (string contents ignored)."""
    brackets = _STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(b - 1 for b in brackets.translate(_STEP)))


def check_depth(raw: bytes, max_depth: int) -> None:
    if json_depth(raw) > max_depth:
        raise bad_request("Request body nested too deeply", max_depth=max_depth)


def parse_body(raw: bytes, max_depth: int) -> Any:
    """Depth scan then parse, in a pool thread; malformed JSON is left to Litestar's own
    decoding (which reports it as the usual 400)."""
    check_depth(raw, max_depth)
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return _UNPARSED


_UNPARSED = object()


def is_open_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPEN_PATHS)


def request_guard(settings: VirtualSettings) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """The `before_request` hook: auth, then the body limits, for every route but the open ones."""

    async def guard(request: Request[Any, Any, Any]) -> None:
        # OPTIONS (a CORS preflight never carries credentials) and the open paths pass freely
        if request.method == "OPTIONS" or is_open_path(request.url.path):
            return None
        await authenticate(request, settings.jwt_secret, settings.auth_required,
                           runtime(request).users)
        if request.method == "POST":
            body = await request.body()  # enforces request_max_body_size on the streamed bytes
            if body:
                parsed = await runtime(request).pool.off_loop(parse_body, body,
                                                              settings.max_json_depth)
                if parsed is not _UNPARSED:
                    ScopeState.from_scope(request.scope).json = parsed
        return None

    return guard

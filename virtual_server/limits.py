"""Request limits applied before any JSON parser sees a body (WIRE-3, WIRE-4, VS-3).

Every POST has taken its engine-pool slot before this runs (engine/admission.py: a full pool is
a 503 without the body being read). The app-wide `before_request` hook runs ahead of Litestar's
body decoding, so the order of VS-3 holds: authenticate → size limit on the streamed bytes
(Litestar's `request_max_body_size`, 413 `payload_too_large`) → iterative nesting-depth scan
(400) → msgspec decoding (400 `bad_request` with `details.errors`, mapped in errors.py). The
scan and the JSON parse of a body run on the engine pool's threads, not on the event loop
(issue 15). The JSON routes' bodies (jobs.py) are decoded strictly into their structs once,
here, and handed to the `payload` dependency (bodies.py): there msgspec's recursion-guarded
decoder goes first and the depth of text it accepted is measured without the string regex,
with the same errors as scan-then-decode (`decode_request`). The other routes' bodies are
scanned, parsed, and taken by Litestar from its connection cache.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import msgspec
from litestar import Request
from litestar.utils.scope.state import ScopeState

from engine import depth_within
from virtual_server.auth import authenticate
from virtual_server.errors import bad_request
from virtual_server.gcpause import without_gc
from virtual_server.jobs import JOB_PATHS, JOBS, decode_request
from virtual_server.runtime import runtime
from virtual_server.settings import VirtualSettings

OPEN_PATHS = ("/health", "/schema")


def check_depth(raw: bytes, max_depth: int) -> None:
    if not depth_within(raw, max_depth):
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
        rt = runtime(request)
        request.state.user_id = await authenticate(request, settings.jwt_secret,
                                                   settings.auth_required, rt.users)
        if request.method == "POST":
            body = await request.body()  # enforces request_max_body_size on the streamed bytes
            name = JOB_PATHS.get(request.url.path)
            if name is not None:
                if rt.procs is None:  # one strict decode, off the loop; `payload` takes it
                    request.state.decoded = await rt.pool.off_loop(
                        without_gc(decode_request), body, JOBS[name][0], settings.max_json_depth)
                return None  # else an engine process checks and decodes it (jobs.py)
            if body:
                parsed = await rt.pool.off_loop(parse_body, body,
                                                              settings.max_json_depth)
                if parsed is not _UNPARSED:
                    ScopeState.from_scope(request.scope).json = parsed
        return None

    return guard

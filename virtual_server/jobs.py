"""A virtual JSON route as a pure function: (route, raw body, rev3) → (status, headers, body).

The virtual server keeps no state between requests, so the plain JSON routes (start, respond,
resume/confirm and the four reads) need nothing but the body's bytes, whether the client wants
the Rev 3 shape, and a cancel token. `run_job` does what the thread mode does across the
`before_request` guard, the `payload` dependency, the route and the exception handlers (depth
check and strict decode → engine operation → encoding, errors rendered as errors.py renders them),
so a worker process can answer a request byte for byte as the thread mode would (issue 15).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import msgspec

from engine import (
    CancelToken,
    EngineError,
    VirtualEventsRequest,
    VirtualGenerationsRequest,
    VirtualReadRequest,
    VirtualRespondRequest,
    VirtualResumeConfirmRequest,
    VirtualStartRequest,
    decode_body,
    depth_within,
    unless_abandoned,
)
from virtual_server.errors import ApiError, api_error_parts, bad_request
from virtual_server.gcpause import gc_paused
from virtual_server.service import VirtualService
from virtual_server.shapes import encoded

log = logging.getLogger("virtual_server")

Answer = tuple[int, dict[str, str], bytes]
Call = Callable[[VirtualService, Any, bool, CancelToken], bytes]


def _start(svc: VirtualService, req: Any, rev3: bool, cancel: CancelToken) -> bytes:
    return encoded(svc.start, rev3)(req, None, not rev3, cancel=cancel)


def _respond(svc: VirtualService, req: Any, rev3: bool, cancel: CancelToken) -> bytes:
    return encoded(svc.respond, rev3)(req, None, not rev3, cancel=cancel)


def _read(view: str) -> Call:
    def call(svc: VirtualService, req: Any, rev3: bool, cancel: CancelToken) -> bytes:
        return encoded(svc.read)(req, view)
    return call


#: route name → (request struct, operation); the names are the routes' paths under /workflow/
JOBS: dict[str, tuple[type[Any], Call]] = {
    "start": (VirtualStartRequest, _start),
    "respond": (VirtualRespondRequest, _respond),
    "resume/confirm": (VirtualResumeConfirmRequest, _start),
    "state": (VirtualReadRequest, _read("state")),
    "interaction-history": (VirtualReadRequest, _read("history")),
    "generations": (VirtualGenerationsRequest, _read("generations")),
    "events": (VirtualEventsRequest, _read("events")),
}

#: the request paths answered by `run_job` when the server runs worker processes
JOB_PATHS = {"/workflow/" + name: name for name in JOBS}


def decode_request(raw: bytes, type_: type[Any], max_depth: int) -> Any:
    """The guard's depth check and the `payload` dependency's strict decoding (bodies.py), with
    the errors of VS-3's order (a too-deep body is refused as such, whatever else is wrong).

    The body is decoded first: text msgspec accepted is valid JSON, whose depth is measured
    without the string regex (the costliest step of a small request); a body it refuses is
    scanned as before, so its error is the depth one whenever the body is too deep. msgspec
    itself stops a body deeper than the interpreter's recursion limit, so no deep body costs
    more than its size."""
    try:
        req = decode_body(raw, type_)
    except msgspec.ValidationError as exc:
        _check_depth(raw, max_depth, parsed=False)
        raise bad_request("Invalid request body", errors=[str(exc)]) from None
    except msgspec.DecodeError as exc:
        _check_depth(raw, max_depth, parsed=False)
        raise bad_request("Malformed JSON body", errors=[str(exc)]) from None
    except RecursionError:
        _check_depth(raw, max_depth, parsed=False)
        raise
    _check_depth(raw, max_depth, parsed=True)
    return req


def _check_depth(raw: bytes, max_depth: int, *, parsed: bool) -> None:
    if raw and not depth_within(raw, max_depth, parsed=parsed):
        raise bad_request("Request body nested too deeply", max_depth=max_depth)


def run_job(svc: VirtualService, name: str, raw: bytes, rev3: bool,
            cancel: CancelToken) -> Answer:
    """Answer one request; never raises (an unexpected error is the usual 500)."""
    try:
        type_, call = JOBS[name]
        with gc_paused():  # the decoded body's objects are young garbage, not cycles
            req = decode_request(raw, type_, svc.settings.max_json_depth)
            # a job whose client left while it was queued is not started
            return 200, {}, unless_abandoned(call, cancel)(svc, req, rev3, cancel)
    except ApiError as exc:
        return api_error_parts(exc, rev3)
    except EngineError as exc:
        return api_error_parts(ApiError.from_engine(exc), rev3)
    except RecursionError:
        return api_error_parts(bad_request("Request body nested too deeply"), rev3)
    except Exception:
        log.exception("unhandled error on POST /workflow/%s", name)
        return api_error_parts(ApiError(500, "internal_error", "Internal server error"), rev3)

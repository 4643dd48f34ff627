"""The two shapes of a virtual `WorkflowResponse` (issue 9 item 1).

By default a response is a `VirtualWorkflowResponse`: `virtual_run_id`, `virtual_db` and `state`
at the top level, where the reference editor reads them after every call, and a `result`
without the blob (the editor shows `result` to the user). A client written against wire-api.md
Rev 3 sends `X-Virtual-Db-In: result` and gets the plain `WorkflowResponse` with the blob in
`result.virtual_db`. Execution and request errors follow the same rule. Either way the blob is
the same string, so a call that changes nothing still returns the input blob byte for byte.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from litestar import Request

from engine.wire import VirtualWorkflowResponse, WorkflowResponse

BLOB_HEADER = "X-Virtual-Db-In"
_BASE_FIELDS = WorkflowResponse.__struct_fields__


def wants_rev3(request: Request[Any, Any, Any]) -> bool:
    """True when the client asks for the blob in `result` (`X-Virtual-Db-In: result`)."""
    return request.headers.get(BLOB_HEADER, "").strip().lower() == "result"


def editor_response(response: WorkflowResponse, blob: str | None,
                    state: dict[str, Any] | None) -> VirtualWorkflowResponse:
    fields = {name: getattr(response, name) for name in _BASE_FIELDS}
    return VirtualWorkflowResponse(**fields, virtual_run_id=response.workflow_run_id,
                                   virtual_db=blob, state=state)


def rev3_response(response: VirtualWorkflowResponse) -> WorkflowResponse:
    fields = {name: getattr(response, name) for name in _BASE_FIELDS}
    fields["result"] = {**(response.result or {}), "virtual_db": response.virtual_db}
    return WorkflowResponse(**fields)


def shaped(response: VirtualWorkflowResponse, rev3: bool) -> WorkflowResponse:
    return rev3_response(response) if rev3 else response


def encoded(fn: Callable[..., Any], rev3: bool | None = None) -> Callable[..., bytes]:
    """`fn` whose result is shaped (when `rev3` is given) and JSON-encoded where it runs: in the
    engine pool, so a response carrying a big blob is not encoded on the event loop."""
    def call(*args: Any, **kwargs: Any) -> bytes:
        result = fn(*args, **kwargs)
        return msgspec.json.encode(shaped(result, rev3) if rev3 is not None else result)
    return call


__all__ = ["BLOB_HEADER", "editor_response", "encoded", "rev3_response", "shaped", "wants_rev3"]

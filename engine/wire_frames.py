"""The `data` of every SSE frame (wire-api.md §4), as msgspec structs.

The run stream's terminal frames `interaction`, `complete`, `error` and `validation_failed` carry
a `WorkflowResponse` (engine/wire.py); everything else a stream can send is described here, so
clients decode frames with the same structs the servers encode them from. Decoding ignores
fields a struct does not name: a server may widen a frame for another client (the web UI reads
interaction fields at the top level) without breaking these.
"""

from __future__ import annotations

from typing import Any

import msgspec

RUN_TERMINAL_EVENTS = frozenset({"interaction", "complete", "error", "validation_failed",
                                 "cancelled"})
SUB_ACTION_TERMINAL_EVENTS = frozenset({"complete", "error", "cancelled"})
CANCEL_REASONS = ("user_cancelled", "client_disconnected", "server_shutdown")


class StartedFrame(msgspec.Struct, kw_only=True):
    """`started`: a run stream began executing at this position."""

    workflow_run_id: str
    step_id: str | None = None
    module_name: str | None = None
    module_index: int = 0


class ProgressFrame(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`progress` of a run or a sub-action (`task_id` on production media jobs)."""

    workflow_run_id: str
    elapsed_ms: int = 0
    message: str = ""
    step_id: str | None = None
    module_name: str | None = None
    execution_id: str | None = None
    status: str | None = None
    progress: dict[str, Any] | None = None
    task_id: str | None = None


class CancelledFrame(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`cancelled`: the terminal frame of a cancelled run or sub-action (never an `error`)."""

    workflow_run_id: str
    reason: str = "user_cancelled"
    execution_id: str | None = None


class SubActionComplete(msgspec.Struct, kw_only=True):
    """A sub-action's terminal `complete`; the virtual server adds the new blob and state."""

    workflow_run_id: str
    execution_id: str | None = None
    sub_action_id: str
    interaction_id: str
    updated_state: dict[str, Any] = {}
    sub_action_result: Any = None
    applied: bool = False
    interaction_refreshed: bool = False
    virtual_db: str | None = None
    state: dict[str, Any] | None = None


class SubActionError(msgspec.Struct, kw_only=True):
    """A sub-action's terminal `error`; the virtual server adds the blob (with the failure)."""

    workflow_run_id: str
    execution_id: str | None = None
    message: str = ""
    error_type: str = "execution_failed"
    details: dict[str, Any] = {}
    virtual_db: str | None = None


__all__ = ["CANCEL_REASONS", "CancelledFrame", "ProgressFrame", "RUN_TERMINAL_EVENTS",
           "SUB_ACTION_TERMINAL_EVENTS", "StartedFrame", "SubActionComplete", "SubActionError"]

"""The stream payloads are built once (engine/sse_frames.py) and read with the frame structs of
engine/wire_frames.py: every payload a server builds decodes into its struct."""

from __future__ import annotations

import msgspec

from engine import (
    CancelledFrame,
    ProgressEvent,
    ProgressFrame,
    SubActionComplete,
    SubActionError,
    SubActionEvent,
    SubActionOutcome,
    cancelled_frame,
    run_progress,
    sse_frame,
    sub_action_error_frame,
    sub_action_frame,
    sub_action_progress,
)


def _outcome(status: str, **fields: object) -> SubActionOutcome:
    return SubActionOutcome(workflow_run_id="wf_1", execution_id="gen_ab12", sub_action_id="gen",
                            interaction_id="select_1", status=status, **fields)  # type: ignore[arg-type]


def _decode(data: dict[str, object], type_: type) -> object:
    return msgspec.json.decode(msgspec.json.encode(data), type=type_)


def test_progress_payloads_decode_and_drop_empty_fields() -> None:
    run = run_progress("wf_1", ProgressEvent(kind="module_started", step_id="s1",
                                             module_name="m1", message="Running m1",
                                             elapsed_ms=12))
    assert run == {"workflow_run_id": "wf_1", "elapsed_ms": 12, "message": "Running m1",
                   "step_id": "s1", "module_name": "m1"}
    sub = sub_action_progress("wf_1", SubActionEvent(execution_id="", message="Waiting",
                                                     elapsed_ms=3))
    assert sub == {"workflow_run_id": "wf_1", "elapsed_ms": 3, "message": "Waiting"}
    assert _decode(run, ProgressFrame) == ProgressFrame(workflow_run_id="wf_1", elapsed_ms=12,
                                                       message="Running m1", step_id="s1",
                                                       module_name="m1")


def test_sub_action_terminals_decode_into_their_structs() -> None:
    event, data = sub_action_frame("wf_1", _outcome("completed", applied=True,
                                                    updated_state={"k": 1}), None)
    assert event == "complete"
    done = _decode(data, SubActionComplete)
    assert isinstance(done, SubActionComplete) and done.applied and done.updated_state == {"k": 1}
    event, data = sub_action_frame("wf_1", _outcome("error", error_type="execution_failed",
                                                    message="boom"), None)
    assert event == "error" and _decode(data, SubActionError) == SubActionError(
        workflow_run_id="wf_1", execution_id="gen_ab12", message="boom",
        error_type="execution_failed", details={})
    event, data = sub_action_frame("wf_1", _outcome("cancelled"), "client_disconnected")
    assert (event, data) == ("cancelled", {"workflow_run_id": "wf_1",
                                           "reason": "client_disconnected",
                                           "execution_id": "gen_ab12"})
    assert _decode(cancelled_frame("wf_1", None)[1], CancelledFrame) == \
        CancelledFrame(workflow_run_id="wf_1", reason="user_cancelled")
    assert sub_action_error_frame("wf_1", "not_found", "gone", {})[1]["execution_id"] is None


def test_framing() -> None:
    assert sse_frame("progress", {"a": 1}, 7) == b'id: 7\nevent: progress\ndata: {"a":1}\n\n'

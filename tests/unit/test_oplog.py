"""Issue 11: one log line per engine operation (run id, operation, outcome, error type,
duration), execution errors at WARNING, and the JSON log format."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from engine.errors import NotFound
from engine.logsetup import JsonFormatter, configure_logging
from engine.processor import StartCommand
from tests.conftest import make_engine

USER = "usr_1"


def _workflow(module_id: str) -> dict[str, Any]:
    return {"workflow_id": "w", "steps": [{"step_id": "s", "modules": [
        {"module_id": "user.text_input", "name": "ask", "inputs": {"prompt": "?"}},
        {"module_id": module_id, "name": "next", "inputs": {}}]}]}


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "wfe.engine"]


def test_one_line_per_operation_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    eng = make_engine()
    with caplog.at_level(logging.INFO, logger="wfe.engine"):
        response = eng.start(StartCommand(user_id=USER, project_name="p",
                                          workflow=_workflow("no.such_module"), mock=True))
    (line,) = _lines(caplog)  # the start's inner continue_run is not a second line
    fields = line.wfe  # type: ignore[attr-defined]
    assert fields["operation"] == "start" and fields["outcome"] == "awaiting_input"
    assert fields["run_id"] == response.workflow_run_id and fields["mode"] == "production"
    assert fields["error_type"] is None and fields["duration_ms"] >= 0
    assert line.levelno == logging.INFO
    assert f"op=start run={response.workflow_run_id} outcome=awaiting_input" in line.getMessage()


def test_an_execution_error_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from engine.wire import InteractionResponseData

    eng = make_engine()
    first = eng.start(StartCommand(user_id=USER, project_name="p",
                                   workflow=_workflow("no.such_module"), mock=True))
    assert first.interaction_request is not None
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="wfe.engine"):
        failed = eng.respond(USER, first.workflow_run_id, first.interaction_request.interaction_id,
                             InteractionResponseData(value="x"))
    assert failed.status == "error"
    (line,) = _lines(caplog)
    assert line.levelno == logging.WARNING
    assert line.wfe["outcome"] == "error"  # type: ignore[attr-defined]
    assert line.wfe["error_type"] == "module_not_registered"  # type: ignore[attr-defined]
    assert line.wfe["run_id"] == first.workflow_run_id  # type: ignore[attr-defined]


def test_request_errors_and_crashes(caplog: pytest.LogCaptureFixture,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    eng = make_engine()
    with caplog.at_level(logging.INFO, logger="wfe.engine"):
        with pytest.raises(NotFound):
            eng.get_status(USER, "wf_missing")
    (line,) = _lines(caplog)
    assert (line.levelno, line.wfe["outcome"], line.wfe["error_type"], line.wfe["run_id"]) == (  # type: ignore[attr-defined]
        logging.INFO, "refused", "not_found", "wf_missing")
    caplog.clear()

    def broken(*_args: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(eng.store, "get_run", broken)
    with caplog.at_level(logging.INFO, logger="wfe.engine"):
        with pytest.raises(KeyError):
            eng.get_state_view(USER, "wf_x")
    (line,) = _lines(caplog)
    assert line.levelno == logging.ERROR and line.wfe["outcome"] == "failed"  # type: ignore[attr-defined]
    assert line.wfe["error_type"] == "KeyError"  # type: ignore[attr-defined]


def test_json_format_carries_the_fields() -> None:
    record = logging.LogRecord("wfe.engine", logging.WARNING, __file__, 1, "op=%s", ("start",),
                               None)
    record.wfe = {"operation": "start", "run_id": "wf_1", "outcome": "error",  # type: ignore[attr-defined]
                  "error_type": "execution_failed", "duration_ms": 1.5, "mode": "production"}
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["message"] == "op=start"
    assert line["outcome"] == "error" and line["run_id"] == "wf_1" and line["ts"].endswith("+00:00")


def test_configure_logging_replaces_the_root_handlers() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("json")
        configure_logging("json")
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])

"""A virtual respond locates the blob's run once (issue 12): the service locates it and hands
the id down; the engine never locates it again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

import engine.virtual
from engine.clock import FixedClock
from engine.ids import SequentialIds
from engine.wire import VirtualRespondRequest, VirtualStartRequest
from tests.conftest import T0, mock_only_providers
from virtual_server.service import VirtualService
from virtual_server.settings import load_settings

OVERLAY = {"target_step_id": "text_overlays", "target_module_name": "select_text_overlay"}


def test_a_virtual_respond_locates_its_run_once(cuddle_workflow: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    svc = VirtualService(load_settings({}, auth_required=False),
                         clock=FixedClock(T0, tick=timedelta(milliseconds=1)),
                         ids=SequentialIds(), providers=mock_only_providers())
    start = svc.start(msgspec.convert({"workflow": cuddle_workflow, "mock": True,
                                       "auto_respond": True, **OVERLAY}, VirtualStartRequest))
    assert start.interaction_request is not None
    calls: list[str | None] = []
    real = engine.virtual.locate_virtual_run

    def counting(ctx: Any, workflow: Any, run_id: str | None) -> str:
        calls.append(run_id)
        return real(ctx, workflow, run_id)

    monkeypatch.setattr(engine.virtual, "locate_virtual_run", counting)
    req = msgspec.convert({"workflow": cuddle_workflow, "virtual_db": start.virtual_db,
                           "mock": True, "interaction_id":
                               start.interaction_request.interaction_id,
                           "response": {"retry_requested": True, "retry_feedback": "again"},
                           **OVERLAY}, VirtualRespondRequest)
    answer = svc.respond(req)
    assert answer.interaction_request is not None  # the retry re-ran the step and asks again
    assert len(calls) == 1

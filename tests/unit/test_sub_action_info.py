"""`WorkflowEngine.check_sub_action` tells a server what a sub-action is (engine.md §13):
the production server sends self sub-actions of the media modules to its job queue."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from engine.errors import InteractionNotFound, ModuleNotFound
from engine.processor import StartCommand
from engine.sub_actions import SubActionInfo
from production_server.jobs import is_media_sub_action
from tests.fakes_engine import PROBES, probe_engine, probe_workflow


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _workflow() -> dict[str, Any]:
    wf = probe_workflow()
    pick = wf["steps"][0]["modules"][1]
    pick["module_id"] = "test.select"
    pick["sub_actions"].append({"id": "self_gen", "label": "Self",
                                "actions": [{"type": "self_sub_action", "params": {}}]})
    return wf


def test_check_sub_action_reports_kind_and_module_without_writing() -> None:
    eng = probe_engine()
    r = eng.start(StartCommand(user_id="u", project_name="p", workflow=_workflow(), mock=True))
    run_id, iid = r.workflow_run_id, r.interaction_request.interaction_id
    before = len(eng.list_events("u", run_id).events)
    assert eng.check_sub_action("u", run_id, iid, "self_gen") == \
        SubActionInfo(kind="self", module_id="test.select")
    assert eng.check_sub_action("u", run_id, iid, "more") == \
        SubActionInfo(kind="target", module_id="test.select")
    with pytest.raises(ModuleNotFound):
        eng.check_sub_action("u", run_id, iid, "nope")
    with pytest.raises(InteractionNotFound):
        eng.check_sub_action("u", run_id, "int_unknown", "self_gen")
    assert len(eng.list_events("u", run_id).events) == before


def test_only_media_self_sub_actions_are_jobs() -> None:
    assert is_media_sub_action("self", "media.generateV2")
    assert is_media_sub_action("self", "media.generate")
    assert not is_media_sub_action("target", "media.generateV2")
    assert not is_media_sub_action("self", "test.select")

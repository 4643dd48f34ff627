"""The engine-level parts of the virtual scenarios on cuddle_crew: run to target (ACC-V2-1…3,
ENG-38/39), edited workflows (ACC-V3-1/2, ENG-42), auto-respond (ACC-V6-1…3, ENG-41),
target errors (ACC-V8-1) and a sandbox payload (ACC-V8-4). Engines run in `mode="virtual"`
as `virtual_user_001`; the blob round trip itself belongs to the server tests."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from engine.execution import ExecOptions
from engine.processor import WorkflowEngine
from engine.virtual import VIRTUAL_USER
from engine.wire import AutoRespondConfig, Target, WorkflowResponse
from tests.acceptance.script_a import ANSWERS
from tests.conftest import make_engine
from tests.fakes_engine import resp

STEP_IDS = ["user_input", "scene_generation", "image_prompts", "image_analysis",
            "video_generation", "duration_selection", "music", "text_overlays", "titles_social",
            "workflow_summary"]


def T(step: str, module: str) -> Target:
    return Target(step_id=step, module_name=module)


class V:
    """A virtual run on one store: every call carries the workflow and a target."""

    def __init__(self, workflow: dict[str, Any]) -> None:
        self.eng: WorkflowEngine = make_engine(mode="virtual")
        self.workflow = workflow
        self.run_id: str | None = None
        self.last: WorkflowResponse | None = None

    def start(self, target: Target, *, workflow: dict[str, Any] | None = None,
              auto: AutoRespondConfig | None = None) -> WorkflowResponse:
        r = self.eng.virtual_start(workflow=workflow or self.workflow,
                                   has_blob=self.run_id is not None, run_id=self.run_id,
                                   target=target, capabilities=[],
                                   opts=ExecOptions(mock=True, auto_respond=auto))
        self.run_id = self.run_id or r.workflow_run_id or None
        self.last = r
        return r

    def respond(self, body: dict[str, Any], target: Target, *,
                workflow: dict[str, Any] | None = None) -> WorkflowResponse:
        assert self.last is not None and self.last.interaction_request is not None
        r = self.eng.virtual_respond(workflow=workflow or self.workflow, run_id=self.run_id,
                                     interaction_id=self.last.interaction_request.interaction_id,
                                     response=resp(body), target=target, capabilities=[],
                                     opts=ExecOptions(mock=True))
        self.last = r
        return r

    def lineage(self) -> list[Any]:
        assert self.run_id is not None
        return self.eng.list_events(VIRTUAL_USER, self.run_id).events

    def state(self) -> dict[str, Any]:
        assert self.run_id is not None
        return self.eng.get_state_view(VIRTUAL_USER, self.run_id).state

    def export(self) -> dict[str, list[dict[str, Any]]]:
        return self.eng.store.export()  # type: ignore[attr-defined,no-any-return]


FLATTEN = T("scene_generation", "flatten_keywords")


@pytest.fixture(scope="module")
def v2(cuddle_workflow: dict[str, Any]) -> V:
    """V1: run to flatten_keywords with A1, A2 (the state V2 continues from)."""
    v = V(cuddle_workflow)
    r = v.start(FLATTEN)
    assert r.workflow_run_id.startswith("virtual_")
    assert r.interaction_request.context["module_name"] == "select_pet_type"
    v.respond(ANSWERS["select_pet_type"], FLATTEN)
    r = v.respond(ANSWERS["select_aesthetic"], FLATTEN)
    assert r.status == "completed" and r.result["workflow_completed"] is False
    assert r.result["target"] == {"step_id": "scene_generation", "module_name": "flatten_keywords"}
    assert 9 <= len(r.result["module_outputs"]["result"]) <= 18
    return v


def test_acc_v2_1_moving_the_target_forward(v2: V) -> None:
    """ENG-39: each upstream module executes at most once; weights are not doubled."""
    flattened = v2.state()["flattened_keywords"]
    r = v2.start(T("scene_generation", "save_keywords"))
    assert r.status == "completed"
    assert r.result["module_outputs"]["saved_count"] == len(flattened)
    r = v2.start(T("scene_generation", "select_scene"))
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "select_scene"
    lineage = v2.lineage()
    done = [e.module_name for e in lineage if e.event_type == "module_completed"]
    assert done.count("generate_scenes") == 1 and done.count("save_keywords") == 1
    started = [e.step_id for e in lineage if e.event_type == "step_started"]
    assert started.count("scene_generation") == 1
    weights = {d["keyword"]: d["weight"] for d in v2.export()["weighted_keywords"]}
    for item in flattened:
        assert weights[item["keyword"].strip().lower()] == item["weight"]


def test_acc_v2_2_same_target_writes_nothing(v2: V) -> None:
    pending = v2.last.interaction_request.interaction_id  # type: ignore[union-attr]
    before = v2.export()
    r = v2.start(T("scene_generation", "select_scene"))
    assert r.status == "awaiting_input"
    assert r.interaction_request.interaction_id == pending
    assert len(v2.export()["events"]) == len(before["events"])


def test_acc_v2_3_target_behind_forks(v2: V) -> None:
    """ENG-38: only the target runs again, on a new branch."""
    old_branch = v2.eng.store.get_run(v2.run_id)["current_branch_id"]
    count = len(v2.export()["events"])
    r = v2.start(T("scene_generation", "generate_scenes"))
    run = v2.eng.store.get_run(v2.run_id)
    assert run["current_branch_id"] != old_branch
    branch = v2.eng.store.get_branch(run["current_branch_id"])
    assert branch["fork_reason"] == "target"
    events = v2.export()["events"]
    new = sorted((e for e in events if e["sequence"] > count), key=lambda e: e["sequence"])
    assert [e["event_type"] for e in new] == ["jump_requested", "module_started",
                                              "module_completed"]
    assert new[0]["data"]["source"] == "target" and new[0]["branch_id"] == branch["branch_id"]
    assert new[1]["module_name"] == "generate_scenes"
    assert r.status == "completed"
    assert r.result["module_outputs"] == new[2]["data"]["outputs"]
    assert "flattened_keywords" not in v2.state()


def _edited(workflow: dict[str, Any], prompt: str) -> dict[str, Any]:
    edited = copy.deepcopy(workflow)
    edited["steps"][1]["modules"][5]["inputs"]["prompt"] = prompt
    return edited


def test_acc_v3_1_respond_with_edited_workflow(cuddle_workflow: dict[str, Any]) -> None:
    target = T("scene_generation", "select_scene")
    v = V(cuddle_workflow)
    v.start(target)
    v.respond(ANSWERS["select_pet_type"], target)
    r = v.respond(ANSWERS["select_aesthetic"], target)
    assert r.interaction_request.context["module_name"] == "select_scene"
    versions = len(v.export()["workflow_versions"])
    history = len(v.eng.store.list_version_history(v.run_id))
    r = v.respond(ANSWERS["select_scene"], target, workflow=_edited(cuddle_workflow, "Pick one"))
    assert r.status == "completed"
    assert r.result["target"] == {"step_id": "scene_generation", "module_name": "select_scene"}
    assert v.state()["selected_scene_indices"] == ["scenes", 0]
    assert len(v.export()["workflow_versions"]) == versions + 1
    assert len(v.eng.store.list_version_history(v.run_id)) == history + 1
    run = v.eng.store.get_run(v.run_id)
    assert run["current_workflow_version_id"] == v.eng.store.list_version_history(
        v.run_id)[-1]["workflow_version_id"]


def test_acc_v3_2_start_with_edited_target_forks(cuddle_workflow: dict[str, Any]) -> None:
    target = T("scene_generation", "select_scene")
    v = V(cuddle_workflow)
    v.start(target)
    v.respond(ANSWERS["select_pet_type"], target)
    first = v.respond(ANSWERS["select_aesthetic"], target).interaction_request
    old_hash = [e for e in v.lineage() if e.event_type == "module_started"][-1].data["config_hash"]
    r = v.start(target, workflow=_edited(cuddle_workflow, "Choose the scene you love"))
    assert r.status == "awaiting_input"
    assert r.interaction_request.interaction_id != first.interaction_id
    assert r.interaction_request.title == "Choose the scene you love"
    starts = [e for e in v.lineage() if e.event_type == "module_started"]
    assert starts[-1].module_name == "select_scene" and starts[-1].data["config_hash"] != old_hash
    assert v.lineage()[-3].event_type == "jump_requested"
    assert v.lineage()[-3].data["source"] == "target"


IMAGES = T("image_prompts", "generate_and_select_images_v2")


def test_acc_v6_1_auto_respond_to_the_image_step(cuddle_workflow: dict[str, Any]) -> None:
    v = V(cuddle_workflow)
    r = v.start(IMAGES, auto=AutoRespondConfig())
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "generate_and_select_images_v2"
    auto = r.result["auto_responses"]
    assert [(a["module_name"], a["accepted"], a["response"]["selected_indices"]) for a in auto] == [
        ("select_pet_type", True, [0]), ("select_aesthetic", True, [0]),
        ("select_scene", True, ["scenes", 0])]
    state = v.state()
    assert state["selected_scene"] is not None
    assert state["selected_scene"] == state["scene_concepts"]["scenes"][0]
    answers = [e for e in v.lineage() if e.event_type == "interaction_response"]
    assert len(answers) == 3
    assert all(e.data["auto"] is True and e.provenance == "mock" for e in answers)


def test_acc_v6_2_seeded_and_scripted_auto_respond(cuddle_workflow: dict[str, Any]) -> None:
    seeded = [V(cuddle_workflow).start(IMAGES, auto=AutoRespondConfig(seed=7)) for _ in range(2)]
    assert seeded[0].result["auto_responses"] == seeded[1].result["auto_responses"]
    assert len(seeded[0].result["auto_responses"]) == 3
    v = V(cuddle_workflow)
    scripted = msgspec.convert({"answers": {"select_aesthetic": {"selected_indices": [5]}}},
                               AutoRespondConfig)
    v.start(IMAGES, auto=scripted)
    assert v.state()["aesthetic_selection"]["id"] == "quiet"


def test_acc_v6_3_auto_respond_to_text_overlays(cuddle_workflow: dict[str, Any]) -> None:
    v = V(cuddle_workflow)
    r = v.start(T("text_overlays", "select_text_overlay"), auto=AutoRespondConfig())
    assert r.status == "awaiting_input"
    assert r.interaction_request.context["module_name"] == "select_text_overlay"
    auto = r.result["auto_responses"]
    assert [a["module_name"] for a in auto] == [
        "select_pet_type", "select_aesthetic", "select_scene", "generate_and_select_images_v2",
        "select_motion_elements", "generate_and_select_videos_v2", "select_duration",
        "generate_and_select_music_v2"]
    assert all(a["accepted"] for a in auto)
    image = auto[3]["response"]
    assert image["selected_content_id"].startswith("mock-gc_")
    (generation,) = image["generations"]["prompts.midjourney"]
    assert generation["content_ids"] == [image["selected_content_id"]]
    assert generation["metadata_id"].startswith("mock-cgm_")
    assert auto[4]["response"]["selected_indices"] == [["detected", 0]]
    assert auto[6]["response"]["selected_indices"] == [0]
    assert v.state()["selected_image_id"].startswith("mock-gc_")


def test_acc_v8_1_unknown_target_step_and_module(cuddle_workflow: dict[str, Any]) -> None:
    v = V(cuddle_workflow)
    r = v.eng.virtual_start(workflow=cuddle_workflow, has_blob=False, run_id=None,
                            target=T("nope", "x"), capabilities=[], opts=ExecOptions(mock=True))
    assert r.status == "error" and r.result["error_type"] == "step_not_found"
    assert r.result["details"]["available_steps"] == STEP_IDS
    assert v.export().get("events") is None  # nothing stored
    v.start(FLATTEN)
    before = v.export()
    r = v.start(T("user_input", "nope"))
    assert r.status == "error" and r.result["error_type"] == "module_not_found"
    assert r.result["details"]["available_modules"] == ["select_pet_type", "select_aesthetic"]
    assert v.export() == before


def test_acc_v8_4_sandbox_payload_is_resolution_failed(cuddle_workflow: dict[str, Any]) -> None:
    bad = copy.deepcopy(cuddle_workflow)
    bad["steps"][0]["modules"][0]["inputs"]["data"] = "{{ state.x.__class__ }}"
    r = V(bad).start(FLATTEN)
    assert r.status == "error" and r.result["error_type"] == "resolution_failed"

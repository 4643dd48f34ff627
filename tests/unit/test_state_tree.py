"""The editor/web-UI state shapes (issue 9 items 5 and 6): `steps`, `state_mapped`, `files` of the
state view, `timestamp` of interaction history items, and `get_editor_state`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec

from engine.execution import ExecOptions
from engine.state_tree import editor_flat_state, files_tree, steps_tree
from engine.virtual import VIRTUAL_USER
from engine.wire import Target
from tests.fakes_engine import probe_engine, probe_workflow, resp


def _event(kind: str, module: str | None, data: dict[str, Any], step: str = "s1") -> dict[str, Any]:
    return {"event_type": kind, "step_id": step if module else None, "module_name": module,
            "data": data}


EVENTS = [
    _event("workflow_created", None, {"project_name": "p"}),
    _event("step_started", None, {}),
    _event("module_started", "gen", {"module_id": "test.probe"}),
    _event("module_completed", "gen", {"outputs": {"items": [1]}, "state_mapped": {"things": [1]}}),
    _event("module_started", "gen", {"module_id": "test.probe"}),
    _event("module_completed", "gen", {"outputs": {"items": [2]}, "state_mapped": {"things": [2]}}),
    _event("sub_action_completed", "pick", {"state_mapped": {"things": [2, 3]}, "result": {}}),
    _event("module_completed", "fin", {"outputs": {"x": "a"}, "state_mapped": {}}, step="s2"),
]


def test_steps_tree_levels_and_the_latest_event_at_the_bare_key() -> None:
    tree = steps_tree(EVENTS)
    assert tree["_metadata"] == {"node_type": "steps_container"}
    assert list(tree) == ["_metadata", "s1", "s2"]  # events without a module are not steps' own
    gen = tree["s1"]["gen"]
    assert tree["s1"]["_metadata"] == {"node_type": "step"}
    assert gen["_metadata"] == {"node_type": "module"}
    assert gen["module_completed"] == {
        "_metadata": {"node_type": "event_data", "event_type": "module_completed"},
        "items": [2], "_state_mapped": {"things": [2]}}
    assert gen["module_completed.1"]["items"] == [1]  # the earlier execution, numbered
    assert gen["module_started"]["module_id"] == "test.probe" and "module_started.1" in gen
    assert tree["s1"]["pick"]["sub_action_completed"]["state_mapped"] == {"things": [2, 3]}
    assert tree["s2"]["fin"]["module_completed"]["_state_mapped"] == {}


def test_editor_flat_state_is_eng_18_with_state_mapped_per_module() -> None:
    assert editor_flat_state(EVENTS) == {
        "gen": {"items": [2], "_state_mapped": {"things": [2]}},
        "things": [2, 3],  # the sub-action's mapping is later and wins
        "fin": {"x": "a", "_state_mapped": {}}}
    # a state key named like a module replaces the module entry when it comes later (ENG-18)
    clash = [_event("module_completed", "a", {"outputs": {"v": 1}, "state_mapped": {"b": 5}}),
             _event("module_completed", "b", {"outputs": {"v": 2}, "state_mapped": {"a": 7}})]
    assert editor_flat_state(clash) == {"a": 7, "b": {"v": 2, "_state_mapped": {"a": 7}}}


T = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _file(fid: str, category: str, step: str | None, group: str | None,
          name: str) -> dict[str, Any]:
    return {"file_id": fid, "filename": name, "category": category, "group_id": group,
            "content_type": "json" if name.endswith(".json") else "text", "created_at": T,
            "metadata": {"step_id": step} if step else {}}


FILES = [_file("f1", "outputs", "s1", None, "a.json"),
         _file("f2", "api_calls", "s1", "g1", "req.json"),
         _file("f3", "api_calls", "s1", "g2", "req.json"),
         _file("f4", "outputs", None, None, "loose.txt")]
GENERATIONS = [({"content_generation_metadata_id": "cgm_1", "provider": "leonardo",
                 "created_at": T},
                [{"generated_content_id": "gc_2", "index": 1, "extension": "png",
                  "content_type": "image", "url": "/m/2.png"},
                 {"generated_content_id": "gc_1", "index": 0, "extension": "png",
                  "content_type": "image", "url": "/m/1.png"},
                 {"generated_content_id": "gc_p", "index": 2, "content_type": "video.preview"}])]


def test_files_tree_without_links() -> None:
    tree = files_tree(FILES, GENERATIONS)
    outputs, api_calls, media = tree
    assert outputs["_meta"] == {"display_name": "outputs", "icon": "folder"}
    step, loose = outputs["children"]
    assert step["_meta"]["display_name"] == "s1"
    assert step["children"][0]["_meta"] == {
        "display_name": "a.json", "icon": "json", "leaf": True, "content_type": "json",
        "file_id": "f1", "created_at": "2026-01-02T03:04:05.000Z"}
    assert loose["_meta"]["display_name"] == "loose.txt" and loose["_meta"]["icon"] == "text"
    groups = api_calls["children"][0]["children"]  # two groups in one step: one folder each
    assert [g["_meta"]["display_name"] for g in groups] == ["Jan 02, 03:04"] * 2
    assert [g["children"][0]["_meta"]["file_id"] for g in groups] == ["f2", "f3"]
    assert media["_meta"]["display_name"] == "media"
    provider = media["children"][0]
    assert provider["_meta"]["display_name"] == "leonardo"  # one generation: flattened
    names = [leaf["_meta"]["display_name"] for leaf in provider["children"]]
    assert names == ["gc_1.png", "gc_2.png"]
    assert provider["children"][0]["_meta"]["content_url"] == "/m/1.png"
    assert "download_url" not in msgspec.json.encode(tree).decode()


def test_files_tree_with_links() -> None:
    tree = files_tree(FILES, GENERATIONS, "/workflow/wf_1")
    outputs, api_calls, media = tree
    assert outputs["_meta"]["download_url"] == "/workflow/wf_1/files/outputs/download"
    leaf = outputs["children"][0]["children"][0]["_meta"]
    assert leaf["content_url"] == "/workflow/wf_1/files/f1"
    assert leaf["download_url"] == "/workflow/wf_1/files/outputs/f1"
    group = api_calls["children"][0]["children"][0]
    assert group["_meta"]["download_url"] == "/workflow/wf_1/files/api_calls/s1/g1/download"
    assert group["children"][0]["_meta"]["download_url"] == \
        "/workflow/wf_1/files/api_calls/s1/g1/f2"
    assert media["children"][0]["children"][0]["_meta"]["download_url"] == \
        "/workflow/wf_1/media/leonardo/cgm_1/gc_1"


def _run_to_fin() -> tuple[Any, str]:
    eng = probe_engine(mode="virtual")
    target = Target(step_id="s2", module_name="fin")
    r = eng.virtual_start(workflow=probe_workflow(), has_blob=False, run_id=None, target=target,
                          capabilities=[], opts=ExecOptions(mock=True))
    run_id = r.workflow_run_id
    r = eng.virtual_respond(workflow=probe_workflow(), run_id=run_id,
                            interaction_id=r.interaction_request.interaction_id,
                            response=resp({"action_id": "again"}), target=target,
                            capabilities=[], opts=ExecOptions(mock=True))
    r = eng.virtual_respond(workflow=probe_workflow(), run_id=run_id,
                            interaction_id=r.interaction_request.interaction_id,
                            response=resp({"selected_indices": [1]}), target=target,
                            capabilities=[], opts=ExecOptions(mock=True))
    assert r.status == "completed"
    return eng, run_id


def test_state_view_carries_the_trees_next_to_our_fields() -> None:
    eng, run_id = _run_to_fin()
    view = eng.get_state_view(VIRTUAL_USER, run_id)
    body = msgspec.to_builtins(view)
    assert set(body) == {"workflow_run_id", "status", "state", "steps", "state_mapped", "files",
                         "mock_tainted", "step_summaries"}
    pick = view.steps["s1"]["pick"]
    assert pick["module_completed"]["_state_mapped"] == {"picked": {"id": "b"}}
    assert pick["interaction_response"]["response"]["selected_indices"] == [1]
    assert pick["interaction_response.1"]["response"]["action_id"] == "again"  # the retry answer
    assert view.steps["s1"]["gen"]["module_completed.1"]["_state_mapped"] == {
        "things": [{"id": "a"}, {"id": "b"}]}
    # the flat state and state_mapped agree on every key; modules also carry _state_mapped
    assert set(view.state_mapped) == set(view.state)
    for key, value in view.state.items():
        mapped = view.state_mapped[key]
        if key in ("gen", "pick", "fin"):
            assert {k: v for k, v in mapped.items() if k != "_state_mapped"} == value
        else:
            assert mapped == value
    assert view.state_mapped["fin"]["_state_mapped"] == {"final_x": "b"}
    assert eng.get_editor_state(VIRTUAL_USER, run_id) == view.state_mapped
    assert [s.step_id for s in view.step_summaries] == ["s1", "s2"]
    assert view.files == []


def test_interaction_history_items_carry_timestamp() -> None:
    eng, run_id = _run_to_fin()
    items = eng.get_interaction_history(VIRTUAL_USER, run_id).interactions
    assert len(items) == 2
    for item in items:
        assert item.timestamp == item.responded_at and item.timestamp.endswith("Z")

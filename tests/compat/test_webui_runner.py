"""The runner page's side panels and history actions on a live production server (issue 10):
state v2 and its stream, files, definition, jump back, resume with new content, delete."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import re
import time
import zipfile
from typing import Any, Callable

import pytest

from production_server.routes import files as files_routes
from tests.acceptance.production_client import parse_sse
from tests.compat.webui_protocol import (
    CAPABILITIES,
    ApiError,
    ExecutionHook,
    LiveServer,
    browsers,
    event_source,
    require,
    server,
    vendors,
)

__all__ = ["browsers", "server", "vendors"]

SERVER = {"type": "object", "properties": {"data": {"resolver": "server"},
                                           "content": {"resolver": "server"}}}
NOTES: dict[str, Any] = {  # no LLM: two questions around a step that writes two files
    "workflow_id": "notes", "name": "Notes",
    "status_display": {"fields": [{"id": "topic", "label": "Topic",
                                   "value": "{{ state.topic }}"}], "layout": [["topic"]]},
    "steps": [
        {"step_id": "ask", "name": "Ask", "modules": [
            {"module_id": "user.text_input", "name": "topic", "inputs": {"prompt": "Topic?"},
             "outputs_to_state": {"value": "topic"}}]},
        {"step_id": "write", "name": "Write", "modules": [
            {"module_id": "io.save_json", "name": "save",
             "inputs": {"resolver_schema": SERVER, "data": "{{ {'topic': state.topic} }}",
                        "file_path": "notes.json"}},
            {"module_id": "io.write_text", "name": "note",
             "inputs": {"resolver_schema": SERVER, "content": "Topic: {{ state.topic }}",
                        "file_path": "note.txt", "target_path": "drafts"}}]},
        {"step_id": "done", "name": "Done", "modules": [
            {"module_id": "user.text_input", "name": "final",
             "inputs": {"prompt": "Anything else?", "allow_empty": True}}]}]}


def _leaves(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for node in nodes:
        out += [node["_meta"]] if node["_meta"].get("leaf") else _leaves(node.get("children", []))
    return out


async def _started(hook: ExecutionHook, project: str) -> ExecutionHook:
    await hook.start({"project_name": project, "workflow_content": NOTES})
    await hook.respond({"value": "otters"})
    assert hook.status == "awaiting_input" and hook.interaction is not None
    return hook


async def test_state_v2_files_and_definition(server: LiveServer, browsers: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """WorkflowStateContext.tsx: `getStateV2` (state tree), `getWorkflowDefinition`
    (`definition`, `raw_definition`), FilesTreeView.tsx (leaf `content_url` →
    `getWorkflowFile`, `download_url` of folders and leaves); the files and api-calls routes."""
    ui = await browsers("alice")
    hook = await _started(ExecutionHook(ui), "files")
    run = hook.run_id
    body = await ui.get(f"/workflow/{run}/state/v2")
    state = require(body, "state", dict)
    topic = state["steps"]["ask"]["topic"]
    assert topic["_metadata"]["node_type"] == "module"
    assert topic["module_completed"]["value"] == "otters"
    assert state["state_mapped"]["topic"] == "otters"
    leaves = _leaves(require(state, "files", list))
    assert sorted(leaf["display_name"] for leaf in leaves) == ["note.txt", "notes.json"]
    for leaf in leaves:
        file_id = re.search(r"/files/([^/]+)$", leaf["content_url"]).group(1)  # type: ignore[union-attr]
        content = await ui.get(f"/workflow/{run}/files/{file_id}")
        for key in ("file_id", "workflow_run_id", "category", "filename", "content_type"):
            require(content, key, str)
        require(content, "metadata", dict)
        assert content["content"] in ({"topic": "otters"}, "Topic: otters")
        download = await ui.http.get(leaf["download_url"])
        assert download.status_code == 200 and b"otters" in download.content
    folders = [n["_meta"]["download_url"] for n in state["files"]]
    for url in folders + [f"/workflow/{run}/files/download"]:
        archive = await ui.http.get(url)
        assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
        assert zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    monkeypatch.setattr(files_routes, "MAX_ZIP_BYTES", 10)  # memory stays bounded
    with pytest.raises(ApiError) as too_big:
        await ui.get(f"/workflow/{run}/files/download")
    assert too_big.value.status == 413
    monkeypatch.undo()
    listing = await ui.get(f"/workflow/{run}/files?category=drafts")
    assert listing["count"] == 0  # `drafts` is a group of category `outputs`
    listing = await ui.get(f"/workflow/{run}/files")
    assert listing["count"] == 2 and "content" not in listing["files"][0]
    assert listing["workflow_state"]["status"] == "awaiting_input"
    assert (await ui.get(f"/workflow/{run}/api-calls")) == {
        "workflow_run_id": run, "api_calls": [], "count": 0}
    definition = await ui.get(f"/workflow/{run}/definition")
    assert definition["definition"]["workflow_id"] == "notes"
    assert definition["raw_definition"] is None and require(definition, "version_id", str)
    display = await ui.get(f"/workflow/{run}/status-display")
    assert display["display_fields"] == [{"id": "topic", "label": "Topic", "value": "otters"}]


async def test_state_streams_follow_the_run(server: LiveServer, browsers: Any) -> None:
    """useWorkflowState.ts `connect` (EventSource on /state/v2/stream: `state_snapshot` →
    `data.state`) while WorkflowRunnerPage answers; api.ts `streamState` (/state/stream:
    `state_snapshot`, then `state_update {changed_keys, updates}`); a closed EventSource
    frees the stream slot."""
    ui = await browsers("alice")
    hook = ExecutionHook(ui)
    await hook.start({"project_name": "streams", "workflow_content": NOTES})
    user_id = (await ui.get("/auth/me"))["user_id"]
    v2_frames: list[tuple[str, Any]] = []
    v1_frames: list[tuple[str, Any]] = []

    async def follow(path: str, into: list[tuple[str, Any]],
                     enough: Callable[[list[tuple[str, Any]]], bool]) -> None:
        async with ui.http.stream("GET", path + "?poll_interval=0.2") as response:
            assert response.status_code == 200
            async for kind, data in event_source(response):
                assert data["workflow_run_id"] == hook.run_id
                into.append((kind, data))
                if enough(into):
                    return

    def both_files_written(frames: list[tuple[str, Any]]) -> bool:
        # a poll may land while the answer is still executing: the v2 stream then sends the
        # state between the `write` step's two modules too (topic answered, one file written)
        return len(_leaves(frames[-1][1]["state"].get("files") or [])) == 2

    readers = [asyncio.create_task(follow(f"/workflow/{hook.run_id}/state/v2/stream",
                                          v2_frames, both_files_written)),
               asyncio.create_task(follow(f"/workflow/{hook.run_id}/state/stream", v1_frames,
                                          lambda frames: len(frames) == 2))]
    deadline = time.monotonic() + 20
    while not (v2_frames and v1_frames):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert v2_frames[0][0] == "state_snapshot" and "topic" not in v2_frames[0][1]["state"]["steps"]
    assert v1_frames[0] == ("state_snapshot", {"workflow_run_id": hook.run_id, "state": {}})
    await hook.respond({"value": "otters"})
    await asyncio.wait_for(asyncio.gather(*readers), 20)
    assert len(v2_frames) >= 2 and {kind for kind, _ in v2_frames} == {"state_snapshot"}
    data = v2_frames[-1][1]
    assert data["state"]["steps"]["ask"]["topic"]["module_completed"]["value"] == "otters"
    kind, update = v1_frames[1]
    assert kind == "state_update" and "topic" in update["changed_keys"]
    assert update["updates"]["topic"] == "otters"
    streams = server.services.streams
    while streams.open_count(user_id):  # both EventSources are closed: slots come back
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_jump_back_from_a_completed_card(server: LiveServer, browsers: Any) -> None:
    """CompletedInteractionCard.tsx `onRestartFromHere` → useWorkflowExecution
    `jumpToInteraction` (POST /workflow/jump-to-interaction, then `getInteractionHistory`);
    then a retry through the reference's POST /workflow/retry."""
    hook = await _started(ExecutionHook(await browsers("alice")), "jump")
    first = hook.completed[0]["interaction_id"]
    data = await hook.jump_to_interaction(first)
    assert data["status"] == "awaiting_input" and hook.interaction is not None
    assert hook.interaction["interaction_id"] == first and hook.completed == []
    await hook.respond({"value": "badgers"})
    history = await hook.api.get(f"/workflow/{hook.run_id}/interaction-history")
    item = history["interactions"][0]
    assert item["response"]["value"] == "badgers" and require(item, "timestamp", str)
    assert item["step_id"] == "ask" and item["request"]["interaction_id"] == first
    assert history["pending_interaction"]["interaction_id"] == hook.interaction["interaction_id"]
    # POST /workflow/retry (a reference route without an api.ts function): redo `final`
    pending = hook.interaction["interaction_id"]
    retried = await hook.api.request("POST", "/workflow/retry", {
        "workflow_run_id": hook.run_id, "target_module": "final", "feedback": "again"})
    assert retried["status"] == "awaiting_input"
    assert retried["interaction_request"]["context"]["module_name"] == "final"
    assert retried["interaction_request"]["interaction_id"] != pending


async def test_resume_with_new_content(server: LiveServer, browsers: Any) -> None:
    """WorkflowRunsList.tsx "Resume with updated template" → WorkflowStartPage
    `handleResumeWithUpdate` → useWorkflowExecution `resumeWithUpdate` (POST /resume with
    `workflow_content`) → VersionDiffDialog → `confirmVersionAndResume` (POST
    /resume/confirm); project name from `result.project_name`."""
    ui = await browsers("alice")
    hook = ExecutionHook(ui)
    await hook.start({"project_name": "resume", "workflow_content": NOTES})
    run, pending = str(hook.run_id), (hook.interaction or {})["interaction_id"]
    same = ExecutionHook(ui)
    data = await same.resume_with_update(run, copy.deepcopy(NOTES))
    assert data["status"] == "awaiting_input" and same.confirmation is None
    assert same.project_name == "resume"
    edited = copy.deepcopy(NOTES)
    edited["steps"][2]["modules"][0]["inputs"]["prompt"] = "Any last words?"
    asked = await same.resume_with_update(run, edited)
    assert asked["status"] == "created" and asked["workflow_run_id"] == run
    change = same.confirmation["version_diff"]["changes"][0]  # type: ignore[index]
    assert change["path"] == "steps.done.modules.final"
    assert change["new_value"]["inputs"]["prompt"] == "Any last words?"
    version = (await ui.get(f"/workflow/{run}/status"))["workflow_version_id"]
    confirmed = await same.confirm_version_and_resume()
    assert confirmed["status"] == "awaiting_input" and same.project_name == "resume"
    assert (await ui.get(f"/workflow/{run}/status"))["workflow_version_id"] != version
    # the pending question stays; the run continues with the new definition after it
    assert confirmed["interaction_request"]["interaction_id"] == pending
    await same.respond({"value": "otters"})
    assert (same.interaction or {})["title"] == "Any last words?"
    other = copy.deepcopy(NOTES)
    other["workflow_id"] = "something_else"
    with pytest.raises(ApiError) as wrong:
        await ui.resume_with_content(run, other)
    assert wrong.value.status == 400 and wrong.value.body["error_type"] == "workflow_invalid"
    assert "not the workflow of this run" in wrong.value.message


async def test_other_users_runs_look_missing_and_delete(server: LiveServer, browsers: Any) -> None:
    """Another user's run is 404 (AUTH-5; deliberately not the reference's 403, so the UI shows
    "Not found" instead of its access-denied view); DELETE /workflow/{id} (a reference route
    without an api.ts function) removes the run."""
    alice, bob = await browsers("alice"), await browsers("bob")
    hook = await _started(ExecutionHook(alice), "private")
    for path in ("status", "state/v2", "files", "definition", "status-display", "tokens"):
        with pytest.raises(ApiError) as denied:
            await bob.get(f"/workflow/{hook.run_id}/{path}")
        assert (denied.value.status, denied.value.message) == (404, "Not found"), path
    with pytest.raises(ApiError):
        await bob.resume_with_content(str(hook.run_id), NOTES)
    deleted = await alice.request("DELETE", f"/workflow/{hook.run_id}")
    assert deleted == {"deleted": True, "workflow_run_id": hook.run_id}
    with pytest.raises(ApiError) as gone:
        await ExecutionHook(alice).resume_workflow(str(hook.run_id), "x")
    assert gone.value.status == 404
    assert CAPABILITIES  # every start above carried the UI's capabilities


async def _text_until_end(response: Any) -> str:
    """The raw stream up to its close (the server closes after a terminal frame)."""
    return "".join([chunk async for chunk in response.aiter_text()])


async def test_state_stream_rules(server: LiveServer, browsers: Any) -> None:
    """The state streams the UI keeps open (useWorkflowState) follow our stream rules: request
    errors before the first byte (400, 429 at the per-user limit), and one terminal frame when
    the stream ends itself — `error` when the run is deleted, `cancelled` on shutdown."""
    ui = await browsers("alice")
    hook = ExecutionHook(ui)
    await hook.start({"project_name": "rules", "workflow_content": NOTES})
    path = f"/workflow/{hook.run_id}/state/v2/stream"
    with pytest.raises(ApiError) as bad:
        await ui.get(path + "?poll_interval=0")
    assert bad.value.status == 400 and "poll_interval" in bad.value.message
    limit = server.services.settings.sse_max_per_user
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(limit):
            opened = await stack.enter_async_context(ui.http.stream("GET", path))
            assert opened.status_code == 200
        refused = await ui.http.get(path)
        assert refused.status_code == 429 and refused.json()["detail"] == "Too many open streams"
    async with ui.http.stream("GET", path + "?poll_interval=0.2") as response:
        await ui.request("DELETE", f"/workflow/{hook.run_id}")
        frames = parse_sse(await asyncio.wait_for(_text_until_end(response), 20),
                           {"error", "cancelled"})
    assert [k for k, _ in frames] == ["state_snapshot", "error"]
    assert frames[-1][1]["error_type"] == "not_found"
    other = ExecutionHook(ui)
    await other.start({"project_name": "shutdown", "workflow_content": NOTES})
    async with ui.http.stream("GET", f"/workflow/{other.run_id}/state/stream") as response:
        server.services.loop.call_soon_threadsafe(server.services.registry.cancel_all,
                                                  "server_shutdown")  # as the signal handler
        frames = parse_sse(await asyncio.wait_for(_text_until_end(response), 20),
                           {"error", "cancelled"})
    assert frames[-1] == ("cancelled", {"workflow_run_id": other.run_id,
                                        "reason": "server_shutdown"})

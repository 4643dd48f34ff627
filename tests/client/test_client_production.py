"""`ProductionClient`, every method, in-process and against a live loopback server (issue 14)."""

from __future__ import annotations

import asyncio
import base64
import copy
from pathlib import Path
from typing import Any

import pytest

from client.answers import choose, choose_id, pick_media
from client.errors import BadRequest, Conflict, NotFound, RateLimited, Unauthorized
from client.production import ProductionClient
from client.testing.apps import PASSWORD, add_user
from client.uploads import zip_folder
from client.walk import walk
from engine.wire import WorkflowResponse
from engine.wire_frames import (
    CancelledFrame,
    ProgressFrame,
    StartedFrame,
    SubActionComplete,
    SubActionError,
)
from production_server.admin import create_invitation
from tests.acceptance.script_a import IMAGE_PARAMS
from tests.client.conftest import (
    MODES,
    Served,
    assert_frames_named,
    blocking_providers,
    production_client,
    wait_until,
)
from tests.conftest import CUDDLE_DIR

Pair = tuple[ProductionClient, Served]
TO_IMAGES = {"select_pet_type": choose_id("cat"), "select_aesthetic": choose_id("playful"),
             "select_scene": choose(0)}


async def test_login_me_keys_refresh_and_logout(pc: Pair) -> None:
    client, served = pc
    me = await client.me()
    assert me["username"] == "alice"
    created = await client.create_access_key("ci")
    assert created["access_key"].startswith("wfk_")
    assert [k["name"] for k in await client.access_keys()] == ["ci"]
    token = client.token
    await client.refresh()
    assert client.token and (await client.me())["username"] == "alice"
    client.use_access_key(created["access_key"])
    assert (await client.me())["username"] == "alice"
    client.token = token
    client.access_key = None
    await client.revoke_access_key(created["access_key_id"])
    client.use_access_key(created["access_key"])
    with pytest.raises(Unauthorized):
        await client.me()
    client.access_key = None
    await client.login("alice", PASSWORD)
    old = client.token
    await client.logout_all()
    assert client.token is None
    client.token = old
    with pytest.raises(Unauthorized) as revoked:
        await client.me()
    assert revoked.value.status == 401 and revoked.value.error_type == "unauthorized"
    await client.login("alice", PASSWORD)
    await client.logout()
    assert client.token is None and client.refresh_token is None


async def test_register_with_an_invitation(pc: Pair) -> None:
    client, served = pc
    services = served.app.state.services
    await served.on_app_loop(lambda: create_invitation(services.adapter, "WELCOME", 1, None))
    user = await client.register("WELCOME", "newcomer", "a long password")
    assert user["username"] == "newcomer" and (await client.me())["username"] == "newcomer"
    with pytest.raises(BadRequest) as used:
        await client.register("WELCOME", "second", "a long password")
    assert used.value.error_type == "invitation_invalid" and used.value.detail


async def test_start_from_dict_folder_and_zip(pc: Pair, cuddle_workflow: dict[str, Any],
                                              tmp_path: Path) -> None:
    client, _ = pc
    by_dict = await client.start(cuddle_workflow, project_name="dict", mock=True)
    by_folder = await client.start(CUDDLE_DIR, project_name="folder", mock=True)
    archive = tmp_path / "cuddle.zip"
    archive.write_bytes(base64.b64decode(zip_folder(CUDDLE_DIR)))
    by_zip = await client.start(archive, project_name="zip", entry_point="workflow_v3.json",
                                mock=True)
    runs = {r.workflow_run_id for r in (by_dict, by_folder, by_zip)}
    assert len(runs) == 3 and client.run_id == by_zip.workflow_run_id
    assert all(r.status == "awaiting_input" for r in (by_dict, by_folder, by_zip))
    assert {r["workflow_run_id"] for r in await client.active_runs()} == runs
    changed = copy.deepcopy(cuddle_workflow)
    changed["description"] = "edited"
    asked = await client.start(changed, project_name="dict", mock=True)
    assert asked.status == "created" and asked.result and asked.result["requires_confirmation"]
    confirmed = await client.start(changed, project_name="dict", mock=True, confirm=True)
    assert confirmed.workflow_run_id == by_dict.workflow_run_id
    assert confirmed.status == "awaiting_input"


async def test_respond_navigation_and_reads(pc: Pair) -> None:
    client, _ = pc
    first = await client.start(CUDDLE_DIR, project_name="nav", mock=True)
    first_id = first.interaction_request.interaction_id  # type: ignore[union-attr]
    answered = await client.respond(choose_id("cat"))
    assert isinstance(answered, WorkflowResponse) and answered.status == "awaiting_input"
    assert client.pending is not None
    assert client.pending.context["module_name"] == "select_aesthetic"
    status = await client.status()
    assert status.status == "awaiting_input" and status.workflow_run_id == client.run_id
    view = await client.state()
    assert view.state["pet_type_selection"]["id"] == "cat"
    history = await client.history()
    assert [i.module_name for i in history.interactions] == ["select_pet_type"]
    events = await client.events()
    assert events.events[0].event_type == "workflow_created"
    picked = await client.events(event_type="interaction_response")
    assert [e.module_name for e in picked.events] == ["select_pet_type"]
    back = await client.jump("user_input", "select_pet_type")
    assert back.progress and back.progress.current_module == "select_pet_type"
    await client.respond(choose_id("dog"))
    lineage = (await client.history()).interactions
    assert first_id not in [i.interaction_id for i in lineage]  # the jump forked the lineage
    again = await client.jump_to_interaction(lineage[-1].interaction_id)
    assert again.progress and again.progress.current_module == "select_pet_type"
    await walk(client, {**TO_IMAGES, "select_pet_type": choose_id("both")},
               stop_at="select_scene")
    retried = await client.retry("generate_scenes", "more cats")
    assert retried.status == "awaiting_input", (retried.error, retried.result)
    assert retried.progress and retried.progress.current_module == "select_scene"
    where = await client.resume()
    assert where.status == "awaiting_input"
    assert (await client.cancel())["cancelled"] == 0
    assert (await client.delete())["deleted"] is True
    with pytest.raises(NotFound):
        await client.state()


async def test_resume_with_new_content(pc: Pair, cuddle_workflow: dict[str, Any]) -> None:
    """`resume(workflow)`: a changed version asks for confirmation; `confirm=True` continues
    the run on it (engine.md §15.2, issue 10's routes)."""
    client, _ = pc
    started = await client.start(cuddle_workflow, project_name="resume", mock=True)
    await client.respond(choose_id("cat"))
    changed = copy.deepcopy(cuddle_workflow)
    changed["description"] = "edited"
    asked = await client.resume(changed)
    assert asked.status == "created" and asked.result and asked.result["requires_confirmation"]
    moved = await client.resume(changed, confirm=True)
    assert moved.workflow_run_id == started.workflow_run_id
    assert moved.status == "awaiting_input" and client.pending is not None
    assert client.pending.context["module_name"] == "select_aesthetic"


async def test_streams_run_and_stream_respond(pc: Pair) -> None:
    """[SSE-3] A run stream of an awaiting run is one `interaction`; stream/respond answers and
    follows the execution to its one terminal frame, which becomes `last`."""
    client, _ = pc
    await client.start(CUDDLE_DIR, project_name="streams", mock=True)
    only = await client.stream().collect()
    assert [f.event for f in only] == ["interaction"] and isinstance(only[0].data, WorkflowResponse)
    async with client.stream_respond(choose_id("cat")) as frames:
        seen = [frame async for frame in frames]
    kinds = [f.event for f in seen]
    assert kinds[-1] == "interaction" and kinds.count("interaction") == 1
    assert any(isinstance(f.data, StartedFrame) for f in seen)
    assert all(isinstance(f.data, ProgressFrame) for f in seen if f.event == "progress")
    assert [f.id for f in seen] == list(range(1, len(seen) + 1))
    assert client.last is seen[-1].data and client.pending is not None
    assert_frames_named(only + seen)
    assert client.pending.context["module_name"] == "select_aesthetic"


async def test_sub_action_job_stream_generations_and_pick(pc: Pair) -> None:
    client, _ = pc
    await client.start(CUDDLE_DIR, project_name="media", mock=True)
    await walk(client, TO_IMAGES, stop_at="generate_and_select_images_v2")
    async with client.sub_action("image_generation", IMAGE_PARAMS) as frames:
        seen = [frame async for frame in frames]
    assert isinstance(seen[0].data, ProgressFrame) and seen[0].data.task_id
    assert seen[-1].event == "complete" and isinstance(seen[-1].data, SubActionComplete)
    assert_frames_named(seen)
    result = seen[-1].data.sub_action_result
    listed = await client.generations("image")
    assert [g.content_ids for g in listed.generations] == [result["content_ids"]]
    frame = await client.run_sub_action("image_generation", IMAGE_PARAMS)
    assert frame.event == "complete"
    await client.respond(pick_media(1))
    second = frame.data.sub_action_result["content_ids"][0]
    assert (await client.state()).state["selected_image_id"] == second


async def test_a_failed_sub_action_ends_with_a_typed_error_frame(pc: Pair) -> None:
    client, _ = pc
    await client.start(CUDDLE_DIR, project_name="fail", mock=True)
    await walk(client, TO_IMAGES, stop_at="generate_and_select_images_v2")
    stream = client.sub_action("image_generation", {**IMAGE_PARAMS, "provider": "nope"})
    frame = await stream.result()
    assert frame.event == "error" and isinstance(frame.data, SubActionError)
    assert frame.data.error_type and frame.data.message
    assert_frames_named(stream.frames)


async def test_typed_errors(pc: Pair, cuddle_workflow: dict[str, Any]) -> None:
    """Request errors are typed with `error_type`, `details`, `detail` and the status; another
    user's run is the same 404 as a missing one."""
    client, served = pc
    with pytest.raises(BadRequest) as invalid:
        await client.start({"workflow_id": "x", "steps": []}, project_name="bad", mock=True)
    assert invalid.value.status == 400 and invalid.value.error_type == "workflow_invalid"
    assert invalid.value.details and "steps" in invalid.value.detail
    first = await client.start(cuddle_workflow, project_name="errs", mock=True)
    iid = first.interaction_request.interaction_id  # type: ignore[union-attr]
    await client.respond(choose_id("cat"))
    with pytest.raises(Conflict) as conflict:
        await client.respond({"selected_indices": [1]}, interaction_id=iid)
    assert conflict.value.status == 409
    assert conflict.value.error_type == "interaction_already_answered"
    with pytest.raises(NotFound) as missing:
        await client.respond({"selected_indices": [0]}, interaction_id="select_nope")
    assert missing.value.error_type == "interaction_not_found"
    assert missing.value.details == {"interaction_id": "select_nope"}
    run = client.run_id
    await served.on_app_loop(lambda: add_user(served.app, "mallory"))
    await client.login("mallory", PASSWORD)
    with pytest.raises(NotFound) as foreign:
        await client.state(run_id=run)
    assert foreign.value.status == 404 and foreign.value.error_type == "not_found"
    client.token = None
    with pytest.raises(Unauthorized):
        await client.status(run_id=run)


@pytest.mark.parametrize("mode", MODES)
async def test_login_rate_limit_is_typed(mode: str) -> None:
    async with production_client(mode, WFE_LOGIN_MAX_FAILURES="2") as (client, _):
        for _ in range(2):
            with pytest.raises(Unauthorized):
                await client.login("alice", "wrong password!")
        with pytest.raises(RateLimited) as limited:
            await client.login("alice", PASSWORD)
        assert limited.value.status == 429 and limited.value.retry_after is not None


async def _to_scenes(client: ProductionClient) -> None:
    await client.start(CUDDLE_DIR, project_name="cancel", mock=True)
    await client.respond(choose_id("cat"))


@pytest.mark.parametrize("mode", MODES)
async def test_cancel_ends_the_stream_with_cancelled(mode: str) -> None:
    """[PS-4][SSE-3] POST /cancel while a run streams: the stream's one terminal frame is
    `cancelled` (`user_cancelled`); a later run stream executes the interrupted module."""
    llm, providers = blocking_providers()
    async with production_client(mode, providers=providers) as (client, _):
        await _to_scenes(client)
        async with client.stream_respond(choose_id("playful")) as frames:
            async for frame in frames:
                if frame.event == "progress" and llm.started.is_set():
                    break
            assert await wait_until(llm.started.is_set)
            assert (await client.cancel())["cancelled"] == 1
            rest = [frame async for frame in frames]
        terminal = rest[-1]
        assert terminal.event == "cancelled" and isinstance(terminal.data, CancelledFrame)
        assert terminal.data.reason == "user_cancelled" and frames.terminal is terminal
        assert [f.event for f in frames.frames].count("cancelled") == 1
        assert_frames_named(frames.frames)
        assert llm.cancelled.is_set()
        assert (await client.status()).status == "processing"
        llm.release.set()
        resumed = await client.stream().collect()
        assert resumed[-1].event == "interaction" and client.pending is not None
        assert client.pending.context["module_name"] == "select_scene"


@pytest.mark.parametrize("mode", MODES)
async def test_closing_a_run_stream_cancels_the_execution(mode: str) -> None:
    """[SSE-5] Leaving a run stream early is a client disconnect: the execution is cancelled
    (in-process through StreamingASGITransport as on a live server), nothing is answered."""
    llm, providers = blocking_providers()
    async with production_client(mode, providers=providers) as (client, _):
        await _to_scenes(client)
        async with client.stream_respond(choose_id("playful")) as frames:
            async for frame in frames:
                assert not frame.terminal
                break
            assert await wait_until(llm.started.is_set)
        assert await wait_until(llm.cancelled.is_set), "the execution was not cancelled"
        assert frames.terminal is None
        llm.release.set()
        events = await client.events(event_type="module_completed")
        assert "generate_scenes" not in [e.module_name for e in events.events]
        await asyncio.sleep(0)

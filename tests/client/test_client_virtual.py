"""`VirtualClient`, every method, in-process and against a live loopback server (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from client.answers import choose, choose_id, pick_media
from client.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from client.virtual import VirtualClient
from client.walk import walk
from engine.provider_types import PreviewInfo
from engine.wire import VirtualWorkflowResponse
from engine.wire_frames import ProgressFrame, SubActionComplete, SubActionError
from tests.acceptance.script_a import IMAGE_PARAMS
from tests.client.conftest import (
    MODES,
    assert_frames_named,
    blocking_providers,
    virtual_client,
    wait_until,
)

TO_IMAGES = {"select_pet_type": choose_id("cat"), "select_aesthetic": choose_id("playful"),
             "select_scene": choose(0)}


async def test_start_respond_and_reads(vc: VirtualClient) -> None:
    """start/respond carry the blob and the run; state, history and events read it."""
    first = await vc.start()
    assert isinstance(first, VirtualWorkflowResponse) and first.status == "awaiting_input"
    assert vc.run_id == first.workflow_run_id == first.virtual_run_id
    assert vc.virtual_db == first.virtual_db and vc.pending is not None
    assert vc.pending.context["module_name"] == "select_pet_type"
    blob = vc.virtual_db
    second = await vc.respond(choose_id("dog"))
    assert second.workflow_run_id == vc.run_id and vc.virtual_db != blob
    assert vc.pending is not None and vc.pending.context["module_name"] == "select_aesthetic"
    assert second.state is not None and second.state["pet_type_selection"]["id"] == "dog"
    view = await vc.state()
    assert view.workflow_run_id == vc.run_id and view.state["pet_type_selection"]["id"] == "dog"
    history = await vc.history()
    assert [i.module_name for i in history.interactions] == ["select_pet_type"]
    assert history.interactions[0].response.selected_indices == [1]
    assert history.pending_interaction is not None
    events = await vc.events()
    types = [e.event_type for e in events.events]
    assert types[0] == "workflow_created" and types.count("interaction_response") == 1
    only = await vc.events(event_type="interaction_requested")
    assert [e.module_name for e in only.events] == ["select_pet_type", "select_aesthetic"]


async def test_targets_resume_and_fresh_start(vc: VirtualClient) -> None:
    """A target stops the preview there; resume/confirm moves it on; fresh=True starts over."""
    await vc.start("user_input", "select_pet_type")
    run = vc.run_id
    moved = await vc.respond(choose(0))
    assert moved.status == "completed" and moved.result is not None
    assert moved.result["target"] == {"step_id": "user_input", "module_name": "select_pet_type"}
    resumed = await vc.resume("user_input", "select_aesthetic")
    assert resumed.status == "awaiting_input" and vc.run_id == run
    assert vc.pending is not None and vc.pending.context["module_name"] == "select_aesthetic"
    again = await vc.start(fresh=True)
    assert again.workflow_run_id != run and vc.pending is not None
    assert vc.pending.context["module_name"] == "select_pet_type"


async def test_sub_action_stream_generations_and_pick(vc: VirtualClient) -> None:
    """[SSE-1][SSE-3] The sub-action stream: typed progress, one terminal `complete` last; its
    blob becomes the client's and the generation can be listed and picked."""
    await vc.start()
    await walk(vc, TO_IMAGES, stop_at="generate_and_select_images_v2")
    before = vc.virtual_db
    async with vc.sub_action("image_generation", IMAGE_PARAMS) as frames:
        seen = [frame async for frame in frames]
    assert [f.id for f in seen] == list(range(1, len(seen) + 1))
    assert all(isinstance(f.data, ProgressFrame) for f in seen[:-1]) and len(seen) >= 2
    assert_frames_named(seen)
    terminal = seen[-1]
    assert terminal.event == "complete" and terminal.terminal
    assert isinstance(terminal.data, SubActionComplete)
    assert terminal.data.virtual_db == vc.virtual_db != before
    assert terminal.data.state is not None
    result = terminal.data.sub_action_result
    listed = await vc.generations("image")
    assert [g.content_ids for g in listed.generations] == [result["content_ids"]]
    answered = await vc.respond(pick_media(0))
    assert answered.status == "awaiting_input"
    assert (await vc.state()).state["selected_image_id"] == result["content_ids"][0]


async def test_a_failed_sub_action_ends_with_a_typed_error_frame(vc: VirtualClient) -> None:
    """A sub-action that fails is a terminal `error` frame (not an exception), with the blob
    that records the failure."""
    await vc.start()
    await walk(vc, TO_IMAGES, stop_at="generate_and_select_images_v2")
    before = vc.virtual_db
    stream = vc.sub_action("image_generation", {**IMAGE_PARAMS, "provider": "nope"})
    frame = await stream.result()
    assert frame.event == "error" and isinstance(frame.data, SubActionError)
    assert frame.data.error_type and frame.data.message
    assert frame.data.virtual_db == vc.virtual_db and vc.virtual_db != before
    assert_frames_named(stream.frames)


async def test_run_sub_action_returns_the_terminal_frame(vc: VirtualClient) -> None:
    await vc.start()
    await walk(vc, TO_IMAGES, stop_at="generate_and_select_images_v2")
    frame = await vc.run_sub_action("image_generation", IMAGE_PARAMS)
    assert frame.event == "complete" and vc.generated[vc.pending.interaction_id]  # type: ignore[union-attr]


async def test_mock_data_media_preview_and_health(vc: VirtualClient) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    data = await vc.mock_data(schema, count=3, seed=7)
    assert len(data["data"]) == 3 and all(isinstance(d["n"], int) for d in data["data"])
    await vc.start()
    answer = await vc.mock_data(interaction_request=vc.pending)
    assert answer["response"]["selected_indices"]
    preview = await vc.media_preview("leonardo", "txt2img", {"width": 512, "height": 512})
    assert isinstance(preview, PreviewInfo) and preview.resolution
    assert (await vc.health())["status"] == "healthy"


async def test_typed_errors_keep_the_blob(vc: VirtualClient) -> None:
    """Request errors are typed (`error_type`, `details`, `detail`, status); the client's blob
    is untouched and the error carries the input blob the server returned."""
    await vc.start()
    blob = vc.virtual_db
    with pytest.raises(NotFound) as missing:
        await vc.respond({"selected_indices": [0]}, interaction_id="select_nope")
    assert missing.value.status == 404 and missing.value.error_type == "interaction_not_found"
    assert missing.value.details == {"interaction_id": "select_nope"}
    assert missing.value.detail == "Interaction not found"
    assert missing.value.virtual_db == blob == vc.virtual_db
    with pytest.raises(BadRequest) as bad:
        await vc.generations("pdf")  # type: ignore[arg-type]
    assert bad.value.status == 400 and bad.value.error_type == "bad_request"
    vc.token = None
    with pytest.raises(Unauthorized) as unauthorized:
        await vc.state()
    assert unauthorized.value.status == 401 and unauthorized.value.error_type == "unauthorized"


@pytest.mark.parametrize("mode", MODES)
async def test_payload_too_large_is_typed(mode: str) -> None:
    async with virtual_client(mode, WFE_VIRTUAL_MAX_BODY_BYTES="20000") as client:
        with pytest.raises(PayloadTooLarge) as big:
            await client.start()
        assert big.value.status == 413 and big.value.error_type == "payload_too_large"


@pytest.mark.parametrize("mode", MODES)
async def test_closing_a_stream_cancels_the_sub_action(mode: str) -> None:
    """[SSE-5] Leaving the stream early disconnects: the server cancels the sub-action and
    frees its slot, in-process (StreamingASGITransport) as on a live server; the blob stays."""
    llm, providers = blocking_providers()
    async with virtual_client(mode) as mock_client:
        await mock_client.start()
        await walk(mock_client, TO_IMAGES, stop_at="select_scene")
        async with virtual_client(mode, providers) as client:
            client.virtual_db, client.run_id = mock_client.virtual_db, mock_client.run_id
            client.last = mock_client.last
            blob = client.virtual_db
            async with client.sub_action("regenerate_scenes", {"feedback": "beach"}) as frames:
                async for frame in frames:
                    assert frame.event == "progress"
                    break
                assert await wait_until(llm.started.is_set)
            assert await wait_until(llm.cancelled.is_set), "the sub-action was not cancelled"
            assert frames.terminal is None
            assert client.virtual_db == blob
            runtime: Any = client.served_app.state["runtime"]  # type: ignore[attr-defined]
            assert await wait_until(lambda: runtime.stats.disconnects == 1)
            assert await wait_until(lambda: runtime.pool.in_flight == 0)

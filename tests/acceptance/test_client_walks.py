"""The acceptance walk of script A (acceptance.md §1) on the typed clients and the pytest plugin
(issue 14): a whole cuddle_crew run on both servers, in-process and on live loopback servers,
the image generation through its SSE sub-action stream, and (production) every answer through
the SSE run stream."""

from __future__ import annotations

from typing import Any

import pytest

from client.answers import choose, choose_id, download, pick_media, proceed
from client.production import ProductionClient
from client.testing.apps import PASSWORD, add_user, new_secret, production_app
from client.walk import WalkResult, walk
from engine.wire import WorkflowResponse
from tests.acceptance.script_a import EVENT_SEQUENCE_A, IMAGE_PARAMS
from tests.acceptance.virtual_parity import normalise, without_generated_line
from tests.client.conftest import MODES, create_kwargs, production_client, virtual_client
from tests.conftest import CUDDLE_DIR

# Script A said with the answer helpers: what to pick, not the wire shape.
SCRIPT_A: dict[str, Any] = {
    "select_pet_type": choose_id("cat"),
    "select_aesthetic": choose_id("playful"),
    "select_scene": choose(0),
    "generate_and_select_images_v2": pick_media(0).after("image_generation", IMAGE_PARAMS),
    "select_motion_elements": choose(0, 1),
    "generate_and_select_videos_v2": proceed(),
    "select_duration": choose_id(2),
    "generate_and_select_music_v2": proceed(),
    "select_text_overlay": choose(0),
    "select_title_description": choose(0),
    "write_summary_file": download(),
}
ASKED = ["select_pet_type", "select_aesthetic", "select_scene", "generate_and_select_images_v2",
         "select_motion_elements", "generate_and_select_videos_v2", "select_duration",
         "generate_and_select_music_v2", "select_text_overlay", "select_title_description",
         "write_summary_file"]


def check_script_a(result: WalkResult) -> None:
    """[ACC-P7-1][ACC-P7-2][ACC-P7-4] Completed, the 92 events of script A, the summary."""
    assert result.status == "completed" and result.response.status == "completed"
    assert result.event_types == EVENT_SEQUENCE_A
    assert result.answered == ASKED
    assert [f.event for f in result.sub_actions] == ["complete"]
    state = result.state
    assert state["pet_type_selection"]["id"] == "cat"
    assert state["aesthetic_selection"]["id"] == "playful"
    generated = result.sub_actions[0].data.sub_action_result["content_ids"][0]
    assert state["selected_image_id"] == generated
    text = state["workflow_summary_text"]
    for needle in ("Pet Type: Cat", "Story Aesthetic: Playful Chaos", "Video Duration: 30 seconds"):
        assert needle in text
    assert state["summary_filename"] == "cuddle_crew_summary.txt"


def comparable(state: dict[str, Any]) -> Any:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str) and "Generated:" in value:
            return without_generated_line(value)
        return value
    return normalise(strip(state))


@pytest.mark.parametrize("mode", MODES)
async def test_script_a_on_the_virtual_client(mode: str) -> None:
    """[VS-9] The virtual client carries the blob through the whole run, sub-action included."""
    async with virtual_client(mode) as client:
        started = await client.start()
        assert started.status == "awaiting_input"
        check_script_a(await walk(client, SCRIPT_A))
        assert (await client.history()).pending_interaction is None


@pytest.mark.parametrize("mode", MODES)
async def test_script_a_on_the_production_client(mode: str) -> None:
    """[ACC-P7-1] The production client: start from the folder (a zip upload), answer, the
    image job's SSE stream, events and state."""
    async with production_client(mode) as (client, _):
        await client.start(CUDDLE_DIR, project_name="p7", mock=True)
        result = await walk(client, SCRIPT_A)
        check_script_a(result)
        assert (await client.status()).status == "completed"
        assert result.response.result == result.state  # a completed run returns its state


class StreamingProduction(ProductionClient):
    """Answers through `POST /workflow/{id}/stream/respond` (the web UI's way), not /respond."""

    terminals: list[str] = []

    async def respond(self, answer: Any, **kwargs: Any) -> WorkflowResponse:  # type: ignore[override]
        terminal = await self.stream_respond(answer, **kwargs).result()
        self.terminals.append(terminal.event)
        assert isinstance(terminal.data, WorkflowResponse), terminal
        return terminal.data


async def test_script_a_through_run_streams() -> None:
    """[SSE-3] Every answer of script A through the run stream: one terminal per answer, the
    last one `complete`, the same 92 events."""
    app = production_app(new_secret(), **create_kwargs())
    async with StreamingProduction.for_app(app) as client:
        client.terminals = []
        await add_user(app, "alice")
        await client.login("alice", PASSWORD)
        await client.start(CUDDLE_DIR, project_name="streamed", mock=True)
        check_script_a(await walk(client, SCRIPT_A))
        assert client.terminals == ["interaction"] * 10 + ["complete"]


async def test_script_a_on_mongodb(secantus_uri: str) -> None:
    """The production client against the server on a real MongoDB wire-protocol server."""
    app = production_app(new_secret(), mongodb_uri=secantus_uri, **create_kwargs())
    async with ProductionClient.for_app(app) as client:
        await add_user(app, "alice")
        await client.login("alice", PASSWORD)
        await client.start(CUDDLE_DIR, project_name="mongo", mock=True)
        check_script_a(await walk(client, SCRIPT_A))


async def test_both_servers_end_in_the_same_state() -> None:
    """[ACC-PARITY-1] The same script on both clients: equal event types and equal state
    (ids and times normalised, the summary's `Generated:` line aside)."""
    async with virtual_client("in_process") as virtual:
        await virtual.start()
        preview = await walk(virtual, SCRIPT_A)
    async with production_client("in_process") as (production, _):
        await production.start(CUDDLE_DIR, project_name="parity", mock=True)
        real = await walk(production, SCRIPT_A)
    assert preview.event_types == real.event_types
    assert comparable(preview.state) == comparable(real.state)


# ---------------------------------------------------------------- through the pytest plugin


@pytest.mark.parametrize("server", ["virtual", "production"])
async def test_script_a_with_the_workflow_run_helper(workflow_run: Any, server: str) -> None:
    """The plugin's `workflow_run` helper walks the folder on a fresh in-process server."""
    check_script_a(await workflow_run(CUDDLE_DIR, SCRIPT_A, server=server))


@pytest.mark.wfe_mongodb
async def test_script_a_on_the_plugins_production_fixture(wfe_production: ProductionClient) -> None:
    """The plugin's production fixture, marked onto the wire-protocol MongoDB."""
    services = wfe_production.app.state.services
    assert services.settings.mongodb_uri  # the mark put it on secantusdb
    await wfe_production.start(CUDDLE_DIR, project_name="plugin", mock=True)
    check_script_a(await walk(wfe_production, SCRIPT_A))

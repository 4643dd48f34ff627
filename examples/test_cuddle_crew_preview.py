"""Copy me: cuddle_crew still reaches the right state (virtual server, mock mode, no keys).
Run: scripts/test examples/test_cuddle_crew_preview.py (the `wfe` pytest plugin is installed)."""
from pathlib import Path

import pytest

from client.answers import choose, choose_id, download, pick_media, proceed

WORKFLOW = Path(__file__).resolve().parents[2] / "shared" / "workflows" / "cuddle_crew"
IMAGES = {"provider": "leonardo", "action_type": "txt2img", "params": {"prompt": "a cat"}}


@pytest.mark.asyncio
async def test_cuddle_crew_preview(workflow_run):
    result = await workflow_run(WORKFLOW, {
        "select_pet_type": choose_id("cat"), "select_aesthetic": choose_id("playful"),
        "select_scene": choose(0), "select_motion_elements": choose(0, 1),
        "generate_and_select_images_v2": pick_media(0).after("image_generation", IMAGES),
        "generate_and_select_videos_v2": proceed(), "generate_and_select_music_v2": proceed(),
        "select_duration": choose_id(2), "select_text_overlay": choose(0),
        "select_title_description": choose(0), "write_summary_file": download()})
    assert result.status == "completed" and result.event_types[-1] == "workflow_completed"
    assert "Pet Type: Cat" in result.state["workflow_summary_text"]

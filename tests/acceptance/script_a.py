"""Answer script A and the 92-event sequence of acceptance.md §1, shared by the scenarios."""

from __future__ import annotations

from typing import Any

I = ["module_started", "interaction_requested", "interaction_response", "module_completed"]
E = ["module_started", "module_completed"]


def _step(*parts: list[str]) -> list[str]:
    out = ["step_started"]
    for part in parts:
        out.extend(part)
    out.append("step_completed")
    return out


EVENT_SEQUENCE_A: list[str] = (
    ["workflow_created"]
    + _step(I, I)
    + _step(E, E, E, E, E, I, E, E, E)
    + _step(["module_started", "interaction_requested", "sub_action_started",
             "sub_action_completed", "interaction_response", "module_completed"])
    + _step(E)
    + _step(I, I)
    + _step(I)
    + _step(I)
    + _step(E, I)
    + _step(E, I)
    + _step(E, I)
    + ["workflow_completed"]
)
assert len(EVENT_SEQUENCE_A) == 92

IMAGE_PARAMS: dict[str, Any] = {"provider": "leonardo", "action_type": "txt2img",
                                "prompt_id": "default", "params": {"prompt": "x"},
                                "source_data": {}}

ANSWERS: dict[str, dict[str, Any]] = {
    "select_pet_type": {"selected_indices": [0]},
    "select_aesthetic": {"selected_indices": [2]},
    "select_scene": {"selected_indices": ["scenes", 0]},
    "select_motion_elements": {"selected_indices": [["detected", 0], ["detected", 1]]},
    "generate_and_select_videos_v2": {"action_id": "continue",
                                      "confirmed_warnings": ["warn_no_video_generation"]},
    "select_duration": {"selected_indices": [1]},
    "generate_and_select_music_v2": {"action_id": "continue",
                                     "confirmed_warnings": ["warn_no_music_generation"]},
    "select_text_overlay": {"selected_indices": [["text_sets", 0]]},
    "select_title_description": {"selected_indices": [0]},
    "write_summary_file": {"file_written": True, "file_path": "cuddle_crew_summary.txt"},
}


def image_answer(result: dict[str, Any]) -> dict[str, Any]:
    """A4: select the first generated image of the sub-action result."""
    return {"action_id": "continue", "selected_content_id": result["content_ids"][0],
            "generations": {"prompts.leonardo": [result]}}

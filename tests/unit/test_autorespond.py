"""Generated auto-respond answers (engine.md §14.3, ENG-41)."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

from engine.autorespond import generate_answer, selection_candidates
from engine.mock_data import MOCK_PLACEHOLDER_URL, MOCK_WORDS
from engine.upload import load_workflow_folder
from engine.wire import InteractionRequest, InteractionResponseData

CUDDLE = Path(__file__).resolve().parents[2].parent / "shared" / "workflows" / "cuddle_crew"
WF = load_workflow_folder(CUDDLE, "workflow_v3.json")
MODULES = {m["name"]: m for s in WF["steps"] for m in s["modules"]}


def _hex():
    counter = itertools.count(1)
    return lambda: format(next(counter), "032x")


def _answer(request, seed=None, mock=True, retryable=None, step="s", module="m", new_hex=None):
    return generate_answer(request, seed=seed, mock=mock, retryable=retryable, step_id=step,
                           module_name=module, new_hex=new_hex or _hex())


def _select(module, data, multi=False, min_sel=1):
    return InteractionRequest(
        interaction_id="select_1", interaction_type="select_from_structured",
        min_selections=min_sel, max_selections=-1 if multi else 1,
        display_data={"data": data, "schema": MODULES[module]["inputs"]["schema"],
                      "multi_select": multi, "mode": "select", "retryable": None, "sub_actions": None})


SCENES = {"scenes": [{"title": "t" + str(i)} for i in range(6)]}
DETECTED = {"detected": [{"element": "e" + str(i)} for i in range(5)]}


def test_eng41_select_scene_object_data_unwrapped():
    """[ENG-41] select_scene (object data, `_ux.selectable`) → ["scenes", 0] with seed None."""
    answer = _answer(_select("select_scene", SCENES), module="select_scene")
    assert answer == InteractionResponseData(selected_indices=["scenes", 0])


def test_eng41_select_motion_elements_multi_wrapped():
    """[ENG-41] Multi-select keeps long paths: [["detected", 0]]; min_selections honoured."""
    request = _select("select_motion_elements", DETECTED, multi=True)
    assert _answer(request).selected_indices == [["detected", 0]]
    request = _select("select_motion_elements", DETECTED, multi=True, min_sel=2)
    assert _answer(request).selected_indices == [["detected", 0], ["detected", 1]]


def test_eng41_select_pet_type_array():
    """[ENG-41] Array data → [0]; multi-select unwraps one-element paths."""
    data = MODULES["select_pet_type"]["inputs"]["data"]
    assert _answer(_select("select_pet_type", data)).selected_indices == [0]
    assert _answer(_select("select_pet_type", data, multi=True, min_sel=2)).selected_indices == [0, 1]


def test_select_candidate_detection_forms():
    """engine.md §14.3: `selectable`, nested `_ux.selectable`, flat "_ux.selectable"; others skipped."""
    schema = {"type": "object", "properties": {
        "a": {"type": "array", "items": {"selectable": True}},
        "b": {"type": "array", "items": {"_ux": {"selectable": True}}},
        "c": {"type": "array", "items": {"_ux.selectable": True}},
        "d": {"type": "array", "items": {"type": "object"}},
        "e": {"type": "array", "items": {"selectable": True}}}}
    data = {"a": [1], "b": [1, 2], "c": [1], "d": [1], "e": "not a list"}
    assert selection_candidates(schema, data) == [["a", 0], ["b", 0], ["b", 1], ["c", 0]]
    assert selection_candidates({"type": "array"}, {"x": 1}) == []


def test_select_too_few_candidates_gives_no_answer():
    """engine.md §14.3: too few candidates → no answer."""
    assert _answer(_select("select_scene", {"scenes": []})) is None
    assert _answer(_select("select_pet_type", [{"id": 1}], multi=True, min_sel=2)) is None


def test_eng41_seeded_choices_deterministic_and_in_candidate_order():
    """[ENG-41] Random(f"{seed}:{step_id}:{module_name}"), rng.sample then candidate order."""
    request = _select("select_motion_elements", DETECTED, multi=True, min_sel=3)
    first = _answer(request, seed=7, step="video_generation", module="select_motion_elements")
    again = _answer(request, seed=7, step="video_generation", module="select_motion_elements")
    assert first == again
    rng = random.Random("7:video_generation:select_motion_elements")
    expected = sorted(rng.sample(range(5), 3))
    assert first.selected_indices == [["detected", i] for i in expected]
    others = {tuple(map(tuple, _answer(request, seed=s).selected_indices)) for s in range(10)}
    assert len(others) > 1


def test_review_file_download_and_file_input():
    """engine.md §14.3 rows: review_grouped `{}`, file_download, file_input none, unknown none."""
    review = InteractionRequest(interaction_id="r", interaction_type="review_grouped")
    assert _answer(review) == InteractionResponseData()
    download = InteractionRequest(interaction_id="d", interaction_type="file_download",
                                  file_name="cuddle_crew_summary.txt")
    assert _answer(download) == InteractionResponseData(file_written=True, file_path="cuddle_crew_summary.txt")
    assert _answer(InteractionRequest(interaction_id="f", interaction_type="file_input")) is None
    assert _answer(InteractionRequest(interaction_id="x", interaction_type="resume_choice")) is None


def test_text_input_rows():
    """engine.md §14.3 text_input: default, allow_empty, mock text, seeded words, pattern."""
    def text(**kw):
        return InteractionRequest(interaction_id="t", interaction_type="text_input", **kw)
    assert _answer(text(default_value="hello")).value == "hello"
    assert _answer(text(allow_empty=True)).value == ""
    assert _answer(text()).value == "mock text"
    words = _answer(text(), seed=3).value.split(" ")
    assert len(words) == 2 and all(w in MOCK_WORDS for w in words)
    assert _answer(text(), seed=3) == _answer(text(), seed=3)
    digits = {"pattern": "[0-9]+", "separator": ",", "require_at_least_one_match": True}
    assert _answer(text(context={"validation": digits})) is None
    assert _answer(text(default_value="1, 22", context={"validation": digits})).value == "1, 22"


def test_form_input_defaults_then_mock():
    """engine.md §14.3 form_input: per form_defaults entry, default else generated (seed or 0)."""
    schema = {"type": "object", "properties": {"name": {"type": "string", "default": "x"},
                                               "count": {"type": "integer", "minimum": 1, "maximum": 3},
                                               "flag": {"type": "boolean"}}}
    request = InteractionRequest(interaction_id="f", interaction_type="form_input", form_schema=schema,
                                 form_defaults=[{"name": "first"}, {}])
    rows = _answer(request).form_data
    assert [r["name"] for r in rows] == ["first", "x"]
    assert all(1 <= r["count"] <= 3 and isinstance(r["flag"], bool) for r in rows)
    assert _answer(request, seed=None) == _answer(request, seed=0)


def _media_request(module):
    retryable = MODULES[module]["retryable"]
    prompts = {"leonardo": {"positive_prompt": "p"}, "openai": {"prompt": "q"}}
    return InteractionRequest(interaction_id="media_1", interaction_type="media_generation",
                              display_data={"data": {"prompts": prompts}, "retryable": retryable,
                                            "generations": {}}), retryable


def test_eng41_media_generation_mock_with_warnings():
    """[ENG-41] Default option, warning ids confirmed, synthetic generation for the first provider."""
    request, retryable = _media_request("generate_and_select_videos_v2")
    answer = _answer(request, retryable=retryable)
    assert answer.action_id == "continue"
    assert answer.confirmed_warnings == ["warn_no_video_generation"]
    content_id = "mock-gc_" + format(1, "032x")
    assert answer.selected_content_id == content_id
    assert answer.generations == {"prompts.leonardo": [{
        "urls": [MOCK_PLACEHOLDER_URL], "metadata_id": "mock-cgm_" + format(2, "032x"),
        "content_ids": [content_id], "prompt_id": "default", "provider": "leonardo"}]}


def test_media_generation_live_and_error_validations():
    """engine.md §14.3: live answers only `{action_id, confirmed_warnings}`; error validations not confirmed."""
    request, retryable = _media_request("generate_and_select_images_v2")
    live = _answer(request, mock=False, retryable=retryable)
    assert live == InteractionResponseData(action_id="continue", confirmed_warnings=[])
    mocked = _answer(request, retryable=None)  # falls back to display_data.retryable
    assert mocked.confirmed_warnings == [] and mocked.selected_content_id.startswith("mock-gc_")
    custom = {"default_option": "go", "options": [{"id": "go", "mode": "continue", "validations": [
        {"id": "w1", "rule": "response_field_not_empty", "severity": "warning"},
        {"id": "e1", "rule": "response_field_required"}]}]}
    assert _answer(request, retryable=custom, mock=False) == InteractionResponseData(
        action_id="go", confirmed_warnings=["w1"])


def test_display_schemas_from_cuddle_crew_are_used_verbatim():
    """Sanity: the display schemas the tests rely on carry the documented selectable markers."""
    scene = MODULES["select_scene"]["inputs"]["schema"]
    assert scene["properties"]["scenes"]["items"]["_ux"]["selectable"] is True
    assert json.dumps(MODULES["select_pet_type"]["inputs"]["schema"]).count('"selectable": true') == 1

"""Answer helpers: the wire answer each builds, checked by the real modules, and the errors when
an answer does not fit the pending interaction (issue 14 item 2)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from client.answer_core import SubActionCall, as_response
from client.answers import (
    accept,
    choose,
    choose_id,
    choose_where,
    download,
    fill_form,
    jump_back,
    pick_media,
    proceed,
    respond_with,
    retry,
    type_text,
    upload,
)
from client.errors import AnswerError
from engine.modules.user.file_input import UserFileInputModule
from engine.modules.user.form import UserFormModule
from engine.modules.user.select import UserSelectModule
from engine.modules.user.text_input import UserTextInputModule
from engine.wire import InteractionRequest, InteractionResponseData
from tests.unit.module_harness import make_context

ITEMS = [{"id": "cat", "n": 1}, {"id": "dog", "n": 2}, {"id": "fox", "n": 3}]
FLAT_SCHEMA = {"type": "array", "items": {"type": "object"}}
NESTED_SCHEMA = {"type": "object", "properties": {
    "title": {"type": "string"},
    "scenes": {"type": "array", "items": {"type": "object", "_ux": {"selectable": True}}}}}
RETRYABLE = {"options": [
    {"id": "continue", "mode": "continue", "validations": [
        {"id": "warn_empty", "severity": "warning", "rule": "x"},
        {"id": "must", "severity": "error", "rule": "y"}]},
    {"id": "again", "mode": "retry", "target_module": "make_items"},
    {"id": "back", "mode": "jump", "target_module": "pick_first", "target_step": "s1"}]}


def select_module(data: Any, schema: dict[str, Any], **inputs: Any) -> tuple[Any, dict[str, Any]]:
    """A real `user.select` request, and its inputs for validate_response."""
    full = {"data": data, "schema": schema, **inputs}
    context = make_context(module_name="pick", retryable=inputs.pop("retryable", RETRYABLE))
    request = UserSelectModule().get_interaction_request(full, context).request
    request.context = {"module_name": "pick", "step_id": "s1"}
    return request, full


def check_select(request: InteractionRequest, inputs: dict[str, Any],
                 answer: InteractionResponseData) -> dict[str, Any]:
    module = UserSelectModule()
    assert module.validate_response(request, inputs, answer, {}) == []
    return module.execute_with_response(inputs, make_context(), answer, {})


def test_choose_by_position_on_flat_and_nested_data() -> None:
    request, inputs = select_module(ITEMS, FLAT_SCHEMA)
    answer = choose(1).build(request)
    assert answer.selected_indices == [1]
    assert check_select(request, inputs, answer)["selected_data"] == ITEMS[1]
    data = {"title": "t", "scenes": ITEMS}
    request, inputs = select_module(data, NESTED_SCHEMA)
    answer = choose(2).build(request)
    assert answer.selected_indices == ["scenes", 2]  # the unwrapped path templates index into
    assert check_select(request, inputs, answer)["selected_data"] == ITEMS[2]
    assert choose(("scenes", 0)).build(request).selected_indices == ["scenes", 0]


def test_choose_several_on_a_multiple_selection() -> None:
    request, inputs = select_module({"scenes": ITEMS}, NESTED_SCHEMA, multi_select=True)
    answer = choose(0, 2).build(request)
    assert answer.selected_indices == [["scenes", 0], ["scenes", 2]]
    assert check_select(request, inputs, answer)["selected_data"] == [ITEMS[0], ITEMS[2]]
    request, inputs = select_module(ITEMS, FLAT_SCHEMA, multi_select=True)
    assert choose(2, 0).build(request).selected_indices == [2, 0]


def test_choose_errors_name_the_interaction() -> None:
    request, _ = select_module(ITEMS, FLAT_SCHEMA)
    with pytest.raises(AnswerError, match="out of range .3 selectable items"):
        choose(3).build(request)
    with pytest.raises(AnswerError, match="takes one selection, got 2"):
        choose(0, 1).build(request)
    with pytest.raises(AnswerError, match="not a selectable item"):
        choose(("scenes", 0)).build(request)
    limited, _ = select_module(ITEMS, FLAT_SCHEMA, multi_select=True, max_selections=2)
    with pytest.raises(AnswerError, match="takes 1…2 selections, got 3"):
        choose(0, 1, 2).build(limited)
    text = InteractionRequest(interaction_id="text_1", interaction_type="text_input",
                              context={"module_name": "ask_name"})
    with pytest.raises(AnswerError, match="pending one is interaction text_1 of ask_name "
                                          r"\(text_input\)"):
        choose(0).build(text)


def test_choose_id_and_choose_where() -> None:
    request, inputs = select_module({"scenes": ITEMS}, NESTED_SCHEMA)
    answer = choose_id("fox").build(request)
    assert answer.selected_indices == ["scenes", 2]
    assert check_select(request, inputs, answer)["selected_data"]["id"] == "fox"
    assert choose_id(2, key="n").build(request).selected_indices == ["scenes", 1]
    with pytest.raises(AnswerError,
                       match=r"no item with id='owl' \(there are \['cat', 'dog', 'fox'\]\)"):
        choose_id("owl").build(request)
    assert choose_where(lambda item: item["n"] > 1).build(request).selected_indices == \
        ["scenes", 1]  # a single selection takes the first match
    multi, _ = select_module(ITEMS, FLAT_SCHEMA, multi_select=True)
    assert choose_where(lambda item: item["n"] > 1).build(multi).selected_indices == [1, 2]
    assert choose_where(lambda item: True, limit=1).build(multi).selected_indices == [0]
    with pytest.raises(AnswerError, match="no displayed item matches"):
        choose_where(lambda item: False).build(multi)


def test_accept_a_review() -> None:
    request, inputs = select_module(ITEMS, FLAT_SCHEMA, mode="review")
    assert request.interaction_type == "review_grouped"
    assert check_select(request, inputs, accept().build(request))["selected_indices"] == []


def form_request(rows: int = 2) -> tuple[InteractionRequest, dict[str, Any]]:
    schema = {"input_schema": {"type": "object", "required": ["rating"], "properties": {
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "note": {"type": "string", "default": "ok"}}}}
    inputs = {"data": [{"x": i} for i in range(rows)], "schema": schema}
    return UserFormModule().get_interaction_request(inputs, make_context()).request, inputs


def test_fill_form_builds_rows_the_module_accepts() -> None:
    request, inputs = form_request()
    module = UserFormModule()
    everywhere = fill_form(rating=4).build(request)
    assert everywhere.form_data == [{"note": "ok", "rating": 4}, {"note": "ok", "rating": 4}]
    assert module.validate_response(request, inputs, everywhere, {}) == []
    per_row = fill_form([{"rating": 1}, {"rating": 5, "note": "great"}]).build(request)
    assert module.validate_response(request, inputs, per_row, {}) == []
    outputs = module.execute_with_response(inputs, make_context(), per_row, {})
    assert [r["rating"] for r in outputs["form_data"]] == [1, 5]
    computed = fill_form(lambda defaults, i: {"rating": i + 2}).build(request)
    assert [r["rating"] for r in computed.form_data] == [2, 3]  # type: ignore[index]
    with pytest.raises(AnswerError, match="has 2 rows, fill_form got 1"):
        fill_form([{"rating": 1}]).build(request)
    with pytest.raises(AnswerError, match=r"has no field \['stars'\]"):
        fill_form(stars=3).build(request)


def test_type_text_upload_and_download() -> None:
    text_inputs = {"prompt": "Name?"}
    module = UserTextInputModule()
    request = module.get_interaction_request(text_inputs, make_context()).request
    answer = type_text("Porto").build(request)
    assert module.validate_response(request, text_inputs, answer, {}) == []
    assert module.execute_with_response(text_inputs, make_context(), answer, {})["value"] == "Porto"
    with pytest.raises(AnswerError, match="does not accept an empty value"):
        type_text("").build(request)
    file_inputs = {"prompt": "A picture", "extensions": ["png"]}
    file_module = UserFileInputModule()
    file_request = file_module.get_interaction_request(file_inputs, make_context()).request
    png = upload(b"\x89PNG\r\n", "image/png", "a.png").build(file_request)
    assert png.value == "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n").decode()
    assert file_module.validate_response(file_request, file_inputs, png, {}) == []
    offer = InteractionRequest(interaction_id="file_1", interaction_type="file_download",
                               file_name="summary.txt")
    done = download().build(offer)
    assert done.file_path == "summary.txt" and done.file_written
    assert download("out/x.txt").build(offer).file_path == "out/x.txt"


def media_request(retryable: Any = RETRYABLE) -> InteractionRequest:
    return InteractionRequest(interaction_id="media_1", interaction_type="media_generation",
                              display_data={"retryable": retryable},
                              context={"module_name": "make_images"})


GENERATED = [
    {"metadata_id": "m1", "content_ids": ["c1", "c2"], "urls": ["u1", "u2"],
     "provider": "leonardo", "prompt_id": "default"},
    {"metadata_id": "m2", "content_ids": ["c3"], "urls": ["u3"], "provider": "openai",
     "prompt_id": "default"},
]


def test_pick_media_and_proceed() -> None:
    request = media_request()
    with pytest.raises(AnswerError, match=r"run its sub-action first"):
        pick_media().build(request)
    second = pick_media(1).build(request, GENERATED)
    assert second.selected_content_id == "c2" and second.action_id == "continue"
    assert second.generations == {"prompts.leonardo": [GENERATED[0]],
                                  "prompts.openai": [GENERATED[1]]}
    assert pick_media(content_id="c3").build(request, GENERATED).selected_content_id == "c3"
    assert pick_media(where=lambda i: i["provider"] == "openai").build(
        request, GENERATED).selected_content_id == "c3"
    with pytest.raises(AnswerError, match="no such generated item among 3"):
        pick_media(5).build(request, GENERATED)
    go_on = proceed().build(request)
    assert go_on.action_id == "continue" and go_on.confirmed_warnings == ["warn_empty"]
    assert proceed(confirm_warnings=False).build(request).confirmed_warnings == []
    with pytest.raises(AnswerError, match=r"has no option 'skip'"):
        proceed("skip").build(request)


def test_retry_and_jump_back_use_the_displayed_options() -> None:
    request = media_request()
    again = retry("more variety").build(request)
    assert again.retry_requested and again.retry_feedback == "more variety"
    assert again.action_id == "again"
    back = jump_back("pick_first").build(request)
    assert back.jump_back_requested and back.jump_back_target == "pick_first"
    assert back.action_id == "back" and jump_back("back").build(request).action_id == "back"
    with pytest.raises(AnswerError, match=r"cannot jump to 'nowhere' .*\('back', 'pick_first'\)"):
        jump_back("nowhere").build(request)
    bare = media_request(retryable=None)  # shown, but the module has no retryable options
    with pytest.raises(AnswerError, match="has no retry option"):
        retry().build(bare)
    hidden = InteractionRequest(interaction_id="text_1", interaction_type="text_input")
    assert retry("x").build(hidden).action_id is None  # only the server can tell here


def test_as_response_and_after() -> None:
    assert as_response({"selected_indices": [0]}, None).selected_indices == [0]
    wire = InteractionResponseData(value="v")
    assert as_response(wire, None) is wire
    with pytest.raises(AnswerError, match="not an InteractionResponseData"):
        as_response({"selected_indices": "nope"}, None)
    with pytest.raises(AnswerError, match="helpers answer the pending interaction"):
        as_response(choose(0), None)
    base = pick_media(0)
    chained = base.after("image_generation", {"provider": "leonardo"}).after("second")
    assert base.before == ()
    assert chained.before == (SubActionCall("image_generation", {"provider": "leonardo"}),
                              SubActionCall("second", {}))
    assert respond_with(action_id="x").build(media_request()).action_id == "x"

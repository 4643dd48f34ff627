"""user.select, user.text_input, user.form, user.file_input, user.pause (modules.md §7.23–§7.27)."""

from __future__ import annotations

import base64
import copy

import pytest

from engine.errors import ModuleExecutionError
from engine.mock_data import generate_mock
from engine.modules.user.file_input import UserFileInputModule
from engine.modules.user.form import UserFormModule
from engine.modules.user.pause import UserPauseModule
from engine.modules.user.select import UserSelectModule
from engine.modules.user.text_input import UserTextInputModule
from tests.unit.module_harness import load_json, make_context, response

PET_TYPES = [
    {"id": "cat", "label": "Cat",
     "description": "Feline friends - independent, curious, and endlessly entertaining"},
    {"id": "dog", "label": "Dog",
     "description": "Canine companions - loyal, playful, and always happy to see you"},
    {"id": "both", "label": "Cat & Dog",
     "description": "Multi-pet household - the chaos and love of furry siblings"},
]
AESTHETICS = load_json("steps/1_user_input/core_aesthetics.json")
SCENE_SCHEMA = load_json("steps/2_scene_generation/schemas/scene_concepts_schema.json")
ANALYSIS_SCHEMA = load_json("steps/4_image_analysis/schemas/cc_image_analysis_schema.json")
OVERLAY_SCHEMA = load_json("steps/8_text_overlays/schemas/cc_text_overlays_schema.json")
TITLES_SCHEMA = load_json("steps/9_titles_social/schemas/cc_titles_social_schema.json")
# six scenes, as after the `regenerate_scenes` merge (ENG-36)
SCENES = {"scenes": generate_mock(SCENE_SCHEMA, 1)["scenes"] + generate_mock(SCENE_SCHEMA, 2)["scenes"]}


def select_inputs(data, *, multi=False, mode="select", min_selections=1, max_selections=None):
    return {"data": data, "schema": {"type": "array"}, "prompt": "Pick", "multi_select": multi,
            "mode": mode, "min_selections": min_selections, "max_selections": max_selections}


def answer(module, inputs, resp, context=None, state=None):
    context = context or make_context(module_id="user.select")
    result = module.get_interaction_request(inputs, context)
    errors = module.validate_response(result.request, inputs, resp, result.module_state)
    if errors:
        return errors
    return module.execute_with_response(inputs, context, resp, result.module_state)


# ------------------------------------------------------------------ MOD-select-1


def test_select_request_fields_mod_select_1():
    ctx = make_context(retryable={"options": [{"id": "continue", "mode": "continue"}]},
                       sub_actions=[{"id": "regen"}])
    inputs = select_inputs(PET_TYPES)
    req = UserSelectModule().get_interaction_request(inputs, ctx).request
    assert req.interaction_id.startswith("select_") and len(req.interaction_id) == 7 + 32
    assert req.interaction_type == "select_from_structured"
    assert req.title == "Pick" and req.options == [] and req.min_selections == 1
    assert req.max_selections == 1
    assert req.display_data == {"data": PET_TYPES, "schema": {"type": "array"},
                                "multi_select": False, "mode": "select",
                                "retryable": {"options": [{"id": "continue", "mode": "continue"}]},
                                "sub_actions": [{"id": "regen"}]}


def test_select_review_mode_and_multi_max_mod_select_1():
    req = UserSelectModule().get_interaction_request(
        select_inputs(PET_TYPES, multi=True, mode="review"), make_context()).request
    assert req.interaction_type == "review_grouped"
    assert req.max_selections == -1
    req = UserSelectModule().get_interaction_request(
        select_inputs(PET_TYPES, multi=True, max_selections=2), make_context()).request
    assert req.max_selections == 2


def test_select_unknown_mode_rejected_mod_select_1():
    with pytest.raises(ModuleExecutionError) as exc:
        UserSelectModule().get_interaction_request(select_inputs(PET_TYPES, mode="pick"),
                                                   make_context())
    assert exc.value.error_type == "input_validation_failed"


def test_select_display_schema_passed_unchanged_mod_select_1():
    schema = load_json("steps/2_scene_generation/schemas/scene_display_schema.json")
    inputs = {**select_inputs(SCENES), "schema": copy.deepcopy(schema)}
    req = UserSelectModule().get_interaction_request(inputs, make_context()).request
    assert req.display_data["schema"] == schema


# ------------------------------------------------------------------ §7.23 examples (MOD-select-2/4)


def test_select_pet_type_example_mod_select_4():
    out = answer(UserSelectModule(), select_inputs(PET_TYPES), response(selected_indices=[0]))
    assert out["selected_data"] == {
        "id": "cat", "label": "Cat",
        "description": "Feline friends - independent, curious, and endlessly entertaining"}
    assert out["selected_indices"] == [0]
    assert out["retry_requested"] is False and out["retry_feedback"] == ""
    assert out["retry_groups"] == [] and out["jump_back_requested"] is False
    assert out["jump_back_target"] == ""


@pytest.mark.parametrize("index,expected", [(2, "playful"), (5, "quiet")])
def test_select_aesthetic_example_mod_select_4(index, expected):
    out = answer(UserSelectModule(), select_inputs(AESTHETICS), response(selected_indices=[index]))
    assert out["selected_data"]["id"] == expected
    assert out["selected_data"] == AESTHETICS[index]


@pytest.mark.parametrize("indices", [["scenes", 4], [["scenes", 4]]])
def test_select_scene_both_forms_mod_select_2(indices):
    """Unwrapped and wrapped single selections address the same scene; indices kept as received."""
    out = answer(UserSelectModule(), select_inputs(SCENES), response(selected_indices=indices))
    assert out["selected_data"] == SCENES["scenes"][4]
    assert out["selected_indices"] == indices


def test_select_scene_digit_string_addresses_array_mod_select_2():
    out = answer(UserSelectModule(), select_inputs(SCENES), response(selected_indices=["scenes", "4"]))
    assert out["selected_data"] == SCENES["scenes"][4]
    assert out["selected_indices"] == ["scenes", "4"]


def test_select_motion_elements_multi_mod_select_4():
    detected = generate_mock(ANALYSIS_SCHEMA, 3)["motion_elements"]["detected_elements"]
    assert len(detected) >= 2
    inputs = select_inputs({"detected": detected}, multi=True)
    out = answer(UserSelectModule(), inputs,
                 response(selected_indices=[["detected", 0], ["detected", 1]]))
    assert out["selected_data"] == detected[:2]
    assert out["selected_indices"] == [["detected", 0], ["detected", 1]]


def test_select_text_overlay_wrapped_mod_select_4():
    overlays = generate_mock(OVERLAY_SCHEMA, 4)
    out = answer(UserSelectModule(), select_inputs(overlays), response(selected_indices=[["text_sets", 0]]))
    assert out["selected_data"] == overlays["text_sets"][0]


def test_select_title_description_mod_select_4():
    options = generate_mock(TITLES_SCHEMA, 5)["options"]
    out = answer(UserSelectModule(), select_inputs(options), response(selected_indices=[0]))
    assert out["selected_data"] == options[0]


def test_select_scene_out_of_range_is_invalid_mod_select_3():
    errors = answer(UserSelectModule(), select_inputs(SCENES), response(selected_indices=[7]))
    assert [e.id for e in errors] == ["selection_invalid"]
    assert errors[0].field == "selected_indices" and errors[0].rule == "selection_exists"
    assert errors[0].message == "Selection [7] does not exist" and errors[0].severity == "error"


def test_select_multi_unwrapped_ints_mod_select_2():
    out = answer(UserSelectModule(), select_inputs(PET_TYPES, multi=True),
                 response(selected_indices=[0, 2]))
    assert [d["id"] for d in out["selected_data"]] == ["cat", "both"]


def test_select_multi_single_string_first_is_not_unwrapped_mod_select_2():
    """Only single-select treats a string-first list as one path."""
    errors = answer(UserSelectModule(), select_inputs(SCENES, multi=True),
                    response(selected_indices=["scenes", 4]))
    assert [e.message for e in errors] == ["Selection [4] does not exist"]


# ------------------------------------------------------------------ MOD-select-3 counts


def test_select_required_and_too_many_mod_select_3():
    errors = answer(UserSelectModule(), select_inputs(PET_TYPES), response(selected_indices=[]))
    assert [(e.id, e.rule, e.message) for e in errors] == [
        ("selection_required", "min_selections", "Select at least 1 item(s)")]
    errors = answer(UserSelectModule(), select_inputs(PET_TYPES, multi=True, max_selections=1),
                    response(selected_indices=[0, 1]))
    assert [(e.id, e.rule) for e in errors] == [("selection_too_many", "max_selections")]


def test_select_review_mode_needs_no_selection_mod_select_3():
    out = answer(UserSelectModule(), select_inputs(PET_TYPES, mode="review"), response())
    assert out["selected_data"] is None and out["selected_indices"] == []
    out = answer(UserSelectModule(), select_inputs(PET_TYPES, mode="review", multi=True), response())
    assert out["selected_data"] == []


def test_select_negative_and_bool_indices_invalid_mod_select_3():
    for bad in ([-1], [True], [["scenes", -1]], [{"x": 1}]):
        data = SCENES if isinstance(bad[0], list) else PET_TYPES
        errors = answer(UserSelectModule(), select_inputs(data), response(selected_indices=bad))
        assert [e.id for e in errors] == ["selection_invalid"], bad


# ------------------------------------------------------------------ selected_options fallback


def test_select_selected_options_fallback_mod_select_2():
    inputs = select_inputs(SCENES, multi=True)
    resp = response(selected_options=[{"index": ["scenes", 1]},
                                      {"metadata": {"indices": ["scenes", 2]}},
                                      {"metadata": {"_index": 5}}])
    ctx = make_context()
    module = UserSelectModule()
    errors = module.validate_response(None, inputs, resp, {})
    assert [e.message for e in errors] == ["Selection [5] does not exist"]
    resp = response(selected_options=[{"index": ["scenes", 1]},
                                      {"metadata": {"indices": ["scenes", 2]}}])
    assert module.validate_response(None, inputs, resp, {}) == []
    out = module.execute_with_response(inputs, ctx, resp, {})
    assert out["selected_indices"] == [["scenes", 1], ["scenes", 2]]
    assert out["selected_data"] == SCENES["scenes"][1:3]


def test_select_selected_options_integer_index_mod_select_2():
    out = answer(UserSelectModule(), select_inputs(PET_TYPES),
                 response(selected_options=[{"index": 1, "label": "Dog"}]))
    assert out["selected_data"]["id"] == "dog" and out["selected_indices"] == [[1]]


# ------------------------------------------------------------------ _metadata and stored data


def test_select_removes_metadata_from_selected_data_mod_select_4():
    data = [{"id": "a", "_metadata": {"decorators": []}}, {"id": "b"}]
    out = answer(UserSelectModule(), select_inputs(data), response(selected_indices=[0]))
    assert out["selected_data"] == {"id": "a"}
    assert data[0]["_metadata"] == {"decorators": []}  # inputs untouched


def test_select_uses_stored_refreshed_data_mod_select_4():
    """The response half reads the stored (latest refreshed) data, e.g. the merged 6 scenes."""
    three = {"scenes": SCENES["scenes"][:3]}
    module = UserSelectModule()
    ctx = make_context()
    first = module.get_interaction_request(select_inputs(three), ctx)
    assert module.validate_response(first.request, select_inputs(three),
                                    response(selected_indices=["scenes", 4]), {})[0].id == "selection_invalid"
    refreshed_inputs = select_inputs(SCENES)
    refreshed = module.refresh_interaction_request(first.request, refreshed_inputs,
                                                   first.module_state, ctx)
    assert len(refreshed.request.display_data["data"]["scenes"]) == 6
    out = module.execute_with_response(refreshed_inputs, ctx, response(selected_indices=["scenes", 4]),
                                       refreshed.module_state)
    assert out["selected_data"] == SCENES["scenes"][4]


# ------------------------------------------------------------------ user.text_input


def text_inputs(**extra):
    return {"prompt": "Name?", "default": "", "allow_empty": False, "retry_trigger_keyword": None,
            "retry_options": {}, "validation_pattern": None, "validation_separator": None,
            "validation_separator_is_regex": False, "validation_error": None,
            "require_at_least_one_match": True, **extra}


def test_text_input_request_mod_text_1():
    inputs = text_inputs(default="Rex", retry_trigger_keyword="r",
                         retry_options={"scene_generation": "Back to scenes"},
                         validation_pattern=r"\d+", validation_separator=",")
    req = UserTextInputModule().get_interaction_request(inputs, make_context()).request
    assert req.interaction_id.startswith("text_input_") and req.interaction_type == "text_input"
    assert (req.title, req.default_value, req.allow_empty, req.multiline) == ("Name?", "Rex", False, False)
    assert [(o.id, o.label) for o in req.extra_options] == [("scene_generation", "Back to scenes")]
    assert req.context == {"retry_trigger_keyword": "r",
                           "validation": {"pattern": r"\d+", "separator": ",",
                                          "separator_is_regex": False, "error": None,
                                          "require_at_least_one_match": True}}


def test_text_input_request_without_pattern_has_no_validation_context_mod_text_1():
    req = UserTextInputModule().get_interaction_request(text_inputs(), make_context()).request
    assert req.context == {}


def validate_text(inputs, **resp):
    return [e.id for e in UserTextInputModule().validate_response(None, inputs, response(**resp), {})]


def test_text_input_required_and_default_mod_text_2():
    assert validate_text(text_inputs(), value="") == ["value_required"]
    assert validate_text(text_inputs(), value=None) == ["value_required"]
    assert validate_text(text_inputs(allow_empty=True), value="") == []
    assert validate_text(text_inputs(default="fallback"), value="") == []
    out = UserTextInputModule().execute_with_response(text_inputs(default="fallback"), make_context(),
                                                      response(value=""), {})
    assert out == {"value": "fallback", "retry_requested": False, "retry_feedback": "",
                   "jump_back_requested": False, "jump_back_target": ""}


def test_text_input_pattern_with_separator_mod_text_2():
    inputs = text_inputs(validation_pattern=r"\d+", validation_separator=",",
                         validation_error="Numbers only")
    assert validate_text(inputs, value="1, 2 ,3,") == []
    items = UserTextInputModule().validate_response(None, inputs, response(value="1, x"), {})
    assert [(i.id, i.field, i.rule, i.message) for i in items] == [
        ("validation_pattern", "value", "validation_pattern", "Numbers only")]
    regex = text_inputs(validation_pattern=r"[a-z]+", validation_separator=r"\s*;\s*",
                        validation_separator_is_regex=True)
    assert validate_text(regex, value="ab ; cd;ef") == []
    assert validate_text(regex, value="ab ; C") == ["validation_pattern"]


def test_text_input_require_at_least_one_match_mod_text_2():
    inputs = text_inputs(validation_pattern=r"\d+", validation_separator=",")
    msg = UserTextInputModule().validate_response(None, inputs, response(value=" , ,"), {})
    assert msg[0].message == "Value does not match the required format"
    loose = text_inputs(validation_pattern=r"\d+", validation_separator=",",
                        require_at_least_one_match=False)
    assert validate_text(loose, value=" , ,") == []


def test_text_input_too_long_mod_text_2():
    items = UserTextInputModule().validate_response(None, text_inputs(), response(value="x" * 10_001), {})
    assert [(i.id, i.field, i.rule, i.message) for i in items] == [
        ("value_too_long", "value", "max_length", "Value is too long")]
    assert validate_text(text_inputs(), value="x" * 10_000) == []


def test_text_input_response_value_mod_text_3():
    out = UserTextInputModule().execute_with_response(text_inputs(), make_context(),
                                                      response(value="hello"), {})
    assert out["value"] == "hello"


# ------------------------------------------------------------------ user.form

FORM_SCHEMA = {"input_schema": {"type": "object", "properties": {
    "count": {"type": "integer", "minimum": 1, "default": 2},
    "note": {"type": "string"}}, "required": ["count", "note"]}}


def form_inputs():
    return {"data": [{"id": "a"}, {"id": "b"}], "schema": FORM_SCHEMA, "prompt": "Fill",
            "form_type": "table"}


def test_form_request_mod_form_1():
    req = UserFormModule().get_interaction_request(form_inputs(), make_context()).request
    assert req.interaction_id.startswith("form_") and req.interaction_type == "form_input"
    assert req.title == "Fill" and req.form_type == "table"
    assert req.form_schema == FORM_SCHEMA["input_schema"]
    assert req.form_defaults == [{"count": 2}, {"count": 2}]
    assert req.display_data == {"data": [{"id": "a"}, {"id": "b"}], "schema": FORM_SCHEMA}


def test_form_validation_mod_form_2():
    module = UserFormModule()
    ok = response(form_data=[{"note": "x"}, {"note": "y", "count": 3}])
    assert module.validate_response(None, form_inputs(), ok, {}) == []
    keyed = response(form_data={"1": {"note": "y"}, "0": {"note": "x"}})
    assert module.validate_response(None, form_inputs(), keyed, {}) == []
    short = module.validate_response(None, form_inputs(), response(form_data=[{"note": "x"}]), {})
    assert [e.id for e in short] == ["form_invalid"]
    bad = module.validate_response(None, form_inputs(),
                                   response(form_data=[{"note": "x", "count": 0}, {}]), {})
    assert [(e.id, e.field, e.rule) for e in bad] == [
        ("form_invalid", "form_data[0].count", "schema"),
        ("form_invalid", "form_data[1].note", "schema")]
    assert bad[1].message == "'note' is a required property"


def test_form_response_mod_form_3():
    out = UserFormModule().execute_with_response(
        form_inputs(), make_context(), response(form_data={"0": {"note": "x"}, "1": {"note": "y", "count": 5}}), {})
    assert out == {"form_data": [{"_item": {"id": "a"}, "_index": 0, "count": 2, "note": "x"},
                                 {"_item": {"id": "b"}, "_index": 1, "count": 5, "note": "y"}]}


# ------------------------------------------------------------------ user.file_input

PNG_URL = "data:image/png;base64," + base64.b64encode(b"\x89PNG....").decode()


def file_inputs(**extra):
    return {"prompt": "Upload", "extensions": None, "retry_trigger_keyword": "r",
            "retry_options": {}, **extra}


def test_file_input_request_mod_file_1():
    req = UserFileInputModule().get_interaction_request(
        file_inputs(extensions=[".png"], retry_options={"user_input": "Start over"}),
        make_context()).request
    assert req.interaction_id.startswith("file_input_") and req.interaction_type == "file_input"
    assert req.title == "Upload" and req.accepted_types == [".png"]
    assert [(o.id, o.label, o.metadata) for o in req.extra_options] == [
        ("jump_user_input", "Start over", {"action": "jump_back", "target": "user_input"})]
    assert UserFileInputModule().get_interaction_request(file_inputs(), make_context()).request.accepted_types == []


def file_errors(inputs, value):
    return [e.id for e in UserFileInputModule().validate_response(None, inputs, response(value=value), {})]


def test_file_input_validation_mod_file_2():
    assert file_errors(file_inputs(), PNG_URL) == []
    assert file_errors(file_inputs(extensions=[".png"]), PNG_URL) == []
    assert file_errors(file_inputs(extensions=["jpg", ".jpeg"]), PNG_URL) == ["file_invalid"]
    assert file_errors(file_inputs(), "/etc/passwd") == ["file_invalid"]
    assert file_errors(file_inputs(), "data:image/png;base64,@@@") == ["file_invalid"]
    assert file_errors(file_inputs(extensions=[".txt"]), "data:text/plain,hello%20world") == []


def test_file_input_size_limit_mod_file_2():
    big = "data:application/json;base64," + base64.b64encode(b"0" * (10 * 1024 * 1024 + 1)).decode()
    assert file_errors(file_inputs(), big) == ["file_invalid"]


def test_file_input_response_mod_file_3():
    module = UserFileInputModule()
    out = module.execute_with_response(file_inputs(), make_context(),
                                       response(value=PNG_URL, file_path="/x/y/photo.png"), {})
    assert out == {"value": PNG_URL, "filename": "photo.png", "jump_back_requested": False,
                   "jump_back_target": ""}
    out = module.execute_with_response(file_inputs(), make_context(), response(value=PNG_URL), {})
    assert out["filename"] == "uploaded_file"


# ------------------------------------------------------------------ user.pause


def test_pause_request_mod_pause_1():
    ctx = make_context(state={"a": {"k": [1, 2]}, "long": "x" * 5000})
    inputs = {"message": "Check", "show_state": ["a", "long", "missing"],
              "jinja2_test": "{{ state.a.k | length }} items"}
    req = UserPauseModule().get_interaction_request(inputs, ctx).request
    assert req.interaction_id.startswith("pause_") and req.interaction_type == "text_input"
    assert req.title == "Check" and req.multiline is True and req.context == {"pause": True}
    lines = req.default_value.split("\n")
    assert lines[0] == 'a: {"k":[1,2]}'
    assert lines[1] == "long: " + ('"' + "x" * 999)
    assert lines[2] == "missing: null"
    assert lines[3] == "jinja2_test result: 2 items"


def test_pause_template_error_shown_as_text_mod_pause_1():
    ctx = make_context(state={})
    req = UserPauseModule().get_interaction_request(
        {"message": "m", "show_state": [], "jinja2_test": "{{ x.__class__ }}"}, ctx).request
    assert req.default_value.startswith("jinja2_test result: Error: ")


def test_pause_accepts_any_answer_mod_pause_1():
    module = UserPauseModule()
    inputs = {"message": "m", "show_state": [], "jinja2_test": None}
    assert module.validate_response(None, inputs, response(), {}) == []
    assert module.execute_with_response(inputs, make_context(), response(value="whatever"), {}) == {
        "confirmed": True}

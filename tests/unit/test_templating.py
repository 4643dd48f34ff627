"""Input resolution rules of workflow-format.md §10–§12 (TPL-1, TPL-4…TPL-9)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FixedClock
from engine.errors import ResolutionFailed
from engine.jsonutil import canonical_json
from engine.settings import EngineSettings
from engine.templating import TemplateEngine, template_context

SUMMARY = Path("/work/shared/workflows/cuddle_crew/steps/10_workflow_summary/prompts/"
               "cc_workflow_summary.txt")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SCENE_STEP = {"step_id": "scene_generation", "name": "Step {step_number}: Generate Scene Concepts",
              "modules": []}


def _scenes() -> list[dict[str, Any]]:
    return [{"title": "Scene " + str(i), "hook": "h", "narrative": "n",
             "visual_moments": ["m1", "m2", "m3"], "pet_behavior": "purr",
             "scene_keywords": [{"keyword": "k" + str(i), "weight": 1}]} for i in range(5)]


def _state(**extra: Any) -> dict[str, Any]:
    """A hand-built run state shaped like cuddle_crew's after a few modules."""
    state: dict[str, Any] = {
        "workflow_name": "Cuddle Crew",
        "pet_type_selection": {"id": 1, "label": "Cats", "description": "Curious companions"},
        "scene_concepts": {"scenes": _scenes()},
        "flattened_keywords": [{"keyword": "yarn", "weight": 2, "source": "generated"},
                               {"keyword": "sunbeam", "weight": 1, "source": "generated"}],
        "selected_scene_indices": ["scenes", 4],
        "selected_scene": {"title": "Nap Time", "scene_keywords": []},
        "image_analysis": {"motion_elements": {"detected_elements": [
            {"element": "tail", "motion_type": "sway", "location": "left"},
            {"element": "ears", "motion_type": "twitch", "location": "top"}]}},
        "duration_selection": {"video_duration": 30, "sound_track_duration": 45},
    }
    state.update(extra)
    return state


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine(EngineSettings())


def _ctx(state: dict[str, Any] | None = None, step: dict[str, Any] | None = None) -> dict[str, Any]:
    return template_context(_state() if state is None else state, step or SCENE_STEP, {},
                            FixedClock(T0))


def _server(**fields: Any) -> dict[str, Any]:
    """Inputs whose given fields are all marked for server resolution."""
    schema = {"type": "object", "properties": {key: {"resolver": "server"} for key in fields}}
    return {"resolver_schema": schema, **fields}


# ------------------------------------------------------------------ §11.1 table (TPL-8)

def test_tpl8_row1_pure_expression_yields_object(engine: TemplateEngine) -> None:
    out = engine.resolve_inputs(_server(data="{{ state.scene_concepts }}"), _ctx())
    assert out == {"data": {"scenes": _scenes()}}


def test_tpl8_row2_nested_object_gets_native_array(engine: TemplateEngine) -> None:
    inputs = _server(data={"detected": "{{ state.image_analysis.motion_elements.detected_elements }}"})
    out = engine.resolve_inputs(inputs, _ctx())
    assert out["data"]["detected"] == _state()["image_analysis"]["motion_elements"]["detected_elements"]


def test_tpl8_row3_array_of_object_with_native_scene(engine: TemplateEngine) -> None:
    out = engine.resolve_inputs(_server(data=[{"scene": "{{ state.selected_scene }}"}]), _ctx())
    assert out["data"] == [{"scene": {"title": "Nap Time", "scene_keywords": []}}]
    state = _state()
    del state["selected_scene"]
    out = engine.resolve_inputs(_server(data=[{"scene": "{{ state.selected_scene }}"}]), _ctx(state))
    assert out["data"] == [{"scene": None}]


INDEXED = "{{ state.scene_concepts[state.selected_scene_indices[0]][state.selected_scene_indices[1]] }}"


def test_tpl8_row4_indexing_with_state_values(engine: TemplateEngine) -> None:
    out = engine.resolve_inputs(_server(scene=INDEXED), _ctx())
    assert out["scene"] == _scenes()[4]


def test_tpl8_row5_array_index_key_yields_null(engine: TemplateEngine) -> None:
    """TPL-5: indexing a mapping with an array yields undefined, not an error."""
    state = _state(selected_scene_indices=[["scenes", 4]])
    assert engine.resolve_inputs(_server(scene=INDEXED), _ctx(state)) == {"scene": None}


def test_tpl8_row6_step_namespace(engine: TemplateEngine) -> None:
    out = engine.resolve_inputs(_server(metadata={"step_id": "{{ step.step_id }}"}), _ctx())
    assert out == {"metadata": {"step_id": "scene_generation"}}


def test_tpl8_row7_missing_nested_field_renders_empty(engine: TemplateEngine) -> None:
    prompt = "Write about:\nTitle: {{ state.selected_scene.selected_data.title }}\nEnd"
    out = engine.resolve_inputs(_server(input=prompt), _ctx())
    assert out["input"] == "Write about:\nTitle: \nEnd"


def test_tpl8_row8_server_resolved_display_format_becomes_empty(engine: TemplateEngine) -> None:
    schema = {"type": "array", "items": {"properties": {"tags": {"display_format": "{{ value | join(', ') }}"}}}}
    out = engine.resolve_inputs(_server(display_schema=schema), _ctx())
    assert out["display_schema"]["items"]["properties"]["tags"]["display_format"] == ""


def test_tpl8_row9_source_data_native_integer(engine: TemplateEngine) -> None:
    schema = {"properties": {"duration_seconds": {"type": "integer", "_ux": {
        "input_type": "slider", "source_data": "{{ state.duration_selection.sound_track_duration }}"}}}}
    out = engine.resolve_inputs(_server(display_schema=schema), _ctx())
    assert out["display_schema"]["properties"]["duration_seconds"]["_ux"]["source_data"] == 45


def test_tpl8_row10_unmarked_schema_unchanged(engine: TemplateEngine) -> None:
    inputs = {"resolver_schema": {"type": "object", "properties": {"data": {"resolver": "server"}}},
              "data": "{{ state.scene_concepts }}",
              "schema": {"items": {"display_format": "{{ value | join(' → ') }}"}}}
    out = engine.resolve_inputs(inputs, _ctx())
    assert out["schema"] == {"items": {"display_format": "{{ value | join(' → ') }}"}}


# ------------------------------------------------------------------ TPL-1 resolver_schema rules

def test_tpl1_unmarked_template_passes_literally(engine: TemplateEngine) -> None:
    inputs = {"resolver_schema": {"properties": {}}, "prompt": "{{ state.workflow_name }}"}
    assert engine.resolve_inputs(inputs, _ctx()) == {"prompt": "{{ state.workflow_name }}"}


def test_tpl1_no_top_level_resolver_schema_is_all_literal(engine: TemplateEngine) -> None:
    inputs = {"data": "{{ state.scene_concepts }}",
              "nested": {"resolver_schema": {"properties": {"x": {"resolver": "server"}}},
                         "x": "{{ 1 + 1 }}"}}
    out = engine.resolve_inputs(inputs, _ctx())
    assert out == inputs and out is not inputs and out["nested"] is not inputs["nested"]


def test_tpl1_nested_resolver_schema_applies_inside_server_object(engine: TemplateEngine) -> None:
    """The media.generateV2 prompt_config shape: nested schema with a client-marked field."""
    prompt_config = {
        "resolver_schema": {"type": "object", "properties": {
            "user": {"resolver": "server"}, "metadata": {"resolver": "server"},
            "client_view": {"resolver": "client"}}},
        "provider": "openai",
        "user": "Pet: {{ state.pet_type_selection.label }}",
        "metadata": {"step_id": "{{ step.step_id }}"},
        "client_view": {"resolver_schema": {"properties": {}}, "fmt": "{{ value }}"},
        "note": "{{ state.workflow_name }}",
    }
    out = engine.resolve_inputs(_server(prompt_config=prompt_config), _ctx())
    config = out["prompt_config"]
    assert "resolver_schema" not in config
    assert config["user"] == "Pet: Cats"
    assert config["metadata"] == {"step_id": "scene_generation"}
    # client-marked: literal copy, inner resolver_schema kept
    assert config["client_view"] == {"resolver_schema": {"properties": {}}, "fmt": "{{ value }}"}
    # no marker: inherits the server mode of the parent
    assert config["note"] == "Cuddle Crew"
    assert "resolver_schema" not in out


def test_tpl1_literal_copy_keeps_nested_resolver_schema(engine: TemplateEngine) -> None:
    inner = {"resolver_schema": {"properties": {"a": {"resolver": "server"}}}, "a": "{{ 1 }}"}
    inputs = {"resolver_schema": {"properties": {}}, "literal": {"deep": inner}}
    out = engine.resolve_inputs(inputs, _ctx())
    assert out == {"literal": {"deep": inner}}
    assert out["literal"]["deep"] is not inner


def test_tpl1_non_string_scalars_unchanged(engine: TemplateEngine) -> None:
    out = engine.resolve_inputs(_server(n=3, b=True, z=None, f=1.5), _ctx())
    assert out == {"n": 3, "b": True, "z": None, "f": 1.5}


# ------------------------------------------------------------------ TPL-4 native vs text

def test_tpl4_pure_expressions_are_native(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ state.flattened_keywords }}", ctx) == _state()["flattened_keywords"]
    assert engine.evaluate("  {{ state.duration_selection.video_duration }} ", ctx) == 30
    assert engine.evaluate("{{ state.duration_selection.video_duration > 10 }}", ctx) is True


def test_tpl4_mixed_text_renders_string(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ state.duration_selection.video_duration }}s", ctx) == "30s"
    assert engine.evaluate("{% if true %}{{ 5 }}{% endif %}", ctx) == "5"
    assert engine.evaluate("{{ 1 }} and {{ 2 }}", ctx) == "1 and 2"
    assert engine.evaluate("a\n{{ state.pet_type_selection.label }}\nb", ctx) == "a\nCats\nb"


def test_tpl4_string_without_markers_is_returned_unchanged(engine: TemplateEngine) -> None:
    text = "plain {# not a template #} text\r\n"
    assert engine.evaluate(text, _ctx()) is text


# ------------------------------------------------------------------ TPL-5 undefined semantics

def test_tpl5_undefined_is_chainable_falsy_empty(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ state.nope.deeper['x'].y }}", ctx) is None
    assert engine.evaluate("[{{ state.nope.deeper }}]", ctx) == "[]"
    assert engine.evaluate("{{ 'yes' if state.nope else 'no' }}", ctx) == "no"
    assert engine.evaluate("{{ state.nope | length }}", ctx) == 0
    assert engine.evaluate("{% for x in state.nope %}x{% endfor %}|", ctx) == "|"


def test_tpl5_wrong_key_type_yields_undefined(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ state.scene_concepts[[1, 2]] }}", ctx) is None
    assert engine.evaluate("{{ state.flattened_keywords['x'] }}", ctx) is None


@pytest.mark.parametrize("source", ["{{ state.nope() }}", "{{ state.nope + 1 }}",
                                    "x {{ state.nope * 2 }}", "{{ -state.nope.x }}"])
def test_tpl5_calling_or_arithmetic_on_undefined_fails(engine: TemplateEngine, source: str) -> None:
    with pytest.raises(ResolutionFailed):
        engine.evaluate(source, _ctx())


# ------------------------------------------------------------------ TPL-6 normalisation

def test_tpl6_tuples_datetimes_and_undefined_normalised(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ (1, 2) }}", ctx) == [1, 2]
    assert engine.evaluate("{{ now() }}", ctx) == "2026-01-01T00:00:00.000Z"
    assert engine.evaluate("{{ [state.nope, 1] }}", ctx) == [None, 1]


def test_tpl6_results_are_deep_copies(engine: TemplateEngine) -> None:
    state = _state()
    ctx = _ctx(state)
    before = canonical_json(ctx["state"])
    value = engine.evaluate("{{ state.scene_concepts }}", ctx)
    value["scenes"][0]["title"] = "changed"
    value["scenes"].append({})
    assert canonical_json(ctx["state"]) == before
    assert type(value) is dict and type(value["scenes"]) is list


@pytest.mark.parametrize("source", ["{{ state.scene_concepts.items }}", "{{ range(3) }}",
                                    "{{ state.flattened_keywords | map(attribute='keyword') }}"])
def test_tpl6_non_data_value_fails(engine: TemplateEngine, source: str) -> None:
    with pytest.raises(ResolutionFailed, match="expression produced a non-data value"):
        engine.evaluate(source, _ctx())


# ------------------------------------------------------------------ TPL-7 failures name the path

def test_tpl7_failure_names_the_input_path(engine: TemplateEngine) -> None:
    inputs = _server(prompt_config={"resolver_schema": {"properties": {"user": {"resolver": "server"}}},
                                    "user": "{{ state.nope() }}"})
    with pytest.raises(ResolutionFailed) as info:
        engine.resolve_inputs(inputs, _ctx())
    assert info.value.message.startswith("inputs.prompt_config.user: ")
    assert info.value.error_type == "resolution_failed"


def test_tpl7_array_path_and_syntax_error_message(engine: TemplateEngine) -> None:
    with pytest.raises(ResolutionFailed) as info:
        engine.resolve_inputs(_server(system=["ok", "{% if %}"]), _ctx())
    assert info.value.message.startswith("inputs.system[1]: Jinja2 syntax error: ")


def test_tpl7_pure_expression_syntax_error_falls_back_then_fails(engine: TemplateEngine) -> None:
    with pytest.raises(ResolutionFailed, match="Jinja2 syntax error: "):
        engine.evaluate("{{ 1 + }}", _ctx(), path="inputs.x")


def test_ordinary_error_in_pure_expression_falls_back_to_render(engine: TemplateEngine) -> None:
    """§11 step 2: an ordinary error re-renders `{{ inner }}`, which fails with the real reason."""
    with pytest.raises(ResolutionFailed, match="ZeroDivisionError"):
        engine.evaluate("{{ 1 / 0 }}", _ctx())


# ------------------------------------------------------------------ TPL-9 / §12 namespace

def test_tpl9_template_context_names_and_snapshot(engine: TemplateEngine) -> None:
    """`state` and `module` are one snapshot no template can change. It is not deep-copied per
    module (that made runs quadratic, issue 15): the immutable sandbox refuses mutation and
    every result is copied out, so changing a result leaves the state alone."""
    state = _state()
    before = canonical_json(state)
    ctx = template_context(state, SCENE_STEP, {"k": 1}, FixedClock(T0))
    assert set(ctx) == {"state", "module", "step", "config", "now"}
    assert ctx["module"] is ctx["state"] and ctx["state"] == state
    for attempt in ("{{ state.flattened_keywords.append(1) }}", "{{ state.update({'x': 1}) }}",
                    "{{ module.flattened_keywords.pop() }}", "{{ state.scene_concepts.clear() }}",
                    "{{ state.flattened_keywords[0].update({'weight': 9}) }}"):
        with pytest.raises(ResolutionFailed):
            engine.evaluate(attempt, ctx)
    copied = engine.evaluate("{{ state.flattened_keywords }}", ctx)
    assert copied == state["flattened_keywords"] and copied is not state["flattened_keywords"]
    copied[0]["weight"] = 99
    copied.append("changed")
    assert canonical_json(state) == before
    now = ctx["now"]()
    assert now == T0 and now.tzinfo is not None


def test_tpl9_only_namespace_names_visible(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ module.workflow_name }}", ctx) == "Cuddle Crew"
    assert engine.evaluate("{{ step.name }}", ctx) == "Step {step_number}: Generate Scene Concepts"
    for name in ("settings", "engine", "store", "lipsum", "cycler", "joiner", "namespace"):
        assert engine.evaluate("{{ " + name + " }}", ctx) is None


def test_tpl9_now_is_formattable(engine: TemplateEngine) -> None:
    out = engine.evaluate("{{ now().strftime('%Y-%m-%d %H:%M:%S') }}", _ctx())
    assert out == "2026-01-01 00:00:00"


def test_mapping_method_names_need_item_syntax(engine: TemplateEngine) -> None:
    """§11 note: `state['items']` reaches a key shadowed by a dict method."""
    assert engine.evaluate("{{ state['items'] }}", _ctx(_state(items=[1, 2]))) == [1, 2]


# ------------------------------------------------------------------ render()

def test_render_summary_template_with_crlf_source(engine: TemplateEngine) -> None:
    """SEC-1: CRLF sources render with \\n line endings; the real cuddle_crew summary."""
    source = SUMMARY.read_bytes().decode("utf-8")
    assert "\r\n" in source
    state = _state(select_scene={"selected_data": {"title": "Nap Time", "visual_moments": ["a", "b"]}},
                   selected_text_overlay={"set_id": "soft", "paragraphs": [{"sentences": ["Hi."]}]},
                   music_prompts={"prompts": {"elevenlabs": {"data": [
                       {"name": "Lullaby", "instruments": ["piano", "harp"], "mood": ["calm"]}]}}})
    out = engine.render(source, _ctx(state))
    assert isinstance(out, str) and "\r" not in out
    assert out.startswith("=" * 80 + "\n")
    assert "Generated: 2026-01-01 00:00:00" in out
    assert "Pet Type: Cats" in out and "Title: Nap Time" in out and "- a\n- b" in out
    assert "Instruments: piano, harp" in out
    assert not out.endswith("\n")


def test_render_always_returns_string(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.render("{{ state.duration_selection.video_duration }}", ctx) == "30"
    assert engine.render("plain", ctx) == "plain"
    assert engine.render("line\r\n", ctx) == "line"


def test_render_failure_raises_resolution_failed(engine: TemplateEngine) -> None:
    with pytest.raises(ResolutionFailed):
        engine.render("{{ state.x.__class__ }}", _ctx())

"""Deterministic mock data generator (modules.md §5, MOD-mock-1, MOD-mock-2, providers.md §4.6)."""

from __future__ import annotations

import base64
import json
import random
import uuid
from pathlib import Path

import pytest

from engine.media_catalog import PROVIDER_ACTIONS, data_schema
from engine.mock_data import MOCK_PLACEHOLDER_URL, MOCK_WORDS, MockBudgetExceeded, generate_mock
from engine.validation import validate_schema

CUDDLE = Path(__file__).resolve().parents[2].parent / "shared" / "workflows" / "cuddle_crew"
OUTPUT_SCHEMAS = ["scene_concepts_schema.json", "cc_image_analysis_schema.json",
                  "cc_text_overlays_schema.json", "cc_titles_social_schema.json",
                  "cc_video_prompts_schema.json", "cc_music_prompts_schema.json",
                  "cc_image_prompts_schema.json"]


def _schema(name: str) -> dict:
    (path,) = CUDDLE.glob("steps/*/schemas/" + name)
    return json.loads(path.read_text(encoding="utf-8-sig"))


def test_words_list():
    """modules.md §5: the 63 words in order."""
    assert len(MOCK_WORDS) == 63
    assert MOCK_WORDS[:5] == ("lorem", "ipsum", "dolor", "sit", "amet")
    assert MOCK_WORDS[-1] == "laborum" and MOCK_WORDS[13] == "ut"


def test_mod_mock_1_deterministic_and_global_random_untouched():
    """[MOD-mock-1] Same (schema, seed) → same value; random.getstate() unchanged."""
    schema = _schema("scene_concepts_schema.json")
    random.seed(1234)
    state = random.getstate()
    first = generate_mock(schema, 7)
    assert random.getstate() == state
    assert generate_mock(schema, 7) == first
    assert generate_mock(schema, 8) != first
    assert generate_mock(schema, "seed:text") == generate_mock(schema, "seed:text")
    assert generate_mock(schema, None) == generate_mock(schema, 0)


@pytest.mark.parametrize("name", OUTPUT_SCHEMAS)
def test_mod_mock_2_cuddle_crew_output_schemas(name):
    """[MOD-mock-2] 50 seeds per cuddle_crew output schema validate."""
    schema = _schema(name)
    for seed in range(50):
        assert validate_schema(generate_mock(schema, seed), schema) == [], (name, seed)


@pytest.mark.parametrize("provider,action", [(p, a) for p, acts in PROVIDER_ACTIONS.items() for a in acts])
def test_mod_mock_2_media_data_schemas(provider, action):
    """[MOD-mock-2][PRV-14] The media.generateV2 provider payload schemas validate for 50 seeds."""
    schema = data_schema(provider, action)
    for seed in range(50):
        assert validate_schema(generate_mock(schema, seed), schema) == []


def test_generate_scenes_example_holds():
    """modules.md §7.1 example: 3 scenes, 3–5 visual_moments, 3–6 keywords, enum category, weight 10–100."""
    schema = _schema("scene_concepts_schema.json")
    for seed in range(30):
        scenes = generate_mock(schema, seed)["scenes"]
        assert len(scenes) == 3
        for scene in scenes:
            assert 3 <= len(scene["visual_moments"]) <= 5
            assert all(isinstance(m, str) for m in scene["visual_moments"])
            assert 3 <= len(scene["scene_keywords"]) <= 6
            for keyword in scene["scene_keywords"]:
                assert keyword["category"] in ("setting", "behavior", "object", "emotion")
                assert isinstance(keyword["weight"], int) and 10 <= keyword["weight"] <= 100


def test_rules_scalars_and_sentence():
    """modules.md §5 rule rows: sentence, const, enum, formats, booleans, null."""
    for schema in (None, {}, True, "x"):
        text = generate_mock(schema, 3)
        words = text[:-1].split(" ")
        assert text.endswith(".") and text[0].isupper() and 8 <= len(words) <= 16
        assert all(w.lower() in MOCK_WORDS for w in words)
    assert generate_mock({"const": {"a": [1]}}, 1) == {"a": [1]}
    assert generate_mock({"enum": ["x", "y", "z"], "type": "integer"}, 1) in ("x", "y", "z")
    assert generate_mock({"type": "string", "format": "date-time"}, 1) == "2026-01-01T00:00:00Z"
    assert generate_mock({"type": "string", "format": "date"}, 1) == "2026-01-01"
    assert generate_mock({"type": "string", "format": "email"}, 1) == "mock@example.com"
    assert generate_mock({"type": "string", "format": "uri"}, 1) == "mock://resource"
    assert generate_mock({"type": "string", "format": "url"}, 1) == "mock://resource"
    uuid.UUID(generate_mock({"type": "string", "format": "uuid"}, 1))
    assert generate_mock({"type": "null"}, 1) is None
    assert {generate_mock({"type": "boolean"}, s) for s in range(20)} == {True, False}
    assert generate_mock({"type": ["null", "integer"], "minimum": 5, "maximum": 5}, 1) == 5
    assert generate_mock({"type": ["null"]}, 1) is None


def test_rules_strings_lengths():
    """modules.md §5: 2–6 words, padded to minLength, cut to maxLength and stripped."""
    for seed in range(20):
        plain = generate_mock({"type": "string"}, seed).split(" ")
        assert 2 <= len(plain) <= 6
        long = generate_mock({"type": "string", "minLength": 80}, seed)
        assert len(long) >= 80
        short = generate_mock({"type": "string", "maxLength": 5}, seed)
        assert len(short) <= 5 and short == short.strip()


def test_rules_numbers():
    """modules.md §5 integer/number bounds, exclusive bounds, multipleOf, negative maximum."""
    for seed in range(40):
        assert 0 <= generate_mock({"type": "integer"}, seed) <= 100
        assert 3 <= generate_mock({"type": "integer", "exclusiveMinimum": 2, "exclusiveMaximum": 6}, seed) <= 5
        assert -110 <= generate_mock({"type": "integer", "maximum": -10}, seed) <= -10
        assert 50 <= generate_mock({"type": "integer", "minimum": 50}, seed) <= 150
        value = generate_mock({"type": "integer", "minimum": 1, "maximum": 20, "multipleOf": 7}, seed)
        assert value in (7, 14)
        number = generate_mock({"type": "number", "minimum": 0.5, "maximum": 0.75}, seed)
        assert 0.5 <= number <= 0.75 and round(number, 2) == number


def test_rules_structures():
    """modules.md §5: objects in declaration order, arrays, $ref, anyOf/oneOf, allOf, no type."""
    obj = generate_mock({"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "boolean"}}}, 1)
    assert list(obj) == ["b", "a"]
    for seed in range(20):
        items = generate_mock({"type": "array", "items": {"type": "integer"}}, seed)
        assert 1 <= len(items) <= 3
        assert len(generate_mock({"type": "array", "minItems": 5}, seed)) == 5
        assert 2 <= len(generate_mock({"type": "array", "minItems": 2, "maxItems": 4}, seed)) <= 4
        unique = generate_mock({"type": "array", "minItems": 3, "maxItems": 3, "uniqueItems": True,
                                "items": {"enum": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}, seed)
        assert len(unique) == 3
    refs = {"type": "object", "properties": {"a": {"$ref": "#/definitions/n"}, "b": {"$ref": "#/$defs/s"}},
            "definitions": {"n": {"const": 4}}, "$defs": {"s": {"const": "s"}}}
    assert generate_mock(refs, 1) == {"a": 4, "b": "s"}
    assert generate_mock({"anyOf": [{"const": 1}, {"const": 2}]}, 1) == 1
    assert generate_mock({"oneOf": [{"const": "x"}, {"const": 2}]}, 1) == "x"
    merged = generate_mock({"allOf": [{"properties": {"a": {"const": 1}}, "required": ["a"]},
                                      {"type": "object", "properties": {"b": {"const": 2}}}]}, 1)
    assert merged == {"a": 1, "b": 2}
    assert isinstance(generate_mock({"properties": {"x": {"const": 1}}}, 1), dict)
    assert isinstance(generate_mock({"items": {"const": 1}}, 1), list)
    assert isinstance(generate_mock({"minLength": 3}, 1), str)
    prefixed = generate_mock({"type": "array", "prefixItems": [{"const": "p"}], "items": {"const": 0},
                              "minItems": 3, "maxItems": 3}, 1)
    assert prefixed == ["p", 0, 0]


def test_recursive_refs_stop_and_budget():
    """modules.md §5: references deeper than 16 levels yield null; runaway schemas are bounded."""
    chain = {"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {
        "child": {"$ref": "#/$defs/node"}}}}}
    value = generate_mock(chain, 1)
    depth = 0
    while isinstance(value, dict):
        value = value["child"]
        depth += 1
    assert value is None and depth == 16
    tree = {"$ref": "#/$defs/t", "$defs": {"t": {"type": "array", "minItems": 3, "maxItems": 3,
                                                 "items": {"$ref": "#/$defs/t"}}}}
    with pytest.raises(MockBudgetExceeded):
        generate_mock(tree, 1)


def test_mock_placeholder_url():
    """[PRV-16] providers.md §4.6: data URL of a 512×512 grey SVG reading MOCK."""
    prefix = "data:image/svg+xml;base64,"
    assert MOCK_PLACEHOLDER_URL.startswith(prefix)
    svg = base64.b64decode(MOCK_PLACEHOLDER_URL[len(prefix):]).decode()
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert 'width="512"' in svg and 'height="512"' in svg and "<rect" in svg and ">MOCK<" in svg
    assert 'text-anchor="middle"' in svg

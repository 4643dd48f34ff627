"""Static media provider tables (providers.md §4.2–§4.4, PRV-14, PRV-15)."""

from __future__ import annotations

import pytest

from engine.media_catalog import (
    PROVIDER_ACTIONS,
    PROVIDER_CONCURRENCY,
    PROVIDER_CREDENTIAL,
    data_schema,
    provider_metadata,
)


def test_prv_registry_table():
    """providers.md §4.2: actions, concurrency and credentials per provider."""
    assert PROVIDER_ACTIONS == {
        "leonardo": ("txt2img", "img2img", "img2vid"), "openai": ("txt2img", "img2img", "img2vid"),
        "midjourney": ("txt2img", "img2vid"), "stable_diffusion": ("txt2img", "img2img"),
        "elevenlabs": ("txt2audio",)}
    assert PROVIDER_CONCURRENCY == {"leonardo": 3, "openai": 3, "midjourney": 1,
                                    "stable_diffusion": 1, "elevenlabs": 2}
    assert PROVIDER_CREDENTIAL == {"leonardo": "leonardo_api_key", "openai": "openai_api_key",
                                   "midjourney": "midapi_api_key", "stable_diffusion": "sd_forge_api_url",
                                   "elevenlabs": "elevenlabs_api_key"}


STRING_PROPS = {
    ("midjourney", "txt2img"): ["prompt", "style_notes"],
    ("leonardo", "txt2img"): ["prompt", "style_notes"],
    ("leonardo", "img2img"): ["prompt", "style_notes"],
    ("openai", "txt2img"): ["prompt", "camera_notes"],
    ("openai", "img2img"): ["prompt", "camera_notes"],
    ("stable_diffusion", "txt2img"): ["tag_prompt", "natural_prompt", "negative_prompt", "style_notes"],
    ("stable_diffusion", "img2img"): ["tag_prompt", "natural_prompt", "negative_prompt", "style_notes"],
    ("leonardo", "img2vid"): ["positive_prompt", "negative_prompt", "motion_strength", "motion_notes"],
    ("openai", "img2vid"): ["prompt", "style_notes"],
    ("midjourney", "img2vid"): ["prompt", "motion_notes"],
}


def _closed(schema: dict, names: list[str]) -> None:
    assert schema["type"] == "object"
    assert list(schema["properties"]) == names
    assert schema["required"] == names
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("pair", list(STRING_PROPS))
def test_prv14_string_payload_schemas(pair):
    """[PRV-14] Names, string types, closed objects, informative descriptions."""
    schema = data_schema(*pair)
    _closed(schema, STRING_PROPS[pair])
    for prop in schema["properties"].values():
        assert prop["type"] == "string" and prop["description"]
    if pair == ("leonardo", "img2vid"):
        assert schema["properties"]["motion_strength"]["enum"] == ["subtle", "moderate", "dynamic"]


def test_prv14_openai_txt2img_example_and_copy():
    """[PRV-14] The openai/txt2img example structure; callers get independent copies."""
    schema = data_schema("openai", "txt2img")
    assert schema["properties"]["prompt"] == {"type": "string", "description": "Prompt for OpenAI image generation"}
    schema["properties"].clear()
    assert data_schema("openai", "txt2img")["properties"]


def test_prv14_elevenlabs_schema():
    """[PRV-14] elevenlabs/txt2audio: data array of exactly 3 closed objects with bounds."""
    schema = data_schema("elevenlabs", "txt2audio")
    _closed(schema, ["data"])
    data = schema["properties"]["data"]
    assert (data["type"], data["minItems"], data["maxItems"]) == ("array", 3, 3)
    item = data["items"]
    _closed(item, ["name", "description", "prompt", "suggested_bpm", "instruments", "mood", "energy"])
    props = item["properties"]
    assert (props["suggested_bpm"]["type"], props["suggested_bpm"]["minimum"],
            props["suggested_bpm"]["maximum"]) == ("integer", 50, 120)
    assert (props["instruments"]["minItems"], props["instruments"]["maxItems"]) == (2, 4)
    assert (props["mood"]["minItems"], props["mood"]["maxItems"]) == (2, 3)
    assert props["instruments"]["items"] == {"type": "string"} == props["mood"]["items"]
    for key in ("name", "description", "prompt", "energy"):
        assert props[key]["type"] == "string"


def test_unknown_pairs_give_empty():
    """[PRV-15] Any other pair → {}."""
    assert data_schema("midjourney", "img2img") == {}
    assert provider_metadata("midjourney", "img2img") == {}
    assert provider_metadata("stable_diffusion", "img2img") == {}
    assert provider_metadata("nope", "txt2img") == {}


METADATA_KEYS = {
    ("midjourney", "txt2img"): {"aspect_ratio": ["1:1", "2:3", "3:2", "9:16", "16:9"],
                                "speed": ["relaxed", "fast", "turbo"], "versions": ["6.1", "7"]},
    ("leonardo", "txt2img"): {"models": ["de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"],
                              "aspect_ratio": ["1:1", "2:3", "3:2", "9:16", "16:9"],
                              "size": ["small", "medium", "large"],
                              "generation_mode": ["fast", "quality", "ultra"],
                              "num_images": ["1", "2", "3", "4"], "contrast": ["3.0", "3.5", "4.0"],
                              "scheduler": ["EULER_DISCRETE", "LEONARDO", "DPM_SOLVER"]},
    ("openai", "txt2img"): {"models": ["gpt-image-1-mini", "gpt-image-1", "gpt-image-1.5"],
                            "aspect_ratio": ["1:1", "2:3", "3:2"], "quality": ["low", "medium", "high"],
                            "num_images": ["1", "2", "3", "4"],
                            "background": ["auto", "transparent", "opaque"],
                            "output_format": ["png", "jpeg", "webp"]},
    ("stable_diffusion", "txt2img"): {"categories": ["general", "portrait", "animal", "landscape"]},
    ("leonardo", "img2vid"): {"models": ["MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5"]},
    ("openai", "img2vid"): {"models": ["sora-2", "sora-2-pro"], "durations": ["4", "8", "12"]},
    ("elevenlabs", "txt2audio"): {"output_format": ["mp3_44100_64", "mp3_44100_128"]},
}


@pytest.mark.parametrize("pair", list(METADATA_KEYS))
def test_prv15_metadata_keys_and_labels(pair):
    """[PRV-15] Keys and option keys exactly as the §4.4 table; every option has a label."""
    meta = provider_metadata(*pair)
    assert {k: [o["key"] for o in v] for k, v in meta.items()} == METADATA_KEYS[pair]
    for options in meta.values():
        for option in options:
            assert set(option) == {"key", "label"} and option["label"]
    if pair == ("leonardo", "txt2img"):
        assert meta["models"][0]["label"] == "Phoenix 1.0"
        assert {"key": "9:16", "label": "Portrait 9:16"} in meta["aspect_ratio"]


def test_prv15_covers_cuddle_crew_display_defaults():
    """[PRV-15] Every default behind an `enum_source` in the image display schema is a metadata key."""
    import json
    from pathlib import Path

    path = (Path(__file__).resolve().parents[2].parent / "shared" / "workflows" / "cuddle_crew" / "steps"
            / "3_image_prompts" / "schemas" / "cc_image_prompts_display_schema.json")
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    checked = 0
    for provider, node in schema["properties"]["prompts"]["properties"].items():
        meta = provider_metadata(provider, "txt2img")
        for prop in node["_ux"]["input_schema"]["properties"].values():
            source = (prop.get("_ux") or {}).get("enum_source")
            if source and "default" in prop:
                keys = [o["key"] for o in meta[source.split(".", 1)[1]]]
                assert str(prop["default"]) in keys, (provider, source)
                checked += 1
    assert checked == 16

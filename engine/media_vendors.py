"""The five built-in media vendors as records (providers.md §4.2–§4.4, PRV-14, PRV-15).

Each record carries everything the rest of the system derives about its vendor; the records
register themselves when this module is imported (engine/media_catalog.py imports it).
"""

from __future__ import annotations

from typing import Any

from engine.media_vendor import MediaVendor, register_vendor


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    """Closed object: all properties required, nothing else allowed (PRV-14)."""
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


def _s(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


_STYLE = _s("Artistic style or mood targeted")
_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("midjourney", "txt2img"): _obj({
        "prompt": _s("Midjourney prompt text only, without inline parameters"),
        "style_notes": _STYLE}),
    ("leonardo", "txt2img"): _obj({
        "prompt": _s("Prompt optimised for the Leonardo Phoenix model"),
        "style_notes": _STYLE}),
    ("openai", "txt2img"): _obj({
        "prompt": _s("Prompt for OpenAI image generation"),
        "camera_notes": _s("Camera angle and framing")}),
    ("stable_diffusion", "txt2img"): _obj({
        "tag_prompt": _s("Comma-separated weighted tags"),
        "natural_prompt": _s("Descriptive sentences"),
        "negative_prompt": _s("Tags to avoid"),
        "style_notes": _STYLE}),
    ("leonardo", "img2vid"): _obj({
        "positive_prompt": _s("The motion to produce"),
        "negative_prompt": _s("Artifacts and unwanted motion to avoid"),
        "motion_strength": {"type": "string", "enum": ["subtle", "moderate", "dynamic"],
                            "description": "How strong the motion should be"},
        "motion_notes": _s("Notes on the motion")}),
    ("openai", "img2vid"): _obj({
        "prompt": _s("Natural-language motion description"),
        "style_notes": _s("Visual consistency and motion intensity")}),
    ("midjourney", "img2vid"): _obj({
        "prompt": _s("Midjourney video prompt describing the motion"),
        "motion_notes": _s("Notes on the motion")}),
    ("elevenlabs", "txt2audio"): _obj({
        "data": {
            "type": "array", "minItems": 3, "maxItems": 3,
            "description": "Three alternative music styles",
            "items": _obj({
                "name": _s("Style name of 2-3 words"),
                "description": _s("Short summary of the style"),
                "prompt": _s("Music generation prompt"),
                "suggested_bpm": {"type": "integer", "minimum": 50, "maximum": 120,
                                  "description": "Suggested tempo in beats per minute"},
                "instruments": {"type": "array", "minItems": 2, "maxItems": 4,
                                "items": {"type": "string"}, "description": "Main instruments"},
                "mood": {"type": "array", "minItems": 2, "maxItems": 3,
                         "items": {"type": "string"}, "description": "Mood keywords"},
                "energy": _s("Energy level"),
            }),
        }}),
}
_SCHEMAS[("leonardo", "img2img")] = _SCHEMAS[("leonardo", "txt2img")]
_SCHEMAS[("openai", "img2img")] = _SCHEMAS[("openai", "txt2img")]
_SCHEMAS[("stable_diffusion", "img2img")] = _SCHEMAS[("stable_diffusion", "txt2img")]


def _opts(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "label": label} for key, label in pairs]


_RATIOS = {"1:1": "Square 1:1", "2:3": "Portrait 2:3", "3:2": "Landscape 3:2",
           "9:16": "Portrait 9:16", "16:9": "Landscape 16:9"}
_NUM_IMAGES = _opts(("1", "1 image"), ("2", "2 images"), ("3", "3 images"), ("4", "4 images"))


def _ratios(*keys: str) -> list[dict[str, str]]:
    return _opts(*((k, _RATIOS[k]) for k in keys))


_METADATA: dict[tuple[str, str], dict[str, list[dict[str, str]]]] = {
    ("midjourney", "txt2img"): {
        "aspect_ratio": _ratios("1:1", "2:3", "3:2", "9:16", "16:9"),
        "speed": _opts(("relaxed", "Relaxed"), ("fast", "Fast"), ("turbo", "Turbo")),
        "versions": _opts(("6.1", "Version 6.1"), ("7", "Version 7")),
    },
    ("leonardo", "txt2img"): {
        "models": _opts(("de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3", "Phoenix 1.0")),
        "aspect_ratio": _ratios("1:1", "2:3", "3:2", "9:16", "16:9"),
        "size": _opts(("small", "Small"), ("medium", "Medium"), ("large", "Large")),
        "generation_mode": _opts(("fast", "Fast"), ("quality", "Quality"), ("ultra", "Ultra")),
        "num_images": _NUM_IMAGES,
        "contrast": _opts(("3.0", "Low (3.0)"), ("3.5", "Medium (3.5)"), ("4.0", "High (4.0)")),
        "scheduler": _opts(("EULER_DISCRETE", "Euler Discrete"), ("LEONARDO", "Leonardo"),
                           ("DPM_SOLVER", "DPM Solver")),
    },
    ("openai", "txt2img"): {
        "models": _opts(("gpt-image-1-mini", "GPT Image 1 Mini"), ("gpt-image-1", "GPT Image 1"),
                        ("gpt-image-1.5", "GPT Image 1.5")),
        "aspect_ratio": _ratios("1:1", "2:3", "3:2"),
        "quality": _opts(("low", "Low"), ("medium", "Medium"), ("high", "High")),
        "num_images": _NUM_IMAGES,
        "background": _opts(("auto", "Auto"), ("transparent", "Transparent"), ("opaque", "Opaque")),
        "output_format": _opts(("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WebP")),
    },
    ("stable_diffusion", "txt2img"): {
        "categories": _opts(("general", "General"), ("portrait", "Portrait"),
                            ("animal", "Animal"), ("landscape", "Landscape")),
    },
    ("leonardo", "img2vid"): {
        "models": _opts(("MOTION2", "Motion 2.0"), ("MOTION2FAST", "Motion 2.0 Fast"),
                        ("VEO3", "Veo 3"), ("VEO3FAST", "Veo 3 Fast"),
                        ("KLING2_1", "Kling 2.1"), ("KLING2_5", "Kling 2.5")),
    },
    ("openai", "img2vid"): {
        "models": _opts(("sora-2", "Sora 2"), ("sora-2-pro", "Sora 2 Pro")),
        "durations": _opts(("4", "4 seconds"), ("8", "8 seconds"), ("12", "12 seconds")),
    },
    ("elevenlabs", "txt2audio"): {
        "output_format": _opts(("mp3_44100_64", "MP3 44.1 kHz 64 kbps"),
                               ("mp3_44100_128", "MP3 44.1 kHz 128 kbps")),
    },
}




def _for(provider: str, table: dict[tuple[str, str], Any]) -> dict[str, Any]:
    return {action: value for (pid, action), value in table.items() if pid == provider}


BUILT_IN: tuple[MediaVendor, ...] = (
    MediaVendor(provider_id="leonardo", actions=("txt2img", "img2img", "img2vid"), concurrency=3,
                credential="leonardo_api_key", key_setting="LEONARDO_API_KEY",
                url_setting="LEONARDO_BASE_URL", default_url="https://cloud.leonardo.ai",
                schemas=_for("leonardo", _SCHEMAS), metadata=_for("leonardo", _METADATA),
                prompt_actions=("txt2img", "img2vid")),
    MediaVendor(provider_id="openai", actions=("txt2img", "img2img", "img2vid"), concurrency=3,
                credential="openai_api_key", key_setting="OPENAI_API_KEY",
                url_setting="OPENAI_BASE_URL", default_url="https://api.openai.com",
                url_suffix="/v1",  # OPENAI_BASE_URL is shared with the LLM client
                schemas=_for("openai", _SCHEMAS), metadata=_for("openai", _METADATA),
                prompt_actions=("txt2img", "img2vid")),
    MediaVendor(provider_id="midjourney", actions=("txt2img", "img2vid"), concurrency=1,
                credential="midapi_api_key", key_setting="MIDAPI_API_KEY",
                url_setting="MIDAPI_BASE_URL", default_url="https://api.midapi.ai",
                schemas=_for("midjourney", _SCHEMAS), metadata=_for("midjourney", _METADATA),
                prompt_actions=("txt2img",)),
    # the Forge server's address is the credential (SD_FORGE_API_URL, PRV-2), never ai_config
    MediaVendor(provider_id="stable_diffusion", actions=("txt2img", "img2img"), concurrency=1,
                credential="sd_forge_api_url", key_setting="SD_FORGE_API_URL",
                key_in_ai_config=False, schemas=_for("stable_diffusion", _SCHEMAS),
                metadata=_for("stable_diffusion", _METADATA), prompt_actions=("txt2img",)),
    MediaVendor(provider_id="elevenlabs", actions=("txt2audio",), concurrency=2,
                credential="elevenlabs_api_key", key_setting="ELEVENLABS_API_KEY",
                url_setting="ELEVENLABS_BASE_URL", default_url="https://api.elevenlabs.io",
                schemas=_for("elevenlabs", _SCHEMAS), metadata=_for("elevenlabs", _METADATA),
                prompt_actions=("txt2audio",)),
)

for _vendor in BUILT_IN:
    register_vendor(_vendor)

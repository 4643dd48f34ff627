"""LLM models configuration (providers.md §3.4): capabilities, defaults, prices, cost (PRV-8).

The JSON file is packaged data read through `importlib.resources`, so it works from a wheel as
well as from a checkout; prices are operator data and nothing in code depends on their values.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from engine.provider_types import ModelCapabilities, Usage

#: conservative defaults for unknown models (no vision, no structured output)
UNKNOWN_MODEL = ModelCapabilities(vision=False, structured_output=False, temperature=True,
                                  reasoning_effort=False, max_output_tokens=4096)


@lru_cache(maxsize=1)
def load_config() -> dict[str, Any]:
    text = resources.files("providers.llm").joinpath("models_config.json").read_text("utf-8")
    return json.loads(text)


def _model_entry(model: str, provider: str | None = None) -> dict[str, Any] | None:
    for provider_id, entry in load_config()["providers"].items():
        if provider is not None and provider_id != provider:
            continue
        for item in entry["models"]:
            if item["id"] == model:
                return item
    return None


def provider_ids() -> tuple[str, ...]:
    return tuple(load_config()["providers"])


def default_model(provider: str) -> str:
    return str(load_config()["providers"][provider]["default"])


def model_ids(provider: str) -> list[str]:
    return [m["id"] for m in load_config()["providers"][provider]["models"]]


def capabilities(model: str, provider: str | None = None) -> ModelCapabilities:
    entry = _model_entry(model, provider)
    if entry is None:
        return UNKNOWN_MODEL
    return ModelCapabilities(
        vision=bool(entry.get("vision", False)),
        structured_output=bool(entry.get("structured_output", False)),
        temperature=bool(entry.get("temperature", True)),
        reasoning_effort=bool(entry.get("reasoning_effort", False)),
        max_output_tokens=int(entry.get("max_output_tokens", 4096)),
        api_endpoint=entry.get("api_endpoint"),
    )


def display_name(model: str) -> str:
    entry = _model_entry(model)
    return str(entry["name"]) if entry else model


def prices(model: str) -> dict[str, float]:
    """Price per million tokens `{prompt, completion, cached}` (zeros for unknown models)."""
    entry = _model_entry(model) or {}
    table = entry.get("price_per_million") or {}
    return {k: float(table.get(k, 0.0)) for k in ("prompt", "completion", "cached")}


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> float:
    """PRV-8: `(prompt − cached) × prompt price + completion × completion price
    + cached × cached price`, prices per million tokens."""
    table = prices(model)
    total = ((prompt_tokens - cached_tokens) * table["prompt"]
             + completion_tokens * table["completion"] + cached_tokens * table["cached"])
    return total / 1_000_000


def usage_for(model: str, prompt_tokens: int, completion_tokens: int,
              cached_tokens: int = 0) -> Usage:
    """A complete `Usage` for a vendor response, with cost and display name filled in."""
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 total_tokens=prompt_tokens + completion_tokens, cached_tokens=cached_tokens,
                 cost_usd=cost_usd(model, prompt_tokens, completion_tokens, cached_tokens),
                 display_name=display_name(model))


def models_listing() -> dict[str, Any]:
    """The body of `GET /models` (wire-api.md §6.6)."""
    config = load_config()
    default_provider = config["default_provider"]
    return {
        "default_provider": default_provider,
        "default_model": config["providers"][default_provider]["default"],
        "providers": {
            pid: {"name": entry["name"], "default": entry["default"],
                  "models": [{"id": m["id"], "name": m["name"]} for m in entry["models"]]}
            for pid, entry in config["providers"].items()
        },
    }

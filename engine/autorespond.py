"""Seeded auto-respond answers generated from an interaction request (engine.md §14.3, ENG-41).

This only builds the answer; the engine submits it through the normal validation path, so a
wrong guess here is rejected rather than silently accepted.
"""

from __future__ import annotations

import random
import re
from typing import Any, Callable

from engine.mock_budget import MockBudget
from engine.mock_data import MOCK_PLACEHOLDER_URL, MOCK_WORDS, generate_mock
from engine.wire import InteractionRequest, InteractionResponseData

Candidate = list[Any]


def _is_selectable(items: Any) -> bool:
    if not isinstance(items, dict):
        return False
    ux = items.get("_ux")
    return (items.get("selectable") is True
            or (isinstance(ux, dict) and ux.get("selectable") is True)
            or items.get("_ux.selectable") is True)


def selection_candidates(schema: Any, data: Any) -> list[Candidate]:
    """Every selectable path of `data` in schema order."""
    if not isinstance(schema, dict):
        return []
    kind = schema.get("type")
    if kind == "array" and isinstance(data, list):
        return [[i] for i in range(len(data))]
    if kind == "object" and isinstance(data, dict):
        found: list[Candidate] = []
        for key, sub in (schema.get("properties") or {}).items():
            if (isinstance(sub, dict) and sub.get("type") == "array"
                    and _is_selectable(sub.get("items")) and isinstance(data.get(key), list)):
                found.extend([key, i] for i in range(len(data[key])))
        return found
    return []


def _pick(rng: random.Random | None, candidates: list[Any], n: int) -> list[Any]:
    """`rng.sample` then back into candidate order; without a seed, the first `n`."""
    if rng is None:
        return candidates[:n]
    chosen = sorted(rng.sample(range(len(candidates)), n))
    return [candidates[i] for i in chosen]


def _select(request: InteractionRequest, rng: random.Random | None) -> InteractionResponseData | None:
    display = request.display_data or {}
    candidates = selection_candidates(display.get("schema"), display.get("data"))
    multi = display.get("multi_select")
    if not isinstance(multi, bool):
        multi = request.max_selections != 1
    n = max(request.min_selections, 1) if multi else 1
    if len(candidates) < n:
        return None
    chosen = _pick(rng, candidates, n)
    if multi:
        indices: list[Any] = [p[0] if len(p) == 1 else p for p in chosen]
    else:
        indices = chosen[0]
    return InteractionResponseData(selected_indices=indices)


def _text_matches(value: str, validation: Any) -> bool:
    """MOD-text-2 pattern check, so an answer that would be refused is not generated."""
    if not isinstance(validation, dict) or not validation.get("pattern"):
        return True
    try:
        pattern = re.compile(validation["pattern"])
        separator = validation.get("separator")
        if separator:
            parts = (re.split(separator, value) if validation.get("separator_is_regex")
                     else value.split(separator))
        else:
            parts = [value]
    except (re.error, TypeError):
        return False
    parts = [p.strip() for p in parts if p.strip()]
    if validation.get("require_at_least_one_match", True) and not parts:
        return False
    return all(pattern.fullmatch(p) for p in parts)


def _text(request: InteractionRequest, rng: random.Random | None) -> InteractionResponseData | None:
    if request.default_value:
        value = request.default_value
    elif request.allow_empty:
        value = ""
    elif rng is None:
        value = "mock text"
    else:
        value = " ".join(rng.sample(MOCK_WORDS, 2))
    if not _text_matches(value, (request.context or {}).get("validation")):
        return None
    return InteractionResponseData(value=value)


def _form(request: InteractionRequest, seed: int | None,
          budget: MockBudget) -> InteractionResponseData:
    props = (request.form_schema or {}).get("properties") or {}
    rows: list[Any] = []
    for defaults in request.form_defaults:
        row: dict[str, Any] = {}
        for key, sub in props.items():
            if isinstance(defaults, dict) and key in defaults:
                row[key] = defaults[key]
            elif isinstance(sub, dict) and "default" in sub:
                row[key] = sub["default"]
            else:
                row[key] = generate_mock(sub, seed or 0, budget)
        rows.append(row)
    return InteractionResponseData(form_data=rows)


def _media(request: InteractionRequest, mock: bool, retryable: dict[str, Any] | None,
           new_hex: Callable[[], str]) -> InteractionResponseData:
    config = retryable if isinstance(retryable, dict) else request.display_data.get("retryable")
    config = config if isinstance(config, dict) else {}
    default_id = config.get("default_option", "continue")
    option = next((o for o in config.get("options") or []
                   if isinstance(o, dict) and o.get("id") == default_id), {"id": default_id})
    warnings = [v["id"] for v in option.get("validations") or []
                if isinstance(v, dict) and v.get("severity") == "warning" and "id" in v]
    answer = InteractionResponseData(action_id=option["id"], confirmed_warnings=warnings)
    data = request.display_data.get("data")
    prompts = data.get("prompts") if isinstance(data, dict) else None
    if not mock or not isinstance(prompts, dict) or not prompts:
        return answer
    provider = next(iter(prompts))
    content_id = "mock-gc_" + new_hex()
    metadata_id = "mock-cgm_" + new_hex()
    answer.selected_content_id = content_id
    answer.generations = {"prompts." + provider: [{
        "urls": [MOCK_PLACEHOLDER_URL], "metadata_id": metadata_id, "content_ids": [content_id],
        "prompt_id": "default", "provider": provider,
    }]}
    return answer


def generate_answer(request: InteractionRequest, *, seed: int | None, mock: bool,
                    retryable: dict[str, Any] | None, step_id: str, module_name: str,
                    new_hex: Callable[[], str],
                    mock_budget: MockBudget | None = None) -> InteractionResponseData | None:
    """The generated answer of the §14.3 table, or None when none can be generated.

    Form values share `mock_budget` across rows and fields; a form schema demanding more raises
    `MockSchemaError`."""
    rng = None if seed is None else random.Random(str(seed) + ":" + step_id + ":" + module_name)
    kind = request.interaction_type
    if kind == "select_from_structured":
        return _select(request, rng)
    if kind == "review_grouped":
        return InteractionResponseData()
    if kind == "text_input":
        return _text(request, rng)
    if kind == "form_input":
        return _form(request, seed, mock_budget if mock_budget is not None else MockBudget())
    if kind == "file_download":
        return InteractionResponseData(file_written=True, file_path=request.file_name)
    if kind == "media_generation":
        return _media(request, mock, retryable, new_hex)
    return None

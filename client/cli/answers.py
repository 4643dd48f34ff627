"""Answers files for `wfe run --answers FILE`: scripted answers to a run's interactions.

A JSON object keyed by module name (names are unique across a workflow) or `step_id/module`:

    {
      "ask_place": {"value": "Porto"},
      "pick_mood": {"selected_indices": [1]},
      "illustrate": {"sub_actions": [{"id": "generate_picture",
                                      "params": {"provider": "openai", "params": {"prompt": "x"}}}],
                     "select_generated": 0, "action_id": "continue"},
      "rate_lines": [{"form_data": [{"rating": 1}]}, {"form_data": [{"rating": 5}]}]
    }

A value is one answer or a list used in order (a module asked again after a retry or a jump).
An answer is an `InteractionResponseData` object plus two scripting keys: `sub_actions` (run
first, in order, each `{id, params}`) and `select_generated` (pick the i-th item the last
sub-action generated: sets `selected_content_id` and adds that result to `generations` under
`generations_key`, default `prompts.<provider>`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from engine import InteractionResponseData

SCRIPT_KEYS = ("sub_actions", "select_generated", "generations_key")


class AnswersError(Exception):
    """The answers file is unreadable, or has no (more) answers for an interaction."""


class Answer:
    """One scripted answer: sub-actions to run first, then the response to send."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.sub_actions: list[dict[str, Any]] = list(raw.get("sub_actions") or [])
        self.select_generated: int | None = raw.get("select_generated")
        self.generations_key: str | None = raw.get("generations_key")
        self.fields = {k: v for k, v in raw.items() if k not in SCRIPT_KEYS}
        try:  # fail on the file's mistakes now, not in the middle of the run
            msgspec.convert(self.fields, InteractionResponseData)
        except msgspec.ValidationError as exc:
            raise AnswersError(f"invalid answer {json.dumps(raw)[:200]}: {exc}") from None

    def response(self, last_result: dict[str, Any] | None) -> InteractionResponseData:
        fields = dict(self.fields)
        if self.select_generated is not None:
            if not last_result or not last_result.get("content_ids"):
                raise AnswersError("select_generated needs a sub-action that generated something")
            ids = list(last_result["content_ids"])
            if not 0 <= self.select_generated < len(ids):
                raise AnswersError(f"select_generated {self.select_generated} is out of range "
                                   f"({len(ids)} generated)")
            key = self.generations_key or f"prompts.{last_result.get('provider')}"
            fields["selected_content_id"] = ids[self.select_generated]
            fields["generations"] = {**fields.get("generations", {}), key: [last_result]}
        return msgspec.convert(fields, InteractionResponseData)


class Answers:
    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise AnswersError("an answers file is a JSON object keyed by module name")
        self._queues: dict[str, list[Answer]] = {}
        for key, value in data.items():
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, dict) for item in items):
                raise AnswersError(f"answers for {key!r} must be objects")
            self._queues[key] = [Answer(item) for item in items]

    @classmethod
    def load(cls, path: str | Path) -> Answers:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AnswersError(f"cannot read answers file {path}: {exc}") from None
        return cls(data)

    def next_for(self, step_id: str, module_name: str) -> Answer:
        for key in (f"{step_id}/{module_name}", module_name):
            queue = self._queues.get(key)
            if queue:
                return queue.pop(0)
        raise AnswersError(f"the answers file has no (more) answers for {step_id}/{module_name}")

"""Deterministic mock data from a JSON Schema (modules.md §5, MOD-mock-1, MOD-mock-2).

Mock LLM answers, form auto-answers and the mock-data endpoint all go through `generate_mock`,
so both servers produce identical data for the same `(schema, seed)`. A private `Random` is
used so the global random state is never touched. Every call charges a `MockBudget`
(engine/mock_budget.py), so a schema demanding more than the budget is refused before its data
is built.
"""

from __future__ import annotations

import base64
import copy
import math
import random
import uuid
from typing import Any

from engine.mock_budget import (
    MAX_NODES,
    MockBudget,
    MockBudgetExceeded,
    MockSchemaError,
    check_int_bounds,
)

MOCK_WORDS: tuple[str, ...] = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim",
    "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi",
    "aliquip", "ex", "ea", "commodo", "consequat", "duis", "aute", "irure", "in", "reprehenderit",
    "voluptate", "velit", "esse", "cillum", "eu", "fugiat", "nulla", "pariatur", "excepteur",
    "sint", "occaecat", "cupidatat", "non", "proident", "sunt", "culpa", "qui", "officia",
    "deserunt", "mollit", "anim", "id", "est", "laborum",
)

_MOCK_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">'
    '<rect width="512" height="512" fill="#d9d9d9"/>'
    '<text x="256" y="256" font-family="sans-serif" font-size="72" fill="#666666" '
    'text-anchor="middle" dominant-baseline="middle">MOCK</text></svg>'
)
MOCK_PLACEHOLDER_URL = "data:image/svg+xml;base64," + base64.b64encode(
    _MOCK_SVG.encode("utf-8")).decode("ascii")

MAX_REF_DEPTH = 16
MAX_RANDOM_ITEMS = 100  # the random upper end of an array's length, beyond its minItems
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "email": "mock@example.com",
    "uri": "mock://resource",
    "url": "mock://resource",
}


def _seed_value(seed: Any) -> int | str | bytes | float:
    """`random.Random` only accepts a few seed types in 3.11; map the rest stably."""
    if seed is None:
        return 0
    if isinstance(seed, (int, str, bytes, float)):
        return seed
    return repr(seed)


class _Generator:
    def __init__(self, root: Any, seed: Any, budget: MockBudget) -> None:
        self.root = root
        self.rng = random.Random(_seed_value(seed))
        self.budget = budget

    def words(self, count: int) -> str:
        return " ".join(self.rng.choice(MOCK_WORDS) for _ in range(count))

    def sentence(self) -> str:
        text = self.words(self.rng.randint(8, 16))
        return text[0].upper() + text[1:] + "."

    def lookup(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        node = self.root
        for part in ref[1:].split("/"):
            if part == "":
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    def gen(self, schema: Any, depth: int = 0) -> Any:
        self.budget.node()
        if not isinstance(schema, dict) or not schema:
            return self.charged(self.sentence())
        if "$ref" in schema:
            if depth >= MAX_REF_DEPTH:
                return None
            target = self.lookup(schema["$ref"])
            return None if target is None else self.gen(target, depth + 1)
        if "const" in schema:
            self.budget.charge_copy(schema["const"])
            return copy.deepcopy(schema["const"])
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            choice = self.rng.choice(schema["enum"])
            self.budget.charge_copy(choice)
            return copy.deepcopy(choice)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.gen(schema[key][0], depth)
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            return self.gen(_merge_all_of(schema), depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((t for t in kind if t != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        maker = getattr(self, "make_" + kind, None) if isinstance(kind, str) else None
        if maker is None:
            return self.charged(self.sentence())
        if kind in ("object", "array"):
            self.budget.enter()
            try:
                return maker(schema, depth)
            finally:
                self.budget.leave()
        return maker(schema, depth)

    def charged(self, text: str) -> str:
        self.budget.charge(len(text) + 3)
        return text

    def make_object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties")
        self.budget.charge(2)
        if not isinstance(props, dict):
            return {}
        out: dict[str, Any] = {}
        for key, sub in props.items():
            self.budget.charge(len(key) + 4)
            out[key] = self.gen(sub, depth)
        return out

    def make_array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        lo = schema.get("minItems", 1)
        lo = lo if isinstance(lo, int) and lo >= 0 else 1
        self.budget.demand_values("minItems", lo)
        self.budget.charge(2 + lo)
        hi = schema.get("maxItems")
        hi = max(lo, 3) if not isinstance(hi, int) else max(min(hi, lo + MAX_RANDOM_ITEMS), lo)
        n = self.rng.randint(lo, hi)
        prefix: Any = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        out = [self.gen(sub, depth) for sub in prefix]
        items = schema.get("items", {})
        if items is False:
            return out
        unique = schema.get("uniqueItems") is True
        for _ in range(max(0, n - len(prefix))):
            value = self.gen(items, depth)
            tries = 0
            while unique and tries < 10 and not isinstance(value, (dict, list)) and value in out:
                value = self.gen(items, depth)
                tries += 1
            out.append(value)
        return out

    def make_string(self, schema: dict[str, Any], depth: int) -> str:
        fmt = schema.get("format")
        if fmt in _FORMATS:
            text = _FORMATS[fmt]
        elif fmt == "uuid":
            text = str(uuid.UUID(int=self.rng.getrandbits(128)))
        else:
            text = self.words(self.rng.randint(2, 6))
        min_len = schema.get("minLength")
        max_len = schema.get("maxLength")
        if isinstance(min_len, int) and min_len > len(text):
            # Padding is append-only, so a text cut to maxLength needs no more than maxLength.
            target = min(min_len, max_len) if isinstance(max_len, int) and max_len >= 0 else min_len
            self.budget.demand_bytes("minLength", target)
            parts = [text]
            length = len(text)
            while length < target:
                word = self.rng.choice(MOCK_WORDS)
                parts.append(word)
                length += 1 + len(word)
            text = " ".join(parts)
        if isinstance(max_len, int) and max_len >= 0:
            text = text[:max_len]
        return self.charged(text.strip())

    def _bounds(self, schema: dict[str, Any], integer: bool) -> tuple[float, float]:
        lows = []
        highs = []
        if isinstance(schema.get("minimum"), (int, float)):
            lows.append(schema["minimum"])
        if isinstance(schema.get("exclusiveMinimum"), (int, float)):
            lows.append(schema["exclusiveMinimum"] + 1)
        if isinstance(schema.get("maximum"), (int, float)):
            highs.append(schema["maximum"])
        if isinstance(schema.get("exclusiveMaximum"), (int, float)):
            highs.append(schema["exclusiveMaximum"] - 1)
        hi = min(highs) if highs else None
        lo = max(lows) if lows else (hi - 100 if hi is not None and hi < 0 else 0)
        if hi is None:
            hi = lo + 100
        if any(isinstance(bound, float) and not math.isfinite(bound) for bound in (lo, hi)):
            raise MockSchemaError("numeric bounds must be finite", minimum=str(lo), maximum=str(hi))
        if integer:
            lo, hi = math.ceil(lo), math.floor(hi)
            check_int_bounds(lo, hi)
        return lo, hi

    def make_integer(self, schema: dict[str, Any], depth: int) -> int:
        lo, hi = self._bounds(schema, True)
        value = self.rng.randint(int(lo), int(hi)) if lo <= hi else int(lo)
        self.budget.charge(8)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
            if not math.isfinite(value / step):  # value is a 64-bit int here, step positive
                raise MockSchemaError("multipleOf is too small for the bounds", multipleOf=step)
            candidates = [math.floor(value / step) * step, math.ceil(value / step) * step]
            inside = [c for c in candidates if lo <= c <= hi]
            if inside:
                best = min(inside, key=lambda c: (abs(c - value), c))
                value = int(best) if float(best).is_integer() else value
        return value

    def make_number(self, schema: dict[str, Any], depth: int) -> float:
        self.budget.charge(24)
        lo, hi = self._bounds(schema, False)
        if lo > hi:
            return lo
        return min(max(round(self.rng.uniform(lo, hi), 2), lo), hi)

    def make_boolean(self, schema: dict[str, Any], depth: int) -> bool:
        self.budget.charge(5)
        return self.rng.random() < 0.5

    def make_null(self, schema: dict[str, Any], depth: int) -> None:
        self.budget.charge(4)
        return None


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """Union of `properties` and `required`; other keys from the last alternative."""
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    props: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[Any] = list(merged.get("required") or [])
    for alt in schema["allOf"]:
        if not isinstance(alt, dict):
            continue
        props.update(alt.get("properties") or {})
        required.extend(r for r in alt.get("required") or [] if r not in required)
        merged.update({k: v for k, v in alt.items() if k not in ("properties", "required")})
    if props:
        merged["properties"] = props
    if required:
        merged["required"] = required
    return merged


def generate_mock(schema: Any, seed: Any, budget: MockBudget | None = None) -> Any:
    """Deterministic value for `(schema, seed)`; `seed` may be any hashable (None means 0).

    Raises `MockBudgetExceeded` (a `MockSchemaError`) when the data would not fit `budget`
    (a fresh default budget when none is shared by the caller)."""
    return _Generator(schema, seed, budget if budget is not None else MockBudget()).gen(schema)


__all__ = ["MAX_NODES", "MOCK_PLACEHOLDER_URL", "MOCK_WORDS", "MockBudget", "MockBudgetExceeded",
           "MockSchemaError", "generate_mock"]

"""Long workflows of trivial templated modules and the consistency checks of a stopped run
(issue 15: deadlines, disconnects, caps, stranding)."""

from __future__ import annotations

from collections import Counter
from typing import Any

SERVER = {"type": "object", "properties": {"condition_value": {"resolver": "server"}}}


def long_workflow(steps: int, modules_per_step: int = 1, workflow_id: str = "long") -> dict[str, Any]:
    """`steps` steps of `modules_per_step` `transform.conditional_text` modules, each reading
    the previous module's result through a template (so state and templates are exercised)."""
    out = []
    previous = None
    for i in range(steps):
        modules = []
        for j in range(modules_per_step):
            name = f"m{i}_{j}"
            value = "{{ state." + previous + ".result }}" if previous else "start"
            modules.append({"module_id": "transform.conditional_text", "name": name,
                            "inputs": {"resolver_schema": SERVER, "condition_value": value,
                                       "text_if_not_empty": "x"}})
            previous = name
        out.append({"step_id": f"s{i}", "name": f"Step {i}", "modules": modules})
    return {"workflow_id": workflow_id, "name": "Long", "steps": out}


def assert_consistent(events: list[dict[str, Any]], once: bool = True) -> dict[str, int]:
    """The lineage of a run that stopped between modules: sequences gapless, every started
    module ended (and, with `once`, no module ran twice). Returns counts of event types."""
    sequences = [e["sequence"] for e in events]
    assert sequences == list(range(1, len(events) + 1)), "sequence gap"
    open_module: tuple[str, str] | None = None
    ended: Counter[tuple[str, str]] = Counter()
    for event in events:
        kind, key = event["event_type"], (event.get("step_id"), event.get("module_name"))
        if kind == "module_started":
            assert open_module is None, f"module {open_module} left open"
            open_module = key  # type: ignore[assignment]
        elif kind in ("module_completed", "module_error"):
            assert open_module == key, f"{kind} without its module_started: {key}"
            open_module = None
            ended[key] += 1  # type: ignore[index]
    awaiting = bool(events) and events[-1]["event_type"] in ("interaction_requested",
                                                             "interaction_refreshed")
    assert open_module is None or awaiting, f"half-written module {open_module}"
    assert not once or all(n == 1 for n in ended.values()), "a module ran twice"
    return dict(Counter(e["event_type"] for e in events))

"""Version bookkeeping helpers: content hash, execution-group variants, selection and diffs.

Pure functions over workflow dicts (workflow-format.md §8, engine.md §15.2); the engine stores
what these return.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import msgspec

from engine.errors import WorkflowInvalid
from engine.jsonutil import canonical_json, sha256_tag
from engine.workflow_validation import EXECUTION_GROUPS, MAX_COMBINATIONS


class Variant(msgspec.Struct, kw_only=True):
    """One flattened workflow of the cartesian product (WF-19) and what it requires (WF-20)."""

    workflow: dict[str, Any]
    requires: list[dict[str, Any]]
    index: int


def content_hash(workflow: dict[str, Any]) -> str:
    """WF-22: the same formula for object and zip uploads, in both servers."""
    return sha256_tag(workflow)


def _group_modules(workflow: dict[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for s, step in enumerate(workflow.get("steps", [])):
        for m, module in enumerate(step.get("modules", [])):
            if isinstance(module, dict) and module.get("module_id") == EXECUTION_GROUPS:
                found.append((s, m, module))
    return found


def _expand_one(egm: dict[str, Any], group: dict[str, Any]) -> list[dict[str, Any]]:
    """Replacement modules for one execution-group module and its chosen group (WF-19)."""
    eg_name = egm.get("name", egm["module_id"])
    requires = copy.deepcopy(group.get("requires", []))

    def origin(is_exit: bool, auto: bool) -> dict[str, Any]:
        return {"group_name": eg_name, "path_name": group["name"],
                "requires": copy.deepcopy(requires), "is_group_exit": is_exit,
                "auto_generated": auto}

    inserted: list[dict[str, Any]] = []
    modules = group.get("modules", [])
    for index, module in enumerate(modules):
        clone = copy.deepcopy(module)
        clone["_metadata"] = {"expanded_from": eg_name, "expanded_index": index,
                              "_group_origin": origin(index == len(modules) - 1, False)}
        inserted.append(clone)
    schema = egm.get("output_schema")
    if isinstance(schema, dict):
        if inserted:
            inserted[-1]["_metadata"]["_group_origin"]["is_group_exit"] = False
        inserted.append({
            "module_id": "io.validate",
            "name": "_" + eg_name + "_validator",
            "inputs": {"schema": copy.deepcopy(schema),
                       "state_keys": list((schema.get("properties") or {}).keys()),
                       "strict": False},
            "_metadata": {"expanded_from": eg_name, "expanded_index": len(modules),
                          "_group_origin": origin(True, True)},
        })
    return inserted


def expand_execution_groups(workflow: dict[str, Any]) -> list[Variant]:
    """All flattened variants in cartesian order; `[]` when there are no execution groups."""
    found = _group_modules(workflow)
    if not found:
        return []
    count = 1
    for _, _, egm in found:
        count *= len(egm.get("groups", []))
    if count > MAX_COMBINATIONS:
        raise WorkflowInvalid(
            "Workflow invalid: more than 64 execution-group combinations",
            details={"reason": "more than 64 execution-group combinations", "path": "steps"})
    positions = {(s, m): k for k, (s, m, _) in enumerate(found)}
    variants: list[Variant] = []
    choices = [range(len(egm.get("groups", []))) for _, _, egm in found]
    for index, combo in enumerate(itertools.product(*choices)):
        flat = {k: v for k, v in workflow.items() if k != "steps"}
        flat = copy.deepcopy(flat)
        steps: list[Any] = []
        requires: list[dict[str, Any]] = []
        for s, step in enumerate(workflow.get("steps", [])):
            new_step = {k: copy.deepcopy(v) for k, v in step.items() if k != "modules"}
            modules: list[Any] = []
            for m, module in enumerate(step.get("modules", [])):
                k = positions.get((s, m))
                if k is None:
                    modules.append(copy.deepcopy(module))
                    continue
                group = module["groups"][combo[k]]
                requires.extend(copy.deepcopy(group.get("requires", [])))
                modules.extend(_expand_one(module, group))
            new_step["modules"] = modules
            steps.append(new_step)
        flat["steps"] = steps
        variants.append(Variant(workflow=flat, requires=requires, index=index))
    return variants


def _priority(child: dict[str, Any]) -> float:
    return sum(r.get("priority", 0) or 0 for r in child.get("requires") or [])


def select_variant(children: list[dict[str, Any]], capabilities: list[str]) -> dict[str, Any]:
    """WF-21: every requirement met, highest priority sum, ties to the earliest expansion.

    The caller uses the `raw` source itself when there are no resolved children.
    """
    caps = set(capabilities)
    ordered = sorted(children, key=lambda c: c.get("expansion_index", 0))
    best: dict[str, Any] | None = None
    best_score = 0.0
    for child in ordered:
        if all(r.get("capability") in caps for r in child.get("requires") or []):
            score = _priority(child)
            if best is None or score > best_score:
                best, best_score = child, score
    if best is None:
        raise WorkflowInvalid(
            "No workflow variant matches the client capabilities",
            details={"reason": "no variant matches the client capabilities",
                     "capabilities": list(capabilities)})
    return best


# ---------------------------------------------------------------- version_diff (engine.md §15.2)

def _by_key(items: list[Any], key: str, default_key: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict):
            name = item.get(key, item.get(default_key) if default_key else None)
            if isinstance(name, str):
                out.setdefault(name, item)
    return out


def _change(kind: str, path: str, old: Any = None, new: Any = None) -> dict[str, Any]:
    """One diff item; `old_value`/`new_value` are what the web UI's diff dialog shows."""
    item: dict[str, Any] = {"type": kind, "path": path}
    if kind in ("changed", "removed"):
        item["old_value"] = copy.deepcopy(old)
    if kind in ("changed", "added"):
        item["new_value"] = copy.deepcopy(new)
    return item


def _diff_keys(old: dict[str, Any], new: dict[str, Any], prefix: str,
               changes: list[dict[str, Any]]) -> None:
    for key in list(old) + [k for k in new if k not in old]:
        path = prefix + key
        if key not in new:
            changes.append(_change("removed", path, old[key]))
        elif key not in old:
            changes.append(_change("added", path, new=new[key]))
        elif canonical_json(old[key]) != canonical_json(new[key]):
            changes.append(_change("changed", path, old[key], new[key]))


def _step_ids(workflow: dict[str, Any]) -> list[Any]:
    return [s.get("step_id") for s in workflow.get("steps", []) if isinstance(s, dict)]


def version_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`{has_changes, summary, changes: [{type, path, old_value?, new_value?}]}` comparing two
    resolved workflows (`old_value` on changed/removed items, `new_value` on changed/added)."""
    changes: list[dict[str, Any]] = []
    old_top = {k: v for k, v in old.items() if k != "steps"}
    new_top = {k: v for k, v in new.items() if k != "steps"}
    _diff_keys(old_top, new_top, "workflow.", changes)
    old_steps = _by_key(old.get("steps", []), "step_id")
    new_steps = _by_key(new.get("steps", []), "step_id")
    common = [s for s in old_steps if s in new_steps]
    if common != [s for s in new_steps if s in old_steps]:
        changes.append(_change("changed", "workflow.steps", _step_ids(old), _step_ids(new)))
    for sid in list(old_steps) + [s for s in new_steps if s not in old_steps]:
        path = "steps." + sid
        if sid not in new_steps:
            changes.append(_change("removed", path, old_steps[sid]))
            continue
        if sid not in old_steps:
            changes.append(_change("added", path, new=new_steps[sid]))
            continue
        o_step, n_step = old_steps[sid], new_steps[sid]
        o_meta = {k: v for k, v in o_step.items() if k != "modules"}
        n_meta = {k: v for k, v in n_step.items() if k != "modules"}
        o_mods = _by_key(o_step.get("modules", []), "name", "module_id")
        n_mods = _by_key(n_step.get("modules", []), "name", "module_id")
        same_order = [m for m in o_mods if m in n_mods] == [m for m in n_mods if m in o_mods]
        if canonical_json(o_meta) != canonical_json(n_meta) or not same_order:
            changes.append(_change("changed", path, {**o_meta, "modules": list(o_mods)},
                                   {**n_meta, "modules": list(n_mods)}))
        for name in list(o_mods) + [m for m in n_mods if m not in o_mods]:
            mpath = path + ".modules." + name
            if name not in n_mods:
                changes.append(_change("removed", mpath, o_mods[name]))
            elif name not in o_mods:
                changes.append(_change("added", mpath, new=n_mods[name]))
            elif canonical_json(o_mods[name]) != canonical_json(n_mods[name]):
                changes.append(_change("changed", mpath, o_mods[name], n_mods[name]))
    return {"has_changes": bool(changes), "summary": str(len(changes)) + " change(s)",
            "changes": changes}

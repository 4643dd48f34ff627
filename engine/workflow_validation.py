"""Workflow validation (workflow-format.md §9, WF-5, WF-14…WF-16, WF-18, WF-23…WF-27).

Runs on every upload and every virtual request, so it is one fast iterative scan of the whole
document (size, depth, NUL keys, string lengths, leftover `$ref`) followed by a structural walk
that stops at the first problem. Module registration and retry targets are deliberately not
checked (WF-27) so editors can preview partial workflows.
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import WorkflowInvalid, WorkflowTooLarge
from engine.jsonutil import canonical_json
from engine.settings import EngineSettings

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
STATE_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
EXECUTION_GROUPS = "pipeline.execution_groups"
MAX_COMBINATIONS = 64
MAX_PLAIN_STRING_BYTES = 1024 * 1024
OPTION_MODES = frozenset({"continue", "retry", "retry_all", "retry_selected", "jump"})
SERVER_RULES = frozenset({"response_field_required", "response_field_not_empty",
                          "response_field_equals", "min_selections"})
ACTION_TYPES = frozenset({"target_sub_action", "self_sub_action"})
ADDON_IDS = frozenset({"addons.usage_history", "addons.compatibility"})
MAPPING_MODES = frozenset({"replace", "merge"})
RESOLVERS = frozenset({"server", "client"})

Path = tuple[Any, ...]


def path_text(path: Path) -> str:
    """`("steps", 1, "modules", 3)` → `steps[1].modules[3]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += "[" + str(part) + "]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _fail(reason: str, path: Path) -> WorkflowInvalid:
    where = path_text(path)
    return WorkflowInvalid("Workflow invalid: " + reason + (" at " + where if where else ""),
                           details={"reason": reason, "path": where})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------- WF-25 / WF-26 scan

def _unlink(node: tuple[Any, ...] | None) -> Path:
    parts: list[Any] = []
    while node is not None:
        node, key = node
        parts.append(key)
    return tuple(reversed(parts))


def _scan(workflow: dict[str, Any], settings: EngineSettings) -> None:
    """One pass over every node; parents are linked tuples so paths cost nothing until needed."""
    max_depth = settings.max_json_depth
    tmpl_limit = settings.template_max_source_bytes
    tmpl_fast = tmpl_limit // 4
    plain_fast = MAX_PLAIN_STRING_BYTES // 4
    stack: list[tuple[Any, int, Any]] = [(workflow, 0, None)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth, link = pop()
        if isinstance(value, dict):
            depth += 1
            if depth > max_depth:
                raise _fail("nesting deeper than " + str(max_depth) + " levels", _unlink(link))
            if "$ref" in value:
                raise _fail("unresolved $ref", _unlink(link))
            for key, item in value.items():
                if "\x00" in key:
                    raise _fail("key contains a NUL character", _unlink(link))
                if isinstance(item, (dict, list)) or (isinstance(item, str) and len(item) > tmpl_fast):
                    push((item, depth, (link, key)))
        elif isinstance(value, list):
            depth += 1
            if depth > max_depth:
                raise _fail("nesting deeper than " + str(max_depth) + " levels", _unlink(link))
            for index, item in enumerate(value):
                if isinstance(item, (dict, list)) or (isinstance(item, str) and len(item) > tmpl_fast):
                    push((item, depth, (link, index)))
        elif isinstance(value, str):
            is_template = "{{" in value or "{%" in value
            if is_template and len(value.encode("utf-8")) > tmpl_limit:
                raise _fail("template string longer than " + str(tmpl_limit) + " bytes",
                            _unlink(link))
            if len(value) > plain_fast and len(value.encode("utf-8")) > MAX_PLAIN_STRING_BYTES:
                raise _fail("string longer than 1 MiB", _unlink(link))


# ---------------------------------------------------------------- structural walk (WF-23)

class _Checker:
    def __init__(self) -> None:
        # name -> list of (group_module_key, path_index); see `_claim` for the conflict rule.
        self.names: dict[str, list[tuple[Any, int]]] = {}
        self.combinations = 1

    def claim(self, name: str, origin: tuple[Any, int] | None, path: Path) -> None:
        """Names must be unique in every expanded variant (WF-23): two claims only coexist when
        they are different paths of the same execution-group module."""
        here = origin or (None, -1)
        for other in self.names.get(name, []):
            if here[0] is None or other[0] != here[0] or other[1] == here[1]:
                raise _fail("duplicate module name '" + name + "'", path)
        self.names.setdefault(name, []).append(here)

    def workflow(self, wf: dict[str, Any]) -> None:
        wid = wf.get("workflow_id")
        if not isinstance(wid, str) or not NAME_RE.fullmatch(wid):
            raise _fail("workflow_id missing or invalid", ("workflow_id",))
        if "name" in wf and not isinstance(wf["name"], str):
            raise _fail("name must be a string", ("name",))
        if "config" in wf and not isinstance(wf["config"], dict):
            raise _fail("config must be an object", ("config",))
        steps = wf.get("steps")
        if not isinstance(steps, list) or not steps:
            raise _fail("steps must be a non-empty array", ("steps",))
        seen: set[str] = set()
        for i, step in enumerate(steps):
            path: Path = ("steps", i)
            if not isinstance(step, dict):
                raise _fail("step must be an object", path)
            sid = step.get("step_id")
            if not isinstance(sid, str) or not NAME_RE.fullmatch(sid):
                raise _fail("step_id missing or invalid", (*path, "step_id"))
            if sid in seen:
                raise _fail("duplicate step_id '" + sid + "'", (*path, "step_id"))
            seen.add(sid)
            if "name" in step and not isinstance(step["name"], str):
                raise _fail("step name must be a string", (*path, "name"))
            modules = step.get("modules")
            if not isinstance(modules, list):
                raise _fail("modules must be an array", (*path, "modules"))
            for j, module in enumerate(modules):
                self.module(module, (*path, "modules", j), None)

    def module(self, m: Any, path: Path, origin: tuple[Any, int] | None) -> None:
        if not isinstance(m, dict):
            raise _fail("module must be an object", path)
        mid = m.get("module_id")
        if not isinstance(mid, str) or not mid:
            raise _fail("module_id must be a non-empty string", (*path, "module_id"))
        name = m.get("name", mid)
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise _fail("module name missing or invalid", (*path, "name"))
        if mid == EXECUTION_GROUPS:
            if origin is not None:
                raise _fail("nested execution groups are not supported", path)
            self.execution_groups(m, name, path)
            return
        self.claim(name, origin, (*path, "name"))
        self.module_body(m, mid, path)

    def module_body(self, m: dict[str, Any], mid: str, path: Path) -> None:
        if "inputs" in m:
            self.inputs(m["inputs"], (*path, "inputs"))
        if "outputs_to_state" in m:
            self.outputs_to_state(m["outputs_to_state"], (*path, "outputs_to_state"))
        if "retryable" in m:
            self.retryable(m["retryable"], (*path, "retryable"))
        if "sub_actions" in m:
            self.sub_actions(m["sub_actions"], (*path, "sub_actions"))
        if "addons" in m:
            self.addons(m["addons"], mid, (*path, "addons"))

    def inputs(self, inputs: Any, path: Path) -> None:
        if not isinstance(inputs, dict):
            raise _fail("inputs must be an object", path)
        stack: list[tuple[Any, Path]] = [(inputs, path)]
        while stack:  # WF-24: every resolver_schema at any depth
            value, where = stack.pop()
            if isinstance(value, dict):
                if "resolver_schema" in value:
                    self.resolver_schema(value["resolver_schema"], (*where, "resolver_schema"))
                stack.extend((v, (*where, k)) for k, v in value.items() if isinstance(v, (dict, list)))
            elif isinstance(value, list):
                stack.extend((v, (*where, i)) for i, v in enumerate(value) if isinstance(v, (dict, list)))

    def resolver_schema(self, rs: Any, path: Path) -> None:
        if not isinstance(rs, dict):
            raise _fail("resolver_schema must be an object", path)
        if "type" in rs and rs["type"] != "object":
            raise _fail("resolver_schema type must be 'object'", (*path, "type"))
        props = rs.get("properties", {})
        if not isinstance(props, dict):
            raise _fail("resolver_schema properties must be an object", (*path, "properties"))
        for key, prop in props.items():
            if not isinstance(prop, dict):
                raise _fail("resolver_schema property must be an object", (*path, "properties", key))
            if "resolver" in prop and prop["resolver"] not in RESOLVERS:
                raise _fail("resolver must be 'server' or 'client'",
                            (*path, "properties", key, "resolver"))

    def outputs_to_state(self, ots: Any, path: Path) -> None:
        if not isinstance(ots, dict):
            raise _fail("outputs_to_state must be an object", path)
        for key, target in ots.items():
            if not key:
                raise _fail("outputs_to_state keys must be non-empty", path)
            if not isinstance(target, str) or not STATE_KEY_RE.fullmatch(target):
                raise _fail("invalid state key", (*path, key))

    def retryable(self, r: Any, path: Path) -> None:
        if not isinstance(r, dict):
            raise _fail("retryable must be an object", path)
        if "default_option" in r and not isinstance(r["default_option"], str):
            raise _fail("default_option must be a string", (*path, "default_option"))
        options = r.get("options", [])
        if not isinstance(options, list):
            raise _fail("options must be an array", (*path, "options"))
        seen: set[str] = set()
        for i, opt in enumerate(options):
            where = (*path, "options", i)
            if not isinstance(opt, dict):
                raise _fail("option must be an object", where)
            oid = opt.get("id")
            if not isinstance(oid, str) or not oid:
                raise _fail("option id must be a non-empty string", (*where, "id"))
            if oid in seen:
                raise _fail("duplicate option id '" + oid + "'", (*where, "id"))
            seen.add(oid)
            mode = opt.get("mode")
            if mode not in OPTION_MODES:
                raise _fail("invalid option mode", (*where, "mode"))
            for key in ("target_module", "target_step"):
                if key in opt and not isinstance(opt[key], str):
                    raise _fail(key + " must be a string", (*where, key))
            if mode == "jump" and not opt.get("target_module"):
                raise _fail("jump option requires target_module", (*where, "target_module"))
            self.validations(opt.get("validations", []), (*where, "validations"))

    def validations(self, vals: Any, path: Path) -> None:
        if not isinstance(vals, list):
            raise _fail("validations must be an array", path)
        for i, v in enumerate(vals):
            where = (*path, i)
            if not isinstance(v, dict):
                raise _fail("validation must be an object", where)
            if not isinstance(v.get("id"), str) or not v["id"]:
                raise _fail("validation id must be a non-empty string", (*where, "id"))
            if not isinstance(v.get("rule"), str) or not v["rule"]:
                raise _fail("validation rule must be a non-empty string", (*where, "rule"))
            if v.get("severity", "error") not in ("error", "warning"):
                raise _fail("severity must be 'error' or 'warning'", (*where, "severity"))
            validator = v.get("validator", ["webui", "server"])
            if not isinstance(validator, list) or not all(isinstance(x, str) for x in validator):
                raise _fail("validator must be an array of strings", (*where, "validator"))
            if "server" in validator and v["rule"] not in SERVER_RULES:  # WF-14
                raise _fail("unknown server validation rule '" + v["rule"] + "'", (*where, "rule"))
            if "field" in v and not isinstance(v["field"], str):
                raise _fail("field must be a string", (*where, "field"))
            if "min" in v and not _is_int(v["min"]):
                raise _fail("min must be an integer", (*where, "min"))

    def sub_actions(self, subs: Any, path: Path) -> None:
        if not isinstance(subs, list):
            raise _fail("sub_actions must be an array", path)
        seen: set[str] = set()
        for i, sub in enumerate(subs):
            where = (*path, i)
            if not isinstance(sub, dict):
                raise _fail("sub-action must be an object", where)
            sid = sub.get("id")
            if not isinstance(sid, str) or not sid:
                raise _fail("sub-action id must be a non-empty string", (*where, "id"))
            if sid in seen:
                raise _fail("duplicate sub-action id '" + sid + "'", (*where, "id"))
            seen.add(sid)
            self.actions(sub.get("actions"), (*where, "actions"))
            mapping = sub.get("result_mapping", [])
            if not isinstance(mapping, list):
                raise _fail("result_mapping must be an array", (*where, "result_mapping"))
            for k, entry in enumerate(mapping):
                at = (*where, "result_mapping", k)
                if not isinstance(entry, dict) or not isinstance(entry.get("source"), str) \
                        or not isinstance(entry.get("target"), str):
                    raise _fail("result_mapping entry needs string source and target", at)
                if entry.get("mode", "replace") not in MAPPING_MODES:
                    raise _fail("result_mapping mode must be 'replace' or 'merge'", (*at, "mode"))
            if "feedback" in sub and not isinstance(sub["feedback"], dict):
                raise _fail("feedback must be an object", (*where, "feedback"))

    def actions(self, actions: Any, path: Path) -> None:  # WF-15
        if not isinstance(actions, list) or not actions:
            raise _fail("actions must be a non-empty array", path)
        kinds = set()
        for i, action in enumerate(actions):
            where = (*path, i)
            if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
                raise _fail("invalid action type", where)
            kinds.add(action["type"])
            if action["type"] == "target_sub_action":
                self.target_action(action, where)
            elif "params" in action and not isinstance(action["params"], dict):
                raise _fail("params must be an object", (*where, "params"))
        if len(kinds) > 1:
            raise _fail("sub-action mixes action types", path)
        if "self_sub_action" in kinds and len(actions) > 1:
            raise _fail("self_sub_action must be the only action", path)

    def target_action(self, action: dict[str, Any], path: Path) -> None:
        ref = action.get("ref")
        if ref is None and "module_id" not in action:
            raise _fail("target_sub_action needs ref or module_id", path)
        if ref is not None and (not isinstance(ref, dict) or not isinstance(ref.get("step_id"), str)
                                or not isinstance(ref.get("module_name"), str)):
            raise _fail("ref must be {step_id, module_name}", (*path, "ref"))
        if "module_id" in action and (not isinstance(action["module_id"], str) or not action["module_id"]):
            raise _fail("module_id must be a non-empty string", (*path, "module_id"))
        if "inputs" in action:
            self.inputs(action["inputs"], (*path, "inputs"))
        if "outputs_to_state" in action:
            self.outputs_to_state(action["outputs_to_state"], (*path, "outputs_to_state"))

    def addons(self, addons: Any, module_id: str, path: Path) -> None:  # WF-16
        if module_id != "user.select":
            raise _fail("addons are only allowed on user.select", path)
        if not isinstance(addons, list):
            raise _fail("addons must be an array", path)
        for i, addon in enumerate(addons):
            where = (*path, i)
            if not isinstance(addon, dict) or addon.get("addon_id") not in ADDON_IDS:
                raise _fail("unknown addon_id", where)
            if "priority" in addon and not _is_int(addon["priority"]):
                raise _fail("priority must be an integer", (*where, "priority"))
            if "inputs" in addon:
                self.inputs(addon["inputs"], (*where, "inputs"))

    def execution_groups(self, m: dict[str, Any], name: str, path: Path) -> None:  # WF-18
        groups = m.get("groups")
        if not isinstance(groups, list) or not groups:
            raise _fail("groups must be a non-empty array", (*path, "groups"))
        if "output_schema" in m:
            if not isinstance(m["output_schema"], dict):
                raise _fail("output_schema must be an object", (*path, "output_schema"))
            self.claim("_" + name + "_validator", None, (*path, "name"))
        key = path  # the module's own path identifies it among execution-group modules
        seen: set[str] = set()
        for k, group in enumerate(groups):
            where = (*path, "groups", k)
            if not isinstance(group, dict):
                raise _fail("group must be an object", where)
            gname = group.get("name")
            if not isinstance(gname, str) or not gname:
                raise _fail("group name must be a non-empty string", (*where, "name"))
            if gname in seen:
                raise _fail("duplicate group name '" + gname + "'", (*where, "name"))
            seen.add(gname)
            requires = group.get("requires", [])
            if not isinstance(requires, list):
                raise _fail("requires must be an array", (*where, "requires"))
            for r, req in enumerate(requires):
                if not isinstance(req, dict) or not isinstance(req.get("capability"), str) \
                        or not req["capability"]:
                    raise _fail("requires entry needs a capability", (*where, "requires", r))
                if "priority" in req and not isinstance(req["priority"], (int, float)):
                    raise _fail("priority must be a number", (*where, "requires", r, "priority"))
            modules = group.get("modules")
            if not isinstance(modules, list):
                raise _fail("group modules must be an array", (*where, "modules"))
            for j, module in enumerate(modules):
                self.module(module, (*where, "modules", j), (key, k))
        self.combinations *= len(groups)
        if self.combinations > MAX_COMBINATIONS:
            raise _fail("more than " + str(MAX_COMBINATIONS) + " execution-group combinations", path)


def _count_modules(modules: Any) -> int:
    """Modules of a list, counting every module of every execution-group path."""
    if not isinstance(modules, list):
        return 0
    count = 0
    stack = [modules]
    while stack:
        for module in stack.pop():
            count += 1
            for group in (module.get("groups") if isinstance(module, dict) else None) or []:
                if isinstance(group, dict) and isinstance(group.get("modules"), list):
                    stack.append(group["modules"])
    return count


def _too_large(what: str, count: int, limit: int, setting: str) -> WorkflowTooLarge:
    reason = f"workflow has {count} {what}, more than the limit of {limit} ({setting})"
    return WorkflowTooLarge("Workflow too large: " + reason,
                            details={"reason": reason, "count": count, "limit": limit,
                                     "setting": setting})


def check_caps(workflow: dict[str, Any], settings: EngineSettings) -> None:
    """Step and module caps (issue 15): refused before anything is scanned, stored or run."""
    steps = workflow.get("steps")
    if not isinstance(steps, list):
        return
    if len(steps) > settings.workflow_max_steps:
        raise _too_large("steps", len(steps), settings.workflow_max_steps,
                         "WFE_WORKFLOW_MAX_STEPS")
    modules = sum(_count_modules(step.get("modules")) for step in steps if isinstance(step, dict))
    if modules > settings.workflow_max_modules:
        raise _too_large("modules", modules, settings.workflow_max_modules,
                         "WFE_WORKFLOW_MAX_MODULES")


def validate_workflow(workflow: Any, settings: EngineSettings) -> None:
    """Raise `WorkflowInvalid` (details `{reason, path}`) for the first problem found, or
    `WorkflowTooLarge` (a request error) for a workflow over a cap."""
    if not isinstance(workflow, dict):
        raise _fail("workflow must be an object", ())
    check_caps(workflow, settings)
    _scan(workflow, settings)
    if len(canonical_json(workflow)) > settings.workflow_max_bytes:
        raise _fail("workflow exceeds " + str(settings.workflow_max_bytes) + " bytes", ())
    _Checker().workflow(workflow)

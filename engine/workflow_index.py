"""Fast lookups into one resolved workflow version: steps, modules and flat indexes.

Built once per version and cached, because every operation looks modules up by
`(step_id, module_name)` and compares flat positions (engine.md §7.2, §11, §14).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from engine.errors import ModuleNotFound, StepNotFound
from engine.jsonutil import sha256_tag


@dataclass(frozen=True)
class ModuleRef:
    step_id: str
    step_index: int
    module_name: str
    module_index: int
    flat_index: int
    config: dict[str, Any]

    @property
    def module_id(self) -> str:
        return str(self.config.get("module_id", ""))


class WorkflowIndex:
    def __init__(self, workflow: dict[str, Any]) -> None:
        self.workflow = workflow
        self.steps: list[dict[str, Any]] = list(workflow.get("steps") or [])
        self.step_pos: dict[str, int] = {}
        self.flat: list[ModuleRef] = []
        self._by_key: dict[tuple[str, str], ModuleRef] = {}
        self._by_name: dict[str, ModuleRef] = {}
        self._step_modules: dict[str, list[ModuleRef]] = {}
        self._hash_cache: dict[tuple[str, str], str] = {}
        for s_index, step in enumerate(self.steps):
            step_id = str(step.get("step_id"))
            self.step_pos[step_id] = s_index
            refs: list[ModuleRef] = []
            for m_index, module in enumerate(step.get("modules") or []):
                name = str(module.get("name") or module.get("module_id"))
                ref = ModuleRef(step_id, s_index, name, m_index, len(self.flat), module)
                self.flat.append(ref)
                refs.append(ref)
                self._by_key[(step_id, name)] = ref
                self._by_name.setdefault(name, ref)
            self._step_modules[step_id] = refs

    @property
    def total_steps(self) -> int:
        return len(self.steps)

    @property
    def config(self) -> dict[str, Any]:
        return self.workflow.get("config") or {}

    def step(self, step_id: str) -> dict[str, Any]:
        return self.steps[self.step_pos[step_id]]

    def has_step(self, step_id: str) -> bool:
        return step_id in self.step_pos

    def step_modules(self, step_id: str) -> list[ModuleRef]:
        return self._step_modules.get(step_id, [])

    def step_ids(self) -> list[str]:
        return [str(s.get("step_id")) for s in self.steps]

    def find(self, step_id: str, module_name: str) -> ModuleRef | None:
        return self._by_key.get((step_id, module_name))

    def by_name(self, module_name: str) -> ModuleRef | None:
        return self._by_name.get(module_name)

    def require_target(self, step_id: str, module_name: str) -> ModuleRef:
        """Target lookup with the details of engine.md §14.1 step 1."""
        if step_id not in self.step_pos:
            raise StepNotFound(f"Step '{step_id}' not found in workflow",
                               details={"step_id": step_id, "available_steps": self.step_ids()})
        ref = self.find(step_id, module_name)
        if ref is None:
            raise ModuleNotFound(
                f"Module '{module_name}' not found in step '{step_id}'",
                details={"step_id": step_id, "module_name": module_name,
                         "available_modules": [r.module_name for r in self.step_modules(step_id)]})
        return ref

    def require_position(self, step_id: str | None, module_name: str | None) -> ModuleRef:
        """Cursor lookup (ENG-21): a position the current version lacks is an error."""
        details = {"reason": "position not in current workflow version", "step_id": step_id,
                   "module_name": module_name}
        if step_id is None or step_id not in self.step_pos:
            raise StepNotFound(f"Step '{step_id}' not found in workflow", details=details)
        ref = self.find(step_id, module_name or "")
        if ref is None:
            raise ModuleNotFound(f"Module '{module_name}' not found in step '{step_id}'",
                                 details=details)
        return ref

    def step_name(self, step_id: str) -> str:
        """Display name with `{step_number}` replaced (plain replace, never str.format)."""
        pos = self.step_pos.get(step_id)
        if pos is None:
            return step_id
        raw = str(self.steps[pos].get("name") or step_id)
        return raw.replace("{step_number}", str(pos + 1))

    def config_hash(self, ref: ModuleRef) -> str:
        key = (ref.step_id, ref.module_name)
        cached = self._hash_cache.get(key)
        if cached is None:
            cached = sha256_tag(ref.config)
            self._hash_cache[key] = cached
        return cached


_cache: OrderedDict[str, WorkflowIndex] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 64


def index_for(version_id: str, workflow: dict[str, Any]) -> WorkflowIndex:
    """Cached index per stored version id (versions are immutable once stored)."""
    with _cache_lock:
        found = _cache.get(version_id)
        if found is not None and found.workflow == workflow:
            _cache.move_to_end(version_id)
            return found
    index = WorkflowIndex(workflow)
    with _cache_lock:
        _cache[version_id] = index
        _cache.move_to_end(version_id)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return index

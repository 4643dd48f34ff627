"""Loading an authored workflow folder (or one resolved JSON file) for the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine import WorkflowInvalid, default_registry, load_workflow_folder


class LoadError(Exception):
    """No workflow could be read from the path given."""


def entry_file(folder: Path, entry: str | None) -> str:
    """`--entry`, else the one top-level JSON file with `workflow_id` and `steps`."""
    if entry:
        return entry
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "workflow_id" in doc and "steps" in doc:
            found.append(path.name)
    if len(found) == 1:
        return found[0]
    if not found:
        raise LoadError(f"no workflow entry file (a JSON object with workflow_id and steps) in "
                        f"{folder}; pass --entry FILE")
    raise LoadError(f"several entry files in {folder} ({', '.join(found)}); pass --entry FILE")


def load_workflow(path: Path, entry: str | None = None) -> tuple[dict[str, Any], str]:
    """(resolved workflow, entry file name); `$ref` errors raise `WorkflowInvalid`."""
    if path.is_file():
        return load_workflow_folder(path.parent, path.name), path.name
    if not path.is_dir():
        raise LoadError(f"{path} is neither a folder nor a file")
    name = entry_file(path, entry)
    return load_workflow_folder(path, name), name


def describe_invalid(exc: WorkflowInvalid) -> str:
    details = ", ".join(f"{k}: {v}" for k, v in exc.details.items() if k != "reason")
    reason = exc.details.get("reason")
    text = exc.message if not reason or reason in exc.message else f"{exc.message} ({reason})"
    return f"{text}{' — ' + details if details else ''}"


def unregistered_modules(workflow: dict[str, Any]) -> list[str]:
    """Module ids the engine does not know (valid workflows may name them, WF-27; they fail
    only when reached, so the command line warns about them up front)."""
    known = {entry["module_id"] for entry in default_registry().catalog()}
    seen: list[str] = []
    for step in workflow.get("steps") or []:
        for module in step.get("modules") or []:
            module_id = module.get("module_id")
            if module_id not in known and module_id not in seen and \
                    module_id != "pipeline.execution_groups":
                seen.append(str(module_id))
    return seen

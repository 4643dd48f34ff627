"""Shared helpers of the `workflow_files` modules (MOD-io-1…3): placement and document shape."""

from __future__ import annotations

from typing import Any

from engine.jsonutil import canonical_json
from engine.modules.base import ExecutionContext, ModuleExecutionError

#: content stored in one workflow file must stay below the event size limit (MOD-io-2)
MAX_FILE_CONTENT_BYTES = 4 * 1024 * 1024


def placement(target_path: str | None) -> tuple[str, str | None]:
    """Map `target_path` to `(category, group_id)`: root / outputs / an outputs group."""
    if target_path == "root":
        return "root", None
    if target_path in (None, "", "outputs"):
        return "outputs", None
    return "outputs", target_path


def basename(file_path: str) -> str:
    """Only the file name is stored; directories in `file_path` are ignored (both separators)."""
    return file_path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def insert_file(context: ExecutionContext, *, file_path: str, target_path: str,
                content_type: str, content: Any) -> tuple[str, str]:
    """Insert one lineage-scoped file document; returns `(file_id, filename)`."""
    size = len(canonical_json(content))
    if size > MAX_FILE_CONTENT_BYTES:
        raise ModuleExecutionError(
            f"File content too large: {size} bytes (limit {MAX_FILE_CONTENT_BYTES})")
    category, group_id = placement(target_path)
    filename = basename(file_path)
    if not filename:
        raise ModuleExecutionError("file_path must name a file", error_type="input_validation_failed")
    file_id = context.new_id("wff_")
    context.store.insert_file({
        "file_id": file_id,
        "workflow_run_id": context.workflow_run_id,
        "branch_id": context.branch_id,
        "sequence": context.sequence,
        "category": category,
        "group_id": group_id,
        "filename": filename,
        "content_type": content_type,
        "content": content,
        "metadata": {"step_id": context.step_id, "module_name": context.module_name,
                     "target_path": target_path},
        "provenance": context.provenance,
        "created_at": context.clock.now(),
    })
    return file_id, filename

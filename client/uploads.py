"""Workflows from disk: a folder (zipped in memory or resolved locally), a zip file, a dict.

The production server resolves uploads itself (a base64 zip plus its entry point, or the
resolved JSON); the virtual server takes the resolved JSON only, which the engine's own loader
produces from a folder, so both servers see exactly what `engine.upload` would read.
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

from client.errors import ClientError
from engine import load_workflow_folder

ENTRY_DEFAULT = "workflow.json"


def entry_point_of(folder: Path) -> str:
    """The workflow's entry file: the only top-level `.json`, else `workflow.json`."""
    top = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".json")
    if len(top) == 1:
        return top[0]
    if ENTRY_DEFAULT in top:
        return ENTRY_DEFAULT
    raise ClientError(f"{folder}: cannot tell the entry point among {top}; pass entry_point=")


def zip_folder(folder: Path) -> str:
    """The folder as a base64 zip (paths relative to it, sorted, no symlinks followed out)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(folder).as_posix())
    return base64.b64encode(buffer.getvalue()).decode()


def upload_content(source: str | Path | dict[str, Any],
                   entry_point: str | None) -> tuple[str | dict[str, Any], str | None]:
    """(`workflow_content`, `workflow_entry_point`) of a production start."""
    if isinstance(source, dict):
        return source, entry_point
    path = Path(source)
    if path.is_dir():
        return zip_folder(path), entry_point or entry_point_of(path)
    if path.suffix == ".zip":
        return base64.b64encode(path.read_bytes()).decode(), entry_point
    raise ClientError(f"{path}: not a workflow folder, a .zip or a dict")


def resolved_workflow(source: str | Path | dict[str, Any],
                      entry_point: str | None = None) -> dict[str, Any]:
    """The resolved workflow JSON the virtual server takes (a folder is loaded by the engine)."""
    if isinstance(source, dict):
        return source
    path = Path(source)
    if not path.is_dir():
        raise ClientError(f"{path}: the virtual server needs a workflow folder or a dict")
    return load_workflow_folder(path, entry_point or entry_point_of(path))


def last_module(workflow: dict[str, Any]) -> tuple[str, str]:
    """(step_id, module name) of the workflow's last module: the target of a whole run."""
    steps = [s for s in workflow.get("steps") or [] if isinstance(s, dict) and s.get("modules")]
    if not steps:
        raise ClientError("the workflow has no modules")
    return str(steps[-1]["step_id"]), str(steps[-1]["modules"][-1]["name"])


__all__ = ["entry_point_of", "last_module", "resolved_workflow", "upload_content", "zip_folder"]

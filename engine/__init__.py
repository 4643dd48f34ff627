"""The workflow engine: a synchronous, deterministic library shared by both servers.

Public API: `WorkflowEngine`, `EngineSettings`, the ports and the wire structs.
"""

from __future__ import annotations

import jinja2

from engine.settings import EngineSettings

_MIN_JINJA = (3, 1, 6)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


# GEN-7: the sandbox relies on fixes shipped in Jinja2 3.1.6; refuse anything older.
if _version_tuple(jinja2.__version__) < _MIN_JINJA:
    raise ImportError("engine requires jinja2 >= 3.1.6, found " + jinja2.__version__)

__all__ = ["EngineSettings", "WorkflowEngine"]


def __getattr__(name: str) -> object:
    if name == "WorkflowEngine":
        from engine.processor import WorkflowEngine

        return WorkflowEngine
    raise AttributeError(name)

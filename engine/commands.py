"""Commands: the arguments of the operations that take more than a run id and an answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.outcomes import ExecOptions


@dataclass
class StartCommand:
    """Production start (engine.md §15.2)."""

    user_id: str
    project_name: str
    workflow: dict[str, Any]
    source_type: str = "json"
    capabilities: list[str] = field(default_factory=list)
    force_new: bool = False
    confirm: bool = False
    ai_config: dict[str, Any] | None = None
    mock: bool = False
    allow_mock: bool = True
    options: ExecOptions = field(default_factory=ExecOptions)

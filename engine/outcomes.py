"""What an operation is asked to do and why it stopped: `ExecOptions`, `Stop`, cancellation.

These types sit below every operation module, so the driver, the answer handling and the
operation runner can all speak them without importing each other. A `Stop` is a value, never an
exception: responses are built from it once the operation's writes are done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.errors import Cancelled, EngineError
from engine.ports import CancelToken, ProgressSink
from engine.provider_types import ProviderCancelled
from engine.wire import AutoRespondConfig, Target, ValidationErrorItem
from engine.workflow_index import ModuleRef

#: why forward execution stopped; `created` and `processing` only report a run's position
StopKind = Literal["awaiting", "target_completed", "workflow_completed", "error", "cancelled",
                   "validation_failed", "created", "processing"]
#: the step of §8.1 a module was in when it failed (`module_error.data.phase`)
ModulePhase = Literal["resolve", "validate_inputs", "request", "execute", "response"]
#: who asked for a move: the API, an interaction's answer, or run-to-target (§11, §14.1)
MoveSource = Literal["api", "response", "target"]


@dataclass
class ExecOptions:
    """Per-call execution options (engine.md §2.1)."""

    mock: bool | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    ai_config: dict[str, Any] | None = None
    cancel: CancelToken | None = None
    progress: ProgressSink | None = None
    target: Target | None = None
    auto_respond: AutoRespondConfig | None = None
    #: `time.monotonic()` after which the operation stops at the next module boundary; armed
    #: once at the operation's entry from `WFE_OPERATION_DEADLINE_S` (issue 15)
    deadline: float | None = None


@dataclass
class Stop:
    """Why forward execution stopped, and what the response needs to say so."""

    kind: StopKind
    ref: ModuleRef | None = None
    error_type: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    validation_errors: list[ValidationErrorItem] = field(default_factory=list)
    validation_warnings: list[ValidationErrorItem] = field(default_factory=list)
    interaction_id: str | None = None

    @classmethod
    def error(cls, exc: EngineError, message: str | None = None,
              ref: ModuleRef | None = None) -> Stop:
        """An `error` stop carrying the exception's type, message and details."""
        return cls("error", ref, exc.error_type, exc.message if message is None else message,
                   dict(exc.details))


class ModuleCancelled(Exception):
    """A provider call noticed the cancel token: the module writes nothing (ENG-49)."""


#: every exception that means "cancelled" rather than "failed" (engine.md §17)
CANCELLATIONS: tuple[type[BaseException], ...] = (ModuleCancelled, ProviderCancelled, Cancelled)


def arm_deadline(opts: ExecOptions, deadline_s: float) -> None:
    """Start the operation's clock once, at its entry point, so loading and storing count too."""
    if opts.deadline is None:
        opts.deadline = time.monotonic() + deadline_s

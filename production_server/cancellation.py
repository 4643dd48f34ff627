"""Executions in flight per run: cancel tokens (PS-4), shared outcomes and stream counts (PS-5).

Only the event-loop thread touches these maps, so they need no locks; cancel tokens themselves are
thread-safe and are read by the engine threads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from engine import CancelToken


@dataclass(eq=False)
class Execution:
    """One executing request: its token and, for run executions, the task with the outcome."""

    run_id: str
    kind: str  # "run" (an engine operation on the run) or "sub_action"
    token: CancelToken = field(default_factory=CancelToken)
    task: "asyncio.Future[Any] | None" = None


class CancelRegistry:
    def __init__(self) -> None:
        self._by_run: dict[str, set[Execution]] = {}

    def register(self, run_id: str, kind: str = "run") -> Execution:
        execution = Execution(run_id=run_id, kind=kind)
        self._by_run.setdefault(run_id, set()).add(execution)
        return execution

    def unregister(self, execution: Execution) -> None:
        entries = self._by_run.get(execution.run_id)
        if entries is not None:
            entries.discard(execution)
            if not entries:
                self._by_run.pop(execution.run_id, None)

    def cancel(self, run_id: str, reason: str = "user_cancelled") -> int:
        """Signal every execution of the run; returns how many were signalled."""
        entries = list(self._by_run.get(run_id, ()))
        for execution in entries:
            execution.token.cancel(reason)
        return len(entries)

    def cancel_all(self, reason: str) -> int:
        count = 0
        for run_id in list(self._by_run):
            count += self.cancel(run_id, reason)
        return count

    def running(self, run_id: str) -> Execution | None:
        """An unfinished run execution of this run in this process, if any."""
        for execution in self._by_run.get(run_id, ()):
            if execution.kind == "run" and execution.task is not None and not execution.task.done():
                return execution
        return None

    def active_count(self) -> int:
        return sum(len(v) for v in self._by_run.values())


class StreamCounter:
    """Open SSE streams per user (PS-5)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def try_open(self, user_id: str) -> bool:
        current = self._open.get(user_id, 0)
        if current >= self.limit:
            return False
        self._open[user_id] = current + 1
        return True

    def close(self, user_id: str) -> None:
        current = self._open.get(user_id, 0) - 1
        if current <= 0:
            self._open.pop(user_id, None)
        else:
            self._open[user_id] = current

    def open_count(self, user_id: str) -> int:
        return self._open.get(user_id, 0)

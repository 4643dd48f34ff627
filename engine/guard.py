"""Running an operation's body so that no exception can strand a run (issue 15).

Before this guard, an unexpected exception (a bug, a value the JSON encoder refuses, a driver
error the store does not map) escaped after `module_started` was written: the module stayed open,
the projection was not rewritten and every later attempt hit the same exception, so the run sat
in `processing` for good. Now the open module is closed with a `module_error` carrying a typed
error (`internal_error` unless the exception is itself an engine error), so the run is in a
coherent `error` state that retry, jump or continue can leave.

Request errors (a store outage, a lost race) still propagate: they are not the run's fault and
the crash-recovery rules re-run the open module on the next operation (ENG-22, ENG-54). If
closing the module fails too (the store is broken), the original exception propagates and the
servers answer 500 `internal_error`; the run is then exactly as after a crash.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from engine import cursor as cur
from engine.errors import Cancelled, EngineError, ExecutionError, InternalError, RequestError
from engine.execution import ModuleCancelled, Stop
from engine.provider_types import ProviderCancelled

if TYPE_CHECKING:
    from engine.execution import Runner

log = logging.getLogger("engine.guard")


def run_guarded(runner: "Runner", body: Callable[["Runner"], Stop]) -> Stop:
    """`body(runner)`, with every exception but a request error turned into a stop."""
    try:
        return body(runner)
    except RequestError:
        raise
    except (ModuleCancelled, ProviderCancelled, Cancelled):
        return Stop("cancelled")
    except ExecutionError as exc:
        if _open_module(runner) is None:
            return Stop("error", None, exc.error_type, runner.sanitize(exc.message),
                        dict(exc.details))
        return close_open_module(runner, exc)
    except Exception as exc:  # noqa: BLE001 - nothing may strand a run (issue 15)
        log.exception("unexpected error in an operation on run %s", runner.s.run_id)
        return close_open_module(runner, _internal(runner, exc))


def _open_module(runner: "Runner") -> tuple[str, str] | None:
    """(step_id, module_name) of a module started but not ended on the lineage, if any."""
    c = runner.s.cursor
    if c.phase in (cur.RUNNING, cur.RESPONSE) and c.step_id and c.module_name:
        return c.step_id, c.module_name
    return None


def _internal(runner: "Runner", exc: Exception) -> EngineError:
    if isinstance(exc, EngineError):
        return exc
    where = _open_module(runner)
    place = f" in module '{where[1]}'" if where else ""
    return InternalError(f"Unexpected error{place} ({type(exc).__name__}); the run stopped "
                         "there and can be retried or continued",
                         details={"exception": type(exc).__name__})


def close_open_module(runner: "Runner", exc: EngineError) -> Stop:
    """Write `module_error` for the open module (if any) and return the matching error stop."""
    where = _open_module(runner)
    ref = runner.s.index.find(*where) if where is not None else None
    if ref is None:
        return Stop("error", None, exc.error_type, runner.sanitize(exc.message),
                    dict(exc.details))
    phase = "response" if runner.s.cursor.phase == cur.RESPONSE else runner.module_phase
    return runner.fail(ref, phase, exc)

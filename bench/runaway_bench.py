"""Runaway-run bench (issue 15 item 3): is execution linear in the number of modules?

Runs a mock workflow of N steps, each one templated `transform.conditional_text` module that
reads the previous module's result, to its end in one `start`, for N = 1,000, 2,000 and 4,000,
and prints the time and the time per module (CPU time of the process, so that other load
on a shared machine does not skew the comparison; the engine runs in this one thread). Side by
side, in the same process on the same
workflows, it runs the engine as it was before issue 15 (the quadratic parts put back: a deep
copy of the whole state for every module and again for its template context, and a list scan
per `step_completed` when building progress), so the two columns are comparable on any machine.

    python bench/runaway_bench.py            # 3 runs per size (median), before: 1 run per size
    python bench/runaway_bench.py --sizes 500 1000 --runs 5

Goal: the per-module ratio (time per module at the largest size / at the smallest) stays near
1.0. One run on the shared 2-core development box (CPU seconds, medians):

     steps   ours s  ms/module  before s  ms/module
      1000     0.75      0.745      1.74      1.740
      2000     1.61      0.807      5.76      2.879
      4000     3.45      0.863     21.04      5.261
    per-module ratio 4000/1000 steps: ours 1.16, before 3.02; speed-up at 4000 steps 6.1x

What is left of the growth is not a scan of the run: the sandbox's counting proxy makes a
shallow copy of the top-level state dict for each render (its size is the number of modules
run, bounded by WFE_WORKFLOW_MAX_MODULES) and the cyclic GC walks a larger heap.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.fast_store import FastVirtualStore  # noqa: E402
from db.pipeline_eval import MongomockPipelineEvaluator  # noqa: E402
from engine import execution, progress, session  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.ids import MonotonicIds  # noqa: E402
from engine.modules.registry import default_registry  # noqa: E402
from engine.processor import StartCommand, WorkflowEngine  # noqa: E402
from engine.settings import EngineSettings  # noqa: E402
from engine.templating import copy_json  # noqa: E402
from providers.provider_set import DefaultProviderSet  # noqa: E402

SETTINGS = EngineSettings(operation_deadline_s=3600.0, workflow_max_steps=100_000,
                          workflow_max_modules=100_000)
SERVER = {"type": "object", "properties": {"condition_value": {"resolver": "server"}}}


def workflow(steps: int) -> dict[str, Any]:
    out = []
    for i in range(steps):
        value = "{{ state.m" + str(i - 1) + ".result }}" if i else "start"
        out.append({"step_id": f"s{i}", "modules": [{
            "module_id": "transform.conditional_text", "name": f"m{i}",
            "inputs": {"resolver_schema": SERVER, "condition_value": value,
                       "text_if_not_empty": "x"}}]})
    return {"workflow_id": f"bench_{steps}", "steps": out}


def engine() -> WorkflowEngine:
    return WorkflowEngine(store=FastVirtualStore.fresh(datetime.now(timezone.utc)),
                          providers=DefaultProviderSet(), registry=default_registry(),
                          pipeline=MongomockPipelineEvaluator(), clock=SystemClock(),
                          ids=MonotonicIds(), settings=SETTINGS, mode="production")


def run_once(steps: int) -> float:
    eng = engine()
    wf = workflow(steps)
    started = time.process_time()
    response = eng.start(StartCommand(user_id="u", project_name="p", workflow=wf, mock=True))
    elapsed = time.process_time() - started
    if response.status != "completed":
        raise SystemExit(f"{steps} steps ended {response.status}: {response.error}")
    return elapsed


# ---------------------------------------------------------------------------- the old engine

def _old_completed_steps(events: list[dict[str, Any]]) -> list[str]:
    last_started: dict[str, int] = {}
    last_completed: dict[str, int] = {}
    order: list[str] = []
    for event in events:
        if event["event_type"] == "step_started":
            last_started[event["step_id"]] = event["sequence"]
        elif event["event_type"] == "step_completed":
            last_completed[event["step_id"]] = event["sequence"]
            if event["step_id"] not in order:
                order.append(event["step_id"])
    return [s for s in order if last_completed[s] > last_started.get(s, 0)]


@contextmanager
def before_issue_15() -> Iterator[None]:
    """Put the three quadratic pieces back for the duration of the block."""
    saved = (session.RunSession.module_state, execution.template_context,
             progress.completed_steps)
    real_context = execution.template_context

    def module_state(self: Any, transient: dict[str, Any] | None = None) -> dict[str, Any]:
        return {**copy.deepcopy(self.state), **(transient or {})}

    def template_context(state: dict[str, Any], *args: Any) -> dict[str, Any]:
        return real_context(copy_json(state), *args)

    session.RunSession.module_state = module_state  # type: ignore[method-assign]
    execution.template_context = template_context  # type: ignore[assignment]
    progress.completed_steps = _old_completed_steps
    try:
        yield
    finally:
        (session.RunSession.module_state, execution.template_context,
         progress.completed_steps) = saved  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--runs", type=int, default=3, help="runs per size of the current engine")
    parser.add_argument("--before-runs", type=int, default=1)
    args = parser.parse_args()
    run_once(200)  # warm up imports, template compilation machinery and caches
    ours: dict[int, list[float]] = {n: [] for n in args.sizes}
    before: dict[int, list[float]] = {n: [] for n in args.sizes}
    for round_ in range(max(args.runs, args.before_runs)):
        for n in args.sizes:  # interleaved, so load changes hit every size alike
            if round_ < args.runs:
                ours[n].append(run_once(n))
            if round_ < args.before_runs:
                with before_issue_15():
                    before[n].append(run_once(n))
    with_before = args.before_runs > 0
    print(f"{'steps':>6} {'ours s':>8} {'ms/module':>10}"
          + (f" {'before s':>9} {'ms/module':>10}" if with_before else ""))
    per_module: dict[str, list[float]] = {"ours": [], "before": []}
    for n in args.sizes:
        o = statistics.median(ours[n])
        per_module["ours"].append(o / n * 1000)
        line = f"{n:>6} {o:>8.2f} {o / n * 1000:>10.3f}"
        if with_before:
            b = statistics.median(before[n])
            per_module["before"].append(b / n * 1000)
            line += f" {b:>9.2f} {b / n * 1000:>10.3f}"
        print(line)
    small, large = args.sizes[0], args.sizes[-1]
    for name, values in per_module.items():
        if values:
            print(f"per-module ratio {large}/{small} steps, {name}: {values[-1] / values[0]:.2f}")
    if with_before:
        print(f"speed-up at {large} steps: "
              f"{per_module['before'][-1] / per_module['ours'][-1]:.1f}x")

if __name__ == "__main__":
    main()

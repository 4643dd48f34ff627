"""Small-blob `/workflow/respond` throughput of the virtual server vs a Litestar+msgspec echo of
the same body (issue 13: P3), with 1 and with 2 uvicorn workers.

Run: `python bench/throughput.py [--seconds 10] [--concurrency 8]` from the project root.

The body is what the editor sends for its first answer: the `cuddle_crew` workflow plus the blob
of a mock run pending at `select_pet_type`, answering it (target `select_aesthetic`). Every
request is the same, as when the editor re-sends an answer: the server's caches serve it after
the first request of each worker. The echo endpoint (bench/echo_app.py) receives the same bytes,
decodes them with msgspec and sends them back: the floor of any Litestar+msgspec handler of this
body on this machine. Both run as `uvicorn` subprocesses with the same options (httptools, the
same worker count) and are loaded in turn by one load generator in a separate process (a raw
HTTP/1.1 client over asyncio, bench/storm_client.py) with the same keep-alive connections for
the same time, after a warm-up, in turns (`--rounds`: each server's time is split into that many
slices, taken in rotation, so a change in the machine's other load falls on all of them alike);
the CPU each server's process tree spent per request is printed beside its rate. Ends with
`P3 1 worker (<mode>): <ratio>` and `P3 2 workers (<mode>): <ratio>`: our requests per second
over the echo's, for each virtual engine mode (`--modes`: engine threads and engine processes,
both by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storm_client import Connection, build_request  # noqa: E402
from storm_servers import SECRET, free_port, process  # noqa: E402

HOST = "127.0.0.1"
CUDDLE_DIR = ROOT.parent / "shared" / "workflows" / "cuddle_crew"
#: the virtual server's engine modes (`--modes`), as server settings
MODES: dict[str, dict[str, str]] = {"threads": {"WFE_ENGINE_PROCESSES": "0"}, "processes": {}}
SERVER_ENV = {"WFE_VIRTUAL_AUTH_REQUIRED": "false", "WFE_JWT_SECRET": SECRET,
              "WFE_ACCESS_LOG": "false"}


def respond_body() -> bytes:
    """The workflow, a blob pending at `select_pet_type` and its answer."""
    import msgspec

    from db.fast_store import FastVirtualStore
    from db.pipeline_eval import MongomockPipelineEvaluator
    from engine.clock import SystemClock
    from engine.execution import ExecOptions
    from engine.ids import MonotonicIds
    from engine.modules.registry import default_registry
    from engine.processor import WorkflowEngine
    from engine.settings import EngineSettings
    from engine.upload import load_workflow_folder
    from engine.wire import Target
    from providers.provider_set import DefaultProviderSet

    workflow = load_workflow_folder(CUDDLE_DIR, "workflow_v3.json")
    store = FastVirtualStore.fresh(datetime.now(timezone.utc))
    eng = WorkflowEngine(store=store, providers=DefaultProviderSet(), registry=default_registry(),
                         pipeline=MongomockPipelineEvaluator(), clock=SystemClock(),
                         ids=MonotonicIds(), settings=EngineSettings(), mode="virtual")
    response = eng.virtual_start(workflow=workflow, has_blob=False, run_id=None,
                                 target=Target(step_id="user_input", module_name="select_pet_type"),
                                 capabilities=[], opts=ExecOptions(mock=True))
    assert response.interaction_request is not None
    return msgspec.json.encode({
        "workflow": workflow, "virtual_db": store.to_blob(), "mock": True,
        "interaction_id": response.interaction_request.interaction_id,
        "response": {"selected_indices": [0]},
        "target_step_id": "user_input", "target_module_name": "select_aesthetic"})


# ---------------------------------------------------------------------------- load generator

async def _load(port: int, request: bytes, concurrency: int, warmup_s: float,
                seconds: float) -> dict[str, float]:
    counts = {"ok": 0, "other": 0}
    begin = time.perf_counter()
    measure_from = begin + warmup_s
    end = measure_from + seconds

    async def worker() -> None:
        conn = Connection(HOST, port, timeout_s=60)
        try:
            while True:
                outcome = await conn.send(request, finish_body=True)
                now = time.perf_counter()
                if now > end:
                    return
                if now >= measure_from:
                    counts["ok" if outcome.status == 200 else "other"] += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": counts["ok"], "other": counts["other"], "rps": counts["ok"] / seconds}


def load_in_subprocess(port: int, path: str, body_file: str, concurrency: int, warmup_s: float,
                       seconds: float) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--load", str(port), path, body_file,
                          str(concurrency), str(warmup_s), str(seconds)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------- servers

@contextmanager
def virtual(workers: int, env: dict[str, str]) -> Iterator[tuple[int, int]]:
    port = free_port()
    with process([sys.executable, "-m", "virtual_server", "--host", HOST, "--port", str(port),
                  "--workers", str(workers)], {**SERVER_ENV, **env},
                 f"http://{HOST}:{port}/health") as proc:
        yield port, proc.pid


@contextmanager
def echo(workers: int) -> Iterator[tuple[int, int]]:
    port = free_port()
    with process([sys.executable, "-m", "uvicorn", "echo_app:app", "--app-dir", "bench",
                  "--host", HOST, "--port", str(port), "--workers", str(workers),
                  "--http", "httptools", "--no-access-log", "--log-level", "warning",
                  "--timeout-keep-alive", "75"], {}, f"http://{HOST}:{port}/health") as proc:
        yield port, proc.pid


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its descendants (Linux /proc; 0
    elsewhere): the servers' cost per request, which other load on the machine moves far
    less than their rate."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            # each thread's own children (the engine processes' forkserver is a thread's)
            children = [c for task in Path(f"/proc/{p}/task").iterdir()
                        for c in (task / "children").read_text().split()]
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        todo.extend(int(c) for c in children)
    return total


def measure(servers: dict[str, tuple[int, int, str]], body_file: str, args: argparse.Namespace
            ) -> dict[str, dict[str, float]]:
    """Load each server in turn, `--rounds` times for `--seconds / --rounds` each (after one
    warm-up each): a change of the machine's other load then falls on all of them alike."""
    for port, _pid, path in servers.values():
        load_in_subprocess(port, path, body_file, args.concurrency, 0.0, args.warmup)
    totals = {name: {"ok": 0.0, "other": 0.0, "cpu_s": 0.0} for name in servers}
    share = args.seconds / args.rounds
    for _ in range(args.rounds):
        for name, (port, pid, path) in servers.items():
            before = tree_cpu_s(pid)
            got = load_in_subprocess(port, path, body_file, args.concurrency, 0.0, share)
            totals[name]["cpu_s"] += tree_cpu_s(pid) - before
            totals[name]["ok"] += got["ok"]
            totals[name]["other"] += got["other"]
    for t in totals.values():
        t["rps"] = t["ok"] / args.seconds
        t["cpu_ms"] = t["cpu_s"] * 1e3 / max(1.0, t["ok"] + t["other"])
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3,
                        help="each server's load is split into this many turns, in rotation")
    parser.add_argument("--modes", default="threads,processes",
                        help="virtual engine modes to load, in order (threads: "
                             "WFE_ENGINE_PROCESSES=0; processes: one engine process per core)")
    parser.add_argument("--load", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load:
        port, path, body_file, conc, warm, secs = args.load
        request = build_request("POST", path, Path(body_file).read_bytes())
        print(json.dumps(asyncio.run(_load(int(port), request, int(conc), float(warm),
                                           float(secs)))))
        return 0
    body = respond_body()
    blob_len = len(json.loads(body)["virtual_db"])
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        tmp.write(body)
    print(f"body {len(body) / 1024:.0f} KiB (blob {blob_len / 1024:.0f} KiB), concurrency "
          f"{args.concurrency}, {args.seconds:.0f} s per server in {args.rounds} turns after "
          f"{args.warmup:.0f} s warm-up")
    ratios: dict[tuple[int, str], float] = {}
    modes = [m for m in args.modes.split(",") if m]
    for workers in (1, 2):
        with ExitStack() as stack:
            servers = {}
            for mode in modes:
                port, pid = stack.enter_context(virtual(workers, MODES[mode]))
                servers[mode] = (port, pid, "/workflow/respond")
            port, pid = stack.enter_context(echo(workers))
            servers["echo"] = (port, pid, "/echo")
            runs = measure(servers, tmp.name, args)
        floor = runs.pop("echo")
        for mode, ours in runs.items():
            ratios[workers, mode] = ours["rps"] / floor["rps"]
            print(f"{workers} worker{'s' if workers > 1 else ''}, engine {mode}: virtual "
                  f"/workflow/respond {ours['rps']:.0f} req/s ({ours['other']:.0f} not 200, "
                  f"CPU {ours['cpu_ms']:.2f} ms/request), echo {floor['rps']:.0f} req/s "
                  f"({floor['other']:.0f} not 200, CPU {floor['cpu_ms']:.2f} ms/request): "
                  f"{ratios[workers, mode] * 100:.1f}%")
    Path(tmp.name).unlink()
    for (workers, mode), ratio in ratios.items():
        print(f"P3 {workers} worker{'s' if workers > 1 else ''}"
              f"{'' if len(modes) == 1 else f' ({mode})'}: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Server time per virtual `/respond` at 100, 2,000 and 10,000 events: ours vs the seed design,
for a cold request and a warm one (issue 13: P1 and P2).

Run: `python bench/virtual_bench.py [--repeats N] [--sizes 100,2000,10000]` from the project root.

(a) **ours** — exactly what the virtual server runs for a `/workflow/respond` body sent with
    `X-Virtual-Db-In: result` (the Rev 3 response shape the seed design also produces), minus
    the socket: msgspec request decoding, `VirtualService.respond` in a GC pause, msgspec
    response encoding. Two cases:
    - **cold**: every cache of the service emptied first (store, workflow, fold caches): the
      blob is decoded and validated in full, the workflow validated, the lineage folded;
    - **warm**: the editor's common case: the request carries the blob the service returned to
      the previous request (a retry of `select_text_overlay` sent just before), so the decoded
      store, the validated workflow and the run's fold come from the caches and the response
      blob is the request's plus one appended gzip member (blob v2).
(b) **seed** — the seed design, re-implemented below: stdlib `json` for the HTTP bodies and the
    blob, `gzip.compress` at Python's default level (9), every collection imported into a fresh
    mongomock database (indexes created, as ST-14) and everything exported again on every
    request, through a plain mongomock executor. It has no warm path: for the warm case it gets
    the same database as one v1 blob (it cannot read appended members).

Both paths get the same request (same database content, same answer) and run the same engine on
it, in one process, alternating, and report medians. The blobs are built by real engine
operations: a mock `cuddle_crew` run auto-answered up to `select_text_overlay`, then that
step's retry option until the run holds ≥ N events (each retry re-runs
`generate_text_overlays` on the same branch, so the lineage really is N events long). The
measured request answers the pending `select_text_overlay` with target
`titles_social/select_title_description` (one mock LLM module plus one interaction).

Last, an editor-like load of a few thousand requests (several editors retrying on the blob they
just got, answering, going back to older checkpoints, reopening their first blob) prints the
caches' peak sizes against their bounds.

Ends with one machine-readable line per figure: `P1 cold: <ratio>`, `P1 warm: <ratio>` (seed
time / ours at 2,000 events) and `P2 cold: <ratio>`, `P2 warm: <ratio>` (ours at 2,000 / at 100).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from virtual_load import editor_load  # noqa: E402
from virtual_seed import naive_respond  # noqa: E402

from db.blob import blob_json, compress  # noqa: E402
from db.fast_store import FastVirtualStore  # noqa: E402
from db.pipeline_eval import MongomockPipelineEvaluator  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.execution import ExecOptions  # noqa: E402
from engine.ids import MonotonicIds  # noqa: E402
from engine.modules.registry import default_registry  # noqa: E402
from engine.processor import WorkflowEngine  # noqa: E402
from engine.upload import load_workflow_folder  # noqa: E402
from engine.wire import (  # noqa: E402
    AutoRespondConfig,
    InteractionResponseData,
    Target,
    VirtualRespondRequest,
)
from providers.provider_set import DefaultProviderSet  # noqa: E402
from virtual_server import gcpause  # noqa: E402
from virtual_server.gcpause import gc_paused  # noqa: E402
from virtual_server.service import VirtualService  # noqa: E402
from virtual_server.settings import load_settings  # noqa: E402
from virtual_server.shapes import shaped  # noqa: E402

WORKFLOW_DIR = ROOT.parent / "shared" / "workflows" / "cuddle_crew"
RETRY_TARGET = Target(step_id="text_overlays", module_name="select_text_overlay")
MEASURED_TARGET = {"target_step_id": "titles_social", "target_module_name": "select_title_description"}
RETRY_BODY_TARGET = {"target_step_id": "text_overlays", "target_module_name": "select_text_overlay"}
ANSWER = {"selected_indices": [["text_sets", 0]]}
RETRY = {"retry_requested": True, "retry_feedback": "again"}
LABELS = {"decode": "blob decode", "load": "load", "cache hit": "store from cache",
          "engine": "engine", "export": "export", "compress": "compress",
          "cache": "keep in cache", "request/response JSON": "request/response JSON",
          "collector": "cyclic GC after the pause"}


# ---------------------------------------------------------------------------- our path

def ours_respond(body: bytes, service: VirtualService, timings: dict[str, float],
                 rev3: bool = True) -> bytes:
    """The server's path for a `/respond` body (what runs inside the engine pool, plus codecs)."""
    started = time.perf_counter()
    with gc_paused():
        req = msgspec.json.decode(body, type=VirtualRespondRequest)
        decoded = time.perf_counter()
        response = shaped(service.respond(req, timings, not rev3), rev3)
        encoding = time.perf_counter()
        out = msgspec.json.encode(response)
        encoded = time.perf_counter()
    # the collector's first young collection after the pause runs as the block ends: it walks
    # every container the request left alive (the caches' records, the fold's events)
    now = time.perf_counter()
    timings["request/response JSON"] = (decoded - started) + (encoded - encoding)
    timings["collector"] = now - encoded
    return out


def clear_caches(service: VirtualService) -> None:
    """Cold: nothing this process learned before helps the next request."""
    if service.blobs.cache is not None:
        service.blobs.cache.clear()
    service.workflow_checks.clear()
    service.folds.clear()


# ---------------------------------------------------------------------------- blobs and runs

def build_blobs(workflow: dict[str, Any], sizes: list[int],
                providers: Any) -> dict[int, tuple[str, str, int]]:
    """One real run grown to each size in turn, pending at `select_text_overlay`: at each size
    the blob (one v1 member), the pending interaction id and the event count."""
    store = FastVirtualStore.fresh(datetime.now(timezone.utc))
    eng = WorkflowEngine(store=store, providers=providers, registry=default_registry(),
                         pipeline=MongomockPipelineEvaluator(), clock=SystemClock(),
                         ids=MonotonicIds(), settings=load_settings({}, auth_required=False)
                         .engine_settings(), mode="virtual")
    response = eng.virtual_start(workflow=workflow, has_blob=False, run_id=None,
                                 target=RETRY_TARGET, capabilities=[],
                                 opts=ExecOptions(mock=True, auto_respond=AutoRespondConfig()))
    count = store.executor.count_documents("events", {})
    out: dict[int, tuple[str, str, int]] = {}
    for size in sorted(sizes):
        while count < size:
            assert response.interaction_request is not None, response
            response = eng.virtual_respond(
                workflow=workflow, run_id=None,
                interaction_id=response.interaction_request.interaction_id,
                response=InteractionResponseData(retry_requested=True, retry_feedback="again"),
                target=RETRY_TARGET, capabilities=[], opts=ExecOptions(mock=True))
            count = store.executor.count_documents("events", {})
        assert response.interaction_request is not None
        out[size] = (store.to_blob(), response.interaction_request.interaction_id, count)
    return out


def respond_body(workflow: dict[str, Any], blob: str, iid: str, retry: bool) -> bytes:
    target, answer = (RETRY_BODY_TARGET, RETRY) if retry else (MEASURED_TARGET, ANSWER)
    return msgspec.json.encode({"workflow": workflow, "virtual_db": blob, **target,
                                "interaction_id": iid, "response": answer})


def as_v1(blob: str) -> str:
    """The same database as one v1 member (what the seed design can read)."""
    return compress(blob_json(blob))


# ---------------------------------------------------------------------------- measuring

class Paths:
    """Both paths with their process-wide parts built once, as each server would."""

    def __init__(self, providers: Any) -> None:
        self.settings = load_settings({}, auth_required=False)
        self.service = VirtualService(self.settings, clock=SystemClock(), ids=MonotonicIds(),
                                      providers=providers)
        engine_settings = self.settings.engine_settings()
        registry, pipeline, ids = default_registry(), MongomockPipelineEvaluator(), MonotonicIds()

        def engine_for(store: Any) -> WorkflowEngine:
            return WorkflowEngine(store=store, providers=providers, registry=registry,
                                  pipeline=pipeline, clock=SystemClock(), ids=ids,
                                  settings=engine_settings, mode="virtual")
        self.engine_for = engine_for

    def ours(self, body: bytes, timings: dict[str, float]) -> tuple[float, bytes]:
        started = time.perf_counter()
        out = ours_respond(body, self.service, timings)
        return time.perf_counter() - started, out

    def seed(self, body: bytes) -> tuple[float, bytes]:
        started = time.perf_counter()
        out = naive_respond(body, self.engine_for, self.settings.default_ai_config)
        took = time.perf_counter() - started
        # the seed path leaves a few hundred thousand objects of cyclic garbage (mongomock):
        # collected here, outside both timings, not by whichever request of ours comes next
        gc.collect()
        return took, out


def _check(ours: bytes, seed: bytes) -> None:
    a, b = json.loads(ours), json.loads(seed)
    assert (a["status"], a["message"]) == (b["status"], b["message"]) == \
        ("awaiting_input", "Awaiting input for select_title_description"), (a["status"], b["status"])
    assert a["result"]["virtual_db"]


def measure(paths: Paths, workflow: dict[str, Any], built: tuple[str, str, int],
            repeats: int) -> dict[str, Any]:
    blob, iid, count = built
    cold_body = respond_body(workflow, blob, iid, retry=False)
    res: dict[str, list[Any]] = {k: [] for k in ("cold", "seed_cold", "warm", "seed_warm",
                                                 "cold_parts", "warm_parts")}
    current = (blob, iid)
    for _ in range(repeats):
        clear_caches(paths.service)
        timings: dict[str, float] = {}
        took, out = paths.ours(cold_body, timings)
        res["cold"].append(took)
        res["cold_parts"].append(timings)
        took, seed_out = paths.seed(cold_body)
        res["seed_cold"].append(took)
        _check(out, seed_out)
        # warm: the previous request (a retry) returned the blob this one sends back
        _took, prime = paths.ours(respond_body(workflow, *current, retry=True), {})
        primed = json.loads(prime)
        current = (primed["result"]["virtual_db"], primed["interaction_request"]["interaction_id"])
        timings = {}
        took, out = paths.ours(respond_body(workflow, *current, retry=False), timings)
        res["warm"].append(took)
        res["warm_parts"].append(timings)
        took, seed_out = paths.seed(respond_body(workflow, as_v1(current[0]), current[1],
                                                 retry=False))
        res["seed_warm"].append(took)
        _check(out, seed_out)
    med = {k: statistics.median(v) for k, v in res.items() if not k.endswith("parts")}
    for case in ("cold", "warm"):
        parts = res[f"{case}_parts"]
        keys = sorted({k for p in parts for k in p}, key=list(LABELS).index)
        med[f"{case}_parts"] = {k: statistics.median(p.get(k, 0.0) for p in parts) for k in keys}
    med.update(events=count, blob_bytes=len(base64.b64decode(blob)), repeats=repeats)
    return med


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="requests per path and case")
    parser.add_argument("--large-repeats", type=int, default=3,
                        help="requests per path and case at sizes over 2,000 events")
    parser.add_argument("--sizes", default="100,2000,10000")
    parser.add_argument("--load-requests", type=int, default=3000,
                        help="requests of the editor-like load (0: skip it)")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    workflow = load_workflow_folder(WORKFLOW_DIR, "workflow_v3.json")
    providers = DefaultProviderSet()
    started = time.perf_counter()
    built = build_blobs(workflow, sizes, providers)
    print(f"built runs of {', '.join(str(built[s][2]) for s in sizes)} events in "
          f"{time.perf_counter() - started:.0f} s")
    paths = Paths(providers)
    results = {s: measure(paths, workflow, built[s], args.repeats if s <= 2000
                          else args.large_repeats) for s in sizes}
    print("\nvirtual /respond server time (ms), medians; seed = the seed design on the same "
          "database")
    print(f"{'events':>7} {'blob KiB':>8} {'n':>3} | {'cold':>7} {'seed':>8} {'P1':>6} | "
          f"{'warm':>7} {'seed':>8} {'P1':>6}")
    for s in sizes:
        r = results[s]
        print(f"{r['events']:>7} {r['blob_bytes'] / 1024:>8.0f} {r['repeats']:>3} | "
              f"{r['cold'] * 1000:>7.1f} {r['seed_cold'] * 1000:>8.1f} "
              f"{r['seed_cold'] / r['cold']:>6.1f} | {r['warm'] * 1000:>7.1f} "
              f"{r['seed_warm'] * 1000:>8.1f} {r['seed_warm'] / r['warm']:>6.1f}")
    for s in sizes:
        for case in ("cold", "warm"):
            parts = results[s][f"{case}_parts"]
            shown = ", ".join(f"{LABELS.get(k, k)} {v * 1000:.1f}" for k, v in parts.items())
            print(f"where our time goes, {case}, {results[s]['events']} events (ms): {shown}")
    if args.load_requests:
        editor_load(paths.service, workflow, args.load_requests, ours_respond, respond_body)
    gcs = getattr(gcpause, "stats", None)
    if gcs is not None and gcs.pauses:
        print(f"cyclic collector: {gcs.full_collections} full collections over {gcs.pauses} "
              f"requests of ours, "
              f"{gcs.full_seconds * 1000 / max(gcs.full_collections, 1):.1f} ms each, "
              f"{gcs.full_seconds * 1000 / gcs.pauses:.2f} ms per request amortised "
              f"(in the medians above only when one fell on a measured request)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS over the whole bench: {peak:.0f} MiB")
    if 100 in results and 2000 in results:
        small, large = results[100], results[2000]
        print(f"P1 cold: {large['seed_cold'] / large['cold']:.2f}")
        print(f"P1 warm: {large['seed_warm'] / large['warm']:.2f}")
        print(f"P2 cold: {large['cold'] / small['cold']:.2f}")
        print(f"P2 warm: {large['warm'] / small['warm']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

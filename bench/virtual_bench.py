"""Server time per virtual `/respond` at 100 and 2,000 events: our path vs the seed design.

Run: `python bench/virtual_bench.py [--repeats N]` from the project root.

(a) **ours** — exactly what the virtual server runs for a `/workflow/respond` body sent with
    `X-Virtual-Db-In: result` (the Rev 3 response shape the seed design also produces), minus
    the socket: msgspec request decoding, `VirtualService.respond` in a GC pause (blob decode and
    load into `FastVirtualStore`, the engine, export by splicing unchanged documents, gzip at the
    configured level 4), msgspec response encoding. The default (editor) shape, which also reads
    the run's state for the response, is measured alongside as **editor**.
(b) **naive** — the seed design, re-implemented below: stdlib `json` for the HTTP bodies and the
    blob, `gzip.compress` at Python's default level (9), every collection imported into a fresh
    mongomock database (indexes created, as ST-14) and everything exported again on every
    request, through a plain mongomock executor.

Both paths get the same request bytes and run the same engine (same registry, providers,
settings, mode) on the same blob, in one process, alternating, and report medians. The blobs
are built by real engine operations: a mock `cuddle_crew` run auto-answered up to
`select_text_overlay`, then that step's retry option until the run holds ≥ N events (each retry
re-runs `generate_text_overlays` on the same branch, so the lineage really is N events long).
The measured request answers the pending `select_text_overlay` with target
`titles_social/select_title_description` (one mock LLM module plus one interaction).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import mongomock
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.fast_store import FastVirtualStore  # noqa: E402
from db.indexes import VIRTUAL_COLLECTIONS, create_indexes  # noqa: E402
from db.pipeline_eval import MongomockPipelineEvaluator  # noqa: E402
from db.store_impl import QueryStore  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.errors import ConcurrentModification  # noqa: E402
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
from virtual_server.gcpause import gc_paused  # noqa: E402
from virtual_server.service import VirtualService  # noqa: E402
from virtual_server.settings import load_settings  # noqa: E402
from virtual_server.shapes import shaped  # noqa: E402

WORKFLOW_DIR = ROOT.parent / "shared" / "workflows" / "cuddle_crew"
RETRY_TARGET = Target(step_id="text_overlays", module_name="select_text_overlay")
MEASURED_TARGET = {"target_step_id": "titles_social", "target_module_name": "select_title_description"}
ANSWER = {"selected_indices": [["text_sets", 0]]}
_DUP = (mongomock.DuplicateKeyError, mongomock.BulkWriteError)


# ---------------------------------------------------------------------------- the seed design

class NaiveExecutor:
    """Plain mongomock: every call as the driver API would be used, no shortcuts."""

    def __init__(self) -> None:
        self.db = mongomock.MongoClient(tz_aware=True)["naive"]

    def _write(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except _DUP:
            raise ConcurrentModification("duplicate key") from None

    def insert_one(self, coll: str, doc: dict[str, Any]) -> None:
        self._write(lambda: self.db[coll].insert_one(dict(doc)))

    def insert_many(self, coll: str, docs: list[dict[str, Any]]) -> None:
        self._write(lambda: self.db[coll].insert_many([dict(d) for d in docs]))

    def find(self, coll: str, filter: dict[str, Any], *, projection: dict[str, Any] | None = None,
             sort: list[tuple[str, int]] | None = None, skip: int = 0, limit: int = 0) -> list[Any]:
        cursor = self.db[coll].find(filter, {**(projection or {}), "_id": 0})
        if sort:
            cursor = cursor.sort(sort)
        return list(cursor.skip(skip).limit(limit))

    def find_one(self, coll: str, filter: dict[str, Any], *, projection: Any = None,
                 sort: Any = None) -> Any:
        found = self.find(coll, filter, projection=projection, sort=sort, limit=1)
        return found[0] if found else None

    def update_one(self, coll: str, filter: Any, update: Any, *, upsert: bool = False) -> None:
        self._write(lambda: self.db[coll].update_one(filter, update, upsert=upsert))

    def find_one_and_update(self, coll: str, filter: Any, update: Any, *, upsert: bool = False,
                            return_after: bool = True, projection: Any = None) -> Any:
        return self._write(lambda: self.db[coll].find_one_and_update(
            filter, update, projection={**(projection or {}), "_id": 0}, upsert=upsert,
            return_document=return_after))

    def aggregate(self, coll: str, pipeline: list[Any]) -> list[Any]:
        return [{k: v for k, v in d.items() if k != "_id"} for d in self.db[coll].aggregate(pipeline)]

    def delete_many(self, coll: str, filter: Any) -> int:
        return int(self.db[coll].delete_many(filter).deleted_count)

    def count_documents(self, coll: str, filter: Any) -> int:
        return int(self.db[coll].count_documents(filter))

    def create_index(self, coll: str, keys: Any, *, unique: bool = False, sparse: bool = False,
                     expire_after_seconds: Any = None, name: Any = None) -> None:
        options: dict[str, Any] = {"unique": unique}
        if sparse:
            options["sparse"] = True
        self._write(lambda: self.db[coll].create_index(list(keys), **options))


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if isinstance(obj.get("$date"), str):
            return datetime.strptime(obj["$date"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        if "$esc" in obj:
            return obj["$esc"]
    return obj


def _tagged(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc)
        return {"$date": value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"}
    if isinstance(value, dict):
        out = {k: _tagged(v) for k, v in value.items()}
        return {"$esc": out} if len(value) == 1 and next(iter(value)) in ("$date", "$esc") else out
    if isinstance(value, (list, tuple)):
        return [_tagged(v) for v in value]
    return value


class NaiveStore(QueryStore):
    """Blob → fresh mongomock (insert_many per collection, then indexes) → … → full export."""

    def __init__(self) -> None:
        super().__init__(NaiveExecutor())

    @classmethod
    def from_blob(cls, text: str, now: datetime) -> "NaiveStore":
        data = json.loads(gzip.decompress(base64.b64decode(text)), object_hook=_hook)
        store = cls()
        for name, docs in data["collections"].items():
            store.executor.insert_many(name, docs)
        create_indexes(store.executor, VIRTUAL_COLLECTIONS)
        if store.executor.find_one("users", {"user_id": "virtual_user_001"}) is None:
            store.executor.insert_one("users", {"user_id": "virtual_user_001", "username": "virtual_user",
                                                "email": "virtual@example.com", "is_virtual": True,
                                                "created_at": now})
        return store

    def to_blob(self) -> str:
        collections: dict[str, list[Any]] = {}
        for name in sorted(VIRTUAL_COLLECTIONS):
            docs = [_tagged(doc) for doc in self.executor.find(name, {})]
            if docs:
                key = (lambda d: (d["workflow_run_id"], d["sequence"])) if name == "events" else \
                    (lambda d: json.dumps(d, sort_keys=True))
                collections[name] = sorted(docs, key=key)
        text = json.dumps({"format": "workflow-engine-virtual-db", "version": 1,
                           "collections": collections}, separators=(",", ":"), ensure_ascii=False)
        return base64.b64encode(gzip.compress(text.encode())).decode()


def naive_respond(body: bytes, engine_for: Callable[[Any], WorkflowEngine],
                  ai_config: dict[str, Any]) -> bytes:
    """The seed design's `/respond`: json body → mongomock → engine → full export → json body."""
    req = json.loads(body)
    store = NaiveStore.from_blob(req["virtual_db"], datetime.now(timezone.utc))
    eng = engine_for(store)
    response = eng.virtual_respond(
        workflow=req["workflow"], run_id=req.get("workflow_run_id"),
        interaction_id=req["interaction_id"],
        response=msgspec.convert(req["response"], InteractionResponseData),
        target=Target(step_id=req["target_step_id"], module_name=req["target_module_name"]),
        capabilities=[], opts=ExecOptions(mock=True, ai_config=dict(ai_config)))
    out = msgspec.to_builtins(response)
    out["result"] = {**(out.get("result") or {}), "virtual_db": store.to_blob()}
    return json.dumps(out).encode()


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
    timings["request/response JSON"] = (decoded - started) + (time.perf_counter() - encoding)
    return out


# ---------------------------------------------------------------------------- blobs and runs

def build_blob(workflow: dict[str, Any], events: int, providers: Any) -> tuple[str, str, int]:
    """A real run with ≥ `events` events pending at `select_text_overlay`: (blob, iid, count)."""
    store = FastVirtualStore.fresh(datetime.now(timezone.utc))
    eng = WorkflowEngine(store=store, providers=providers, registry=default_registry(),
                         pipeline=MongomockPipelineEvaluator(), clock=SystemClock(),
                         ids=MonotonicIds(), settings=load_settings({}, auth_required=False)
                         .engine_settings(), mode="virtual")
    response = eng.virtual_start(workflow=workflow, has_blob=False, run_id=None,
                                 target=RETRY_TARGET, capabilities=[],
                                 opts=ExecOptions(mock=True, auto_respond=AutoRespondConfig()))
    count = store.executor.count_documents("events", {})
    while count < events:
        assert response.interaction_request is not None, response
        response = eng.virtual_respond(
            workflow=workflow, run_id=None,
            interaction_id=response.interaction_request.interaction_id,
            response=InteractionResponseData(retry_requested=True, retry_feedback="again"),
            target=RETRY_TARGET, capabilities=[], opts=ExecOptions(mock=True))
        count = store.executor.count_documents("events", {})
    assert response.interaction_request is not None
    return store.to_blob(), response.interaction_request.interaction_id, count


def measure(workflow: dict[str, Any], events: int, repeats: int) -> dict[str, Any]:
    providers = DefaultProviderSet()
    blob, interaction_id, count = build_blob(workflow, events, providers)
    body = msgspec.json.encode({"workflow": workflow, "virtual_db": blob, **MEASURED_TARGET,
                                "interaction_id": interaction_id, "response": ANSWER})
    settings = load_settings({}, auth_required=False)
    service = VirtualService(settings, clock=SystemClock(), ids=MonotonicIds(), providers=providers)
    engine_settings = settings.engine_settings()
    registry, pipeline, ids = default_registry(), MongomockPipelineEvaluator(), MonotonicIds()

    def engine_for(store: Any) -> WorkflowEngine:
        return WorkflowEngine(store=store, providers=providers, registry=registry,
                              pipeline=pipeline, clock=SystemClock(), ids=ids,
                              settings=engine_settings, mode="virtual")

    ours: list[float] = []
    editor: list[float] = []
    naive: list[float] = []
    parts: list[dict[str, float]] = []
    check_ours = check_naive = b""
    for _ in range(repeats):
        timings: dict[str, float] = {}
        started = time.perf_counter()
        check_ours = ours_respond(body, service, timings)
        ours.append(time.perf_counter() - started)
        parts.append(timings)
        started = time.perf_counter()
        check_naive = naive_respond(body, engine_for, settings.default_ai_config)
        naive.append(time.perf_counter() - started)
        started = time.perf_counter()
        check_editor = ours_respond(body, service, {}, rev3=False)
        editor.append(time.perf_counter() - started)
    a, b, c = json.loads(check_ours), json.loads(check_naive), json.loads(check_editor)
    assert (a["status"], a["message"]) == (b["status"], b["message"]) == \
        ("awaiting_input", "Awaiting input for select_title_description"), (a["status"], b["status"])
    assert a["result"]["virtual_db"] and c["virtual_db"] and c["state"] and "virtual_db" not in (
        c["result"] or {})
    breakdown = {key: statistics.median(p.get(key, 0.0) for p in parts) for key in parts[0]}
    return {"events": count, "blob_bytes": len(blob), "ours": statistics.median(ours),
            "naive": statistics.median(naive), "editor": statistics.median(editor),
            "breakdown": breakdown}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="requests per path and size")
    args = parser.parse_args(argv)
    workflow = load_workflow_folder(WORKFLOW_DIR, "workflow_v3.json")
    results = [measure(workflow, n, args.repeats) for n in (100, 2000)]
    print(f"virtual /respond server time, median of {args.repeats} requests per path")
    print(f"{'events':>8} {'blob KiB':>9} {'ours ms':>9} {'naive ms':>9} {'ratio':>7} "
          f"{'editor ms':>10}")
    for r in results:
        print(f"{r['events']:>8} {r['blob_bytes'] / 1024:>9.0f} {r['ours'] * 1000:>9.1f} "
              f"{r['naive'] * 1000:>9.1f} {r['naive'] / r['ours']:>7.2f} "
              f"{r['editor'] * 1000:>10.1f}")
    small, large = results
    print(f"ratio at 2,000 events: {large['naive'] / large['ours']:.2f}")
    print(f"ratio at 100 events: {small['naive'] / small['ours']:.2f}")
    for r in (large, small):
        labels = {"decode": "blob decode (base64, inflate, parse, validate)",
                  "load": "load into the store", "engine": "engine", "export": "export (JSON)",
                  "compress": "compression (gzip+base64)",
                  "request/response JSON": "request/response JSON"}
        shown = ", ".join(f"{labels.get(k, k)} {v * 1000:.1f} ms" for k, v in r["breakdown"].items())
        print(f"where our time goes at {r['events']} events: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

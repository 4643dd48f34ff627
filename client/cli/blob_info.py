"""`wfe blob inspect`: what a `virtual_db` blob holds — runs, event counts, state keys, sizes.

The input may be the blob text itself or a JSON document that carries it (a virtual server
response: top-level `virtual_db` or `result.virtual_db`, or an SSE terminal payload). The blob
is untrusted: it is decoded with the same bounded decoder and limits as the virtual server.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from db.blob import MAX_MEMBERS, BlobLimits, decode_blob, inflate
from db.fast_store import FastVirtualStore
from db.pipeline_eval import MongomockPipelineEvaluator
from engine import (
    VIRTUAL_USER,
    EngineError,
    EngineSettings,
    MonotonicIds,
    SystemClock,
    WorkflowEngine,
    default_registry,
)
from providers.provider_set import DefaultProviderSet


class BlobInputError(Exception):
    """Neither a blob nor a JSON document with one."""


@dataclass
class RunInfo:
    run_id: str
    workflow: str
    status: str
    mock: bool
    parent: str | None
    position: str
    events: Counter[str] = field(default_factory=Counter)
    state_keys: list[str] = field(default_factory=list)


@dataclass
class BlobInfo:
    encoded_chars: int
    decompressed_bytes: int
    collections: dict[str, tuple[int, int]]  # name -> (documents, JSON bytes)
    runs: list[RunInfo]

    def to_dict(self) -> dict[str, Any]:
        return {"encoded_chars": self.encoded_chars, "decompressed_bytes": self.decompressed_bytes,
                "collections": {k: {"documents": n, "bytes": b}
                                for k, (n, b) in self.collections.items()},
                "runs": [{"workflow_run_id": r.run_id, "workflow": r.workflow, "status": r.status,
                          "mock": r.mock, "parent_workflow_run_id": r.parent,
                          "position": r.position, "events": sum(r.events.values()),
                          "event_types": dict(r.events), "state_keys": r.state_keys}
                         for r in self.runs]}


def extract_blob(text: str) -> str:
    """The blob text from a raw blob or from a JSON document that carries one."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return stripped
    try:
        doc = json.loads(stripped)
    except ValueError:
        raise BlobInputError("the input looks like JSON but does not parse") from None
    for candidate in (doc.get("virtual_db"), (doc.get("result") or {}).get("virtual_db")):
        if isinstance(candidate, str) and candidate:
            return candidate
    raise BlobInputError("the JSON input has no virtual_db (looked at virtual_db and "
                         "result.virtual_db)")


def _engine(store: FastVirtualStore) -> WorkflowEngine:
    return WorkflowEngine(store=store, providers=DefaultProviderSet(mock=True),
                          registry=default_registry(), pipeline=MongomockPipelineEvaluator(),
                          clock=SystemClock(), ids=MonotonicIds(), settings=EngineSettings(),
                          mode="virtual")


def inspect_blob(text: str, limits: BlobLimits | None = None) -> BlobInfo:
    """Decode (raises `InvalidVirtualDb`/`VirtualDbTooLarge`) and summarise the blob."""
    limits = limits or BlobLimits()
    blob = extract_blob(text)
    collections = decode_blob(blob, max_encoded_bytes=limits.max_encoded_bytes,
                              max_decompressed_bytes=limits.max_decompressed_bytes)
    try:
        inflated = sum(len(member) for member in inflate(
            [base64.b64decode(blob, validate=False)], limits.max_decompressed_bytes, MAX_MEMBERS))
    except (binascii.Error, ValueError):  # decode_blob accepted it, so this does not happen
        inflated = 0
    sizes = {name: (len(docs), len(msgspec.json.encode(docs, enc_hook=str)))
             for name, docs in sorted(collections.items()) if docs}
    store = FastVirtualStore.from_blob(blob, limits, SystemClock().now())
    eng = _engine(store)
    events: dict[str, Counter[str]] = {}
    for event in collections.get("events", []):
        events.setdefault(str(event.get("workflow_run_id")), Counter())[str(event.get("event_type"))] += 1
    runs = []
    for doc in collections.get("workflow_runs", []):
        run_id = str(doc.get("workflow_run_id"))
        try:
            keys = sorted(eng.get_state_view(VIRTUAL_USER, run_id).state)
        except EngineError:
            keys = []
        position = "/".join(str(p) for p in (doc.get("current_step"), doc.get("current_module"))
                            if p)
        runs.append(RunInfo(run_id=run_id, workflow=str(doc.get("workflow_template_name")),
                            status=str(doc.get("status")), mock=bool(doc.get("mock")),
                            parent=doc.get("parent_workflow_run_id"), position=position or "-",
                            events=events.get(run_id, Counter()), state_keys=keys))
    return BlobInfo(encoded_chars=len(blob), decompressed_bytes=inflated, collections=sizes,
                    runs=runs)

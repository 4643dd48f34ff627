"""The virtual server's process-local caches (issue 13): hits never change an answer.

The same editor-like sequence of requests (a start, answers and retries on the blob just
returned, an older checkpoint, two different answers to one blob, reads) runs through a service
with its caches on, one with them off, and two services with separate caches taking turns; every
response must be byte-identical. A cache hit must never return another request's writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import msgspec
import pytest

from db.blob import blob_json
from engine import ContentCache
from engine.clock import FixedClock
from engine.errors import EngineError, WorkflowInvalid
from engine.ids import SequentialIds
from engine.settings import EngineSettings
from engine.wire import VirtualReadRequest, VirtualRespondRequest, VirtualStartRequest
from engine.workflow_cache import checked_content_hash
from tests.conftest import T0, mock_only_providers
from virtual_server.service import VirtualService
from virtual_server.settings import load_settings

pytestmark = pytest.mark.caches  # kept on in the WFE_CACHES=off run (tests/conftest.py)

OVERLAY = {"target_step_id": "text_overlays", "target_module_name": "select_text_overlay"}
TITLES = {"target_step_id": "titles_social", "target_module_name": "select_title_description"}
RETRY = {"retry_requested": True, "retry_feedback": "again"}


def service(caches: bool) -> VirtualService:
    settings = load_settings({"WFE_CACHES": "true" if caches else "false"}, auth_required=False)
    return VirtualService(settings, clock=FixedClock(T0, tick=timedelta(milliseconds=1)),
                          ids=SequentialIds(), providers=mock_only_providers())


class Editor:
    """Sends requests to one or more services in turn and records every response's bytes."""

    def __init__(self, workflow: dict[str, Any], services: list[VirtualService]) -> None:
        self.workflow = workflow
        self.services = services
        self.calls = 0
        self.responses: list[bytes] = []

    def _next(self) -> VirtualService:
        svc = self.services[self.calls % len(self.services)]
        self.calls += 1
        return svc

    def start(self) -> dict[str, Any]:
        req = msgspec.convert({"workflow": self.workflow, "mock": True, "auto_respond": True,
                               **OVERLAY}, VirtualStartRequest)
        return self._keep(self._next().start(req))

    def respond(self, blob: str, iid: str, answer: dict[str, Any],
                target: dict[str, str]) -> dict[str, Any]:
        req = msgspec.convert({"workflow": self.workflow, "virtual_db": blob, "mock": True,
                               "interaction_id": iid, "response": answer, **target},
                              VirtualRespondRequest)
        return self._keep(self._next().respond(req))

    def state(self, blob: str) -> dict[str, Any]:
        view = self._next().read(VirtualReadRequest(virtual_db=blob), "state")
        self.responses.append(msgspec.json.encode(view))
        return msgspec.to_builtins(view)  # type: ignore[no-any-return]

    def _keep(self, response: Any) -> dict[str, Any]:
        self.responses.append(msgspec.json.encode(response))
        out: dict[str, Any] = msgspec.to_builtins(response)
        return out


def _iid(r: dict[str, Any]) -> str:
    return str(r["interaction_request"]["interaction_id"])


def editor_session(editor: Editor) -> dict[str, Any]:
    """Retries on the blob just returned (past a compaction), an older checkpoint, two answers
    to one blob, reads; returns what the isolation check needs."""
    first = editor.start()
    blob, iid = first["virtual_db"], _iid(first)
    checkpoints = [(blob, iid)]
    for _ in range(18):  # more than the members a blob may collect before compacting
        r = editor.respond(blob, iid, RETRY, OVERLAY)
        blob, iid = r["virtual_db"], _iid(r)
        checkpoints.append((blob, iid))
        editor.state(blob)
    old_blob, old_iid = checkpoints[3]
    editor.respond(old_blob, old_iid, RETRY, OVERLAY)  # an earlier checkpoint
    a = editor.respond(blob, iid, {"selected_indices": [["text_sets", 0]]}, TITLES)
    b = editor.respond(blob, iid, {"selected_indices": [["text_sets", 1]]}, TITLES)
    editor.state(a["virtual_db"])
    editor.state(b["virtual_db"])
    return {"blob": blob, "a": a, "b": b}


def _events(blob: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = msgspec.json.decode(blob_json(blob))["collections"]["events"]
    return events


def test_caches_on_and_off_answer_alike(cuddle_workflow: dict[str, Any]) -> None:
    on, off = service(True), service(False)
    with_caches, without = Editor(cuddle_workflow, [on]), Editor(cuddle_workflow, [off])
    editor_session(with_caches)
    editor_session(without)
    assert with_caches.responses == without.responses
    stats = on.blobs.cache.stats if on.blobs.cache is not None else None
    assert stats is not None and stats.hits > 20  # the cached path really ran
    assert off.blobs.cache is not None and off.blobs.cache.stats.hits == 0


def test_two_instances_with_separate_caches_answer_alike(cuddle_workflow: dict[str, Any]) -> None:
    """Like two workers: each request goes to the other instance, whose cache never saw the
    blob it gets (a miss there), and the answers equal one instance's with its caches off."""
    w1, w2 = service(True), service(True)
    # one shared id generator and clock, as one process would have: only the caches differ
    w2.ids, w2.clock = w1.ids, w1.clock
    pair = Editor(cuddle_workflow, [w1, w2])
    editor_session(pair)
    single_svc = service(False)
    single = Editor(cuddle_workflow, [single_svc])
    editor_session(single)
    assert pair.responses == single.responses


def test_a_cache_hit_never_returns_another_requests_writes(cuddle_workflow: dict[str, Any]) -> None:
    svc = service(True)
    editor = Editor(cuddle_workflow, [svc])
    out = editor_session(editor)
    base = {e["event_id"] for e in _events(out["blob"])}
    a_new = [e for e in _events(out["a"]["virtual_db"]) if e["event_id"] not in base]
    b_new = [e for e in _events(out["b"]["virtual_db"]) if e["event_id"] not in base]
    assert a_new and b_new
    a_ids = {e["event_id"] for e in a_new}
    assert not a_ids & {e["event_id"] for e in _events(out["b"]["virtual_db"])}
    answers = [e["data"] for e in b_new if e["event_type"] == "interaction_response"]
    assert answers and all("text_sets" in msgspec.json.encode(d).decode() for d in answers)
    assert msgspec.json.encode(a_new) != msgspec.json.encode(b_new)
    # the second request was served from the cache (the blob was the previous response)
    assert svc.blobs.cache is not None and svc.blobs.cache.stats.hits > 0


def test_content_cache_bounds() -> None:
    cache: ContentCache[str] = ContentCache(True, max_bytes=100, max_entries=3)
    for i in range(5):
        cache.put(bytes([i]), f"v{i}", 10)
    assert cache.stats.entries == 3 and cache.get(bytes([0])) is None
    assert cache.get(bytes([4])) == "v4"
    cache.put(b"big", "x", 101)  # larger than the whole bound: not kept
    assert cache.get(b"big") is None
    for i in range(5, 15):
        cache.put(bytes([i]), "v", 45)
    assert cache.stats.nbytes <= 100 and cache.stats.peak_bytes <= 100
    off: ContentCache[str] = ContentCache(False, max_bytes=100, max_entries=3)
    off.put(b"k", "v", 1)
    assert off.get(b"k") is None


def test_workflow_cache_keeps_only_valid_workflows(cuddle_workflow: dict[str, Any]) -> None:
    cache: ContentCache[str] = ContentCache(True, 1 << 20, 16)
    settings = EngineSettings()
    first = checked_content_hash(cuddle_workflow, settings, cache)
    assert checked_content_hash(cuddle_workflow, settings, cache) == first
    assert cache.stats.hits == 1
    # other limits are another key: a workflow valid under one may be invalid under another
    with pytest.raises(EngineError, match="WFE_WORKFLOW_MAX_STEPS"):
        checked_content_hash(cuddle_workflow, EngineSettings(workflow_max_steps=1), cache)
    broken = dict(cuddle_workflow, steps="nope")
    for _ in range(2):  # an invalid workflow is never kept: the error comes every time
        with pytest.raises(WorkflowInvalid):
            checked_content_hash(broken, settings, cache)


@pytest.mark.parametrize("make", [lambda: service(True), lambda: service(False)])
def test_blob_v2_appends_then_compacts(cuddle_workflow: dict[str, Any],
                                       make: Callable[[], VirtualService]) -> None:
    """A response's blob extends the request's (one more gzip member) until 16 members, then
    the export writes the whole database again as one member."""
    editor = Editor(cuddle_workflow, [make()])
    r = editor.start()
    blob, iid = r["virtual_db"], _iid(r)
    compacted = 0
    for _ in range(20):
        r = editor.respond(blob, iid, RETRY, OVERLAY)
        new = r["virtual_db"]
        if new.startswith(blob[:-4]):
            assert len(new) - len(blob) < len(blob) // 2  # only what changed was added
        else:
            compacted += 1
        blob, iid = new, _iid(r)
    assert compacted == 1

"""A decoded blob's store goes into the store cache once its request is done (issue 13,
db/fast_store.py `publish`): the request works on a fork of it, takes the records' decoded
documents freely, and nothing it did (writes, or changes to what it read) reaches the cache."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from db.blob import BlobLimits
from db.fast_store import FastVirtualStore, StoreCache
from tests.conftest import T0
from tests.unit.test_virtual_caches import OVERLAY, RETRY, Editor, _iid, service

pytestmark = pytest.mark.caches  # kept on in the WFE_CACHES=off run (tests/conftest.py)


def _blob(workflow: dict[str, Any]) -> str:
    first = Editor(workflow, [service(False)]).start()
    return str(first["virtual_db"])


def _cache() -> StoreCache:
    return StoreCache(True, 2**26, 16)


def test_a_decoded_store_is_cached_only_once_its_request_is_done(
        cuddle_workflow: dict[str, Any]) -> None:
    cache, text = _cache(), _blob(cuddle_workflow)
    store = FastVirtualStore.from_blob(text, BlobLimits(), T0, cache=cache)
    assert cache.get(text) is None  # not while the request may still read it
    events = store.executor.find("events", {})
    original = msgspec.json.encode(events)
    for doc in events:  # the request owns what it read: it may change it
        doc["data"]["n"] = -1
        doc["event_type"] = "changed"
    last = events[-1]
    store.append_event({**last, "event_id": "e_new", "sequence": last["sequence"] + 1})
    store.publish()
    store.publish()  # idempotent
    kept = cache.get(text)
    assert kept is not None
    assert all(rec.shared and rec.cached is None for rec in kept.executor.record_list("events"))
    again = FastVirtualStore.from_blob(text, BlobLimits(), T0, cache=cache)
    seen = again.executor.find("events", {})
    assert msgspec.json.encode(seen) == original


def test_the_same_blob_twice_is_a_hit_and_answers_like_no_caches(
        cuddle_workflow: dict[str, Any]) -> None:
    results = []
    for caches in (True, False):
        svc = service(caches)
        editor = Editor(cuddle_workflow, [svc])
        first = editor.start()
        blob, iid = first["virtual_db"], _iid(first)
        if svc.blobs.cache is not None:
            svc.blobs.cache.clear()  # the next request decodes the blob (a miss)
        editor.respond(blob, iid, RETRY, OVERLAY)
        hits = svc.blobs.cache.stats.hits if svc.blobs.cache is not None else 0
        editor.respond(blob, iid, RETRY, OVERLAY)  # the same blob again
        if caches:
            assert svc.blobs.cache is not None and svc.blobs.cache.stats.hits == hits + 1
        results.append([msgspec.json.decode(r) for r in editor.responses])
    assert results[0] == results[1]

"""The fold cache's byte estimate on a cold virtual load (issue 13): the store's kept blob JSON
stands in for re-encoding the lineage, and must not undercount what the fold holds."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from db.fast_store import FastVirtualStore
from engine.fold_cache import event_bytes, stored_event_bytes
from tests.conftest import T0
from tests.unit.test_fold_anchors import Client
from tests.unit.test_virtual_caches import service

pytestmark = pytest.mark.caches  # kept on in the WFE_CACHES=off run (tests/conftest.py)


def test_a_cold_fold_is_counted_from_the_store_and_never_under(
        cuddle_workflow: dict[str, Any]) -> None:
    svc = service(True)
    client = Client(svc, cuddle_workflow)
    blob, iid = client.begin()
    for _ in range(4):
        blob, iid = client.retry(blob, iid)
    svc.folds.clear()  # cold: the next request folds the whole lineage
    client.retry(blob, iid)
    run_id = msgspec.json.decode(client.responses[-1])["workflow_run_id"]
    folds = svc.folds.candidates(run_id)
    cold = [f for f in folds if f.base_id is None]
    assert len(cold) == 1
    fold = cold[0]
    encoded = event_bytes(fold.events) + svc.folds.version_bytes(fold.version)
    # never under what encoding would count, and not wildly over (the `$date` wrapping)
    assert encoded <= fold.nbytes <= 2 * encoded
    assert len(fold.events) > 20


def test_the_store_counts_every_event_of_the_run_only() -> None:
    store = FastVirtualStore.fresh(T0)
    for run, n in (("r1", 3), ("r2", 2)):
        for seq in range(1, n + 1):
            store.append_event({"event_id": f"{run}-{seq}", "workflow_run_id": run,
                                "sequence": seq, "branch_id": "b", "event_type": "x",
                                "data": {"text": "é" * 50, "at": T0}})
    r1 = store.executor.find("events", {"workflow_run_id": "r1"})
    assert stored_event_bytes(store, "r1") is not None
    assert stored_event_bytes(store, "r1") >= event_bytes(r1) > 0
    assert stored_event_bytes(store, "nope") == 0
    assert stored_event_bytes(object(), "r1") is None  # a store without it: encode instead

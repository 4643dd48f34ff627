"""Several folds per run (issue 13, engine/fold_cache.py): the editor sends back an older
checkpoint, a load test sends one blob again and again; each blob holds the run at a different
anchor, and each should hit a fold, with answers byte-identical to a service without caches.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from engine.fold_cache import Fold, FoldCache, run_bytes
from engine.processor import StartCommand, WorkflowEngine
from engine.settings import EngineSettings
from tests.fakes_engine import PROBES, probe_engine, probe_workflow, resp
from tests.unit.test_virtual_caches import OVERLAY, RETRY, Editor, _iid, service
from virtual_server.service import VirtualService

pytestmark = pytest.mark.caches  # kept on in the WFE_CACHES=off run (tests/conftest.py)

class Client(Editor):
    """One editor against one service, answering by retries: (blob, interaction id) back."""

    def __init__(self, svc: VirtualService, workflow: dict[str, Any]) -> None:
        super().__init__(workflow, [svc])
        self.svc = svc

    def begin(self) -> tuple[str, str]:
        r = self.start()
        return r["virtual_db"], _iid(r)

    def retry(self, blob: str, iid: str) -> tuple[str, str]:
        r = self.respond(blob, iid, RETRY, OVERLAY)
        return r["virtual_db"], _iid(r)


def _session(client: Client, hits: list[int] | None = None) -> None:
    """Five retries on the blob just returned, then older checkpoints re-sent, newest first,
    then one blob sent three times; `hits` gets the fold hits each re-send added."""
    checkpoints = [client.begin()]
    for _ in range(5):
        checkpoints.append(client.retry(*checkpoints[-1]))
    folds = client.svc.folds.stats
    for n in (4, 2, 0, 3, 3, 3):
        before = (folds.hits, folds.misses)
        client.retry(*checkpoints[n])
        if hits is not None:
            assert folds.misses == before[1], f"checkpoint {n} missed"
            hits.append(folds.hits - before[0])


def test_older_checkpoints_hit_and_answer_like_no_caches(cuddle_workflow: dict[str, Any]) -> None:
    on, off = Client(service(True), cuddle_workflow), Client(service(False), cuddle_workflow)
    hits: list[int] = []
    _session(on, hits)
    _session(off)
    assert hits == [2] * 6  # the operation's load and the response state's, both hits
    assert on.responses == off.responses
    assert off.svc.folds.stats.hits == 0
    folds = on.svc.folds.candidates(next(iter(on.svc.folds._items)))
    assert 1 < len(folds) <= on.svc.folds.per_run


def test_two_answers_to_one_blob_each_hit_their_own_fold(cuddle_workflow: dict[str, Any]) -> None:
    """Checkpoints that share a prefix but hold different events at the same sequences: a fold
    whose anchor sequence exists with another event there is never served."""
    client = Client(service(True), cuddle_workflow)
    base = client.retry(*client.begin())
    a = client.retry(*base)
    b = client.retry(*base)  # same sequences as `a`, other event ids
    folds = client.svc.folds
    for blob in (a, b, a, b):
        hits, misses = folds.stats.hits, folds.stats.misses
        client.retry(*blob)
        assert (folds.stats.hits, folds.stats.misses) == (hits + 2, misses)  # with the state's
    reference = Client(service(False), cuddle_workflow)
    base = reference.retry(*reference.begin())
    a, b = reference.retry(*base), reference.retry(*base)
    for blob in (a, b, a, b):
        reference.retry(*blob)
    assert client.responses == reference.responses


# ---------------------------------------------------------------------------- the bound

def _folds_of_one_run(count: int) -> list[Fold]:
    """`count` successive real folds of one run (a production engine keeps the newest only)."""
    PROBES.clear()
    eng: WorkflowEngine = probe_engine(settings=EngineSettings(caches=True))
    run_id = eng.start(StartCommand(user_id="u", project_name="p", workflow=probe_workflow(),
                                    mock=True)).workflow_run_id
    out: list[Fold] = []
    for _ in range(count):
        fold = eng.folds.get(run_id)
        assert fold is not None and eng.folds.candidates(run_id) == (fold,)
        out.append(fold)
        req = eng.get_status("u", run_id).interaction_request
        assert req is not None
        eng.respond("u", run_id, req.interaction_id,
                    resp({"action_id": "again", "retry_feedback": "f"}))
    PROBES.clear()
    return out


def test_folds_per_run_are_bounded_and_least_recently_used_go_first() -> None:
    folds = _folds_of_one_run(5)
    cache = FoldCache(per_run=3)
    for fold in folds:
        cache.put(fold, keep_others=True)
    assert cache.candidates(folds[0].run_id) == (folds[4], folds[3], folds[2])
    cache.used(folds[2])
    cache.put(folds[0], keep_others=True)
    assert cache.candidates(folds[0].run_id) == (folds[0], folds[2], folds[4])
    cache.put(folds[1])  # without keep_others: the run's only fold
    assert cache.candidates(folds[0].run_id) == (folds[1],)
    assert cache.stats.entries == 1


def test_folds_of_a_run_count_shared_events_once_and_respect_the_byte_bound() -> None:
    folds = _folds_of_one_run(4)
    assert all(f.base_id == b.anchor_id for b, f in pairwise(folds))
    chain = tuple(reversed(folds))
    assert run_bytes(chain) == folds[0].nbytes + sum(f.own_bytes for f in folds[1:])
    assert run_bytes(chain) < sum(f.nbytes for f in folds)
    assert run_bytes(chain[:2]) == folds[2].nbytes + folds[3].own_bytes  # base of [2] gone
    bound = folds[3].nbytes + folds[2].own_bytes
    cache = FoldCache(max_bytes=bound)
    for fold in folds:
        cache.put(fold, keep_others=True)
        assert cache.stats.nbytes <= bound
    assert cache.stats.peak_bytes <= bound
    assert cache.get(folds[0].run_id) is folds[3]

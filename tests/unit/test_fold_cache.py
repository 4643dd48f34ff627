"""The fold cache (issue 13, engine/fold_cache.py): a run's folded lineage kept between operations.

Every check compares against a full fold of the same store by an engine with the caches off, so
a hit is only ever a shortcut to what a full load gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from db.virtual_store import VirtualStore
from engine.errors import ConcurrentModification
from engine.fold_cache import FoldCache
from engine.ids import SequentialIds
from engine.processor import StartCommand, WorkflowEngine
from engine.session import RunSession
from engine.settings import EngineSettings
from tests.conftest import T0
from tests.fakes_engine import PROBES, probe_engine, probe_workflow, resp

pytestmark = pytest.mark.caches  # kept on in the WFE_CACHES=off run (tests/conftest.py)

Step = Callable[[WorkflowEngine, str], Any]
OFF = EngineSettings(caches=False)
ON = EngineSettings(caches=True)  # explicit: the suite may run with WFE_CACHES=false


@pytest.fixture(autouse=True)
def _clean_probes() -> Iterator[None]:
    PROBES.clear()
    yield
    PROBES.clear()


def _start(eng: WorkflowEngine, project: str = "p") -> str:
    return eng.start(StartCommand(user_id="u", project_name=project, workflow=probe_workflow(),
                                  mock=True)).workflow_run_id


def _pending(eng: WorkflowEngine, run_id: str) -> str:
    req = eng.get_status("u", run_id).interaction_request
    assert req is not None
    return req.interaction_id


def _answer(body: dict[str, Any]) -> Step:
    return lambda eng, run_id: eng.respond("u", run_id, _pending(eng, run_id), resp(body))


#: appends, retries (by answer and by API), jumps (by answer, by API, to an interaction),
#: a reset and a continue: every way a lineage grows or forks
SCRIPT: list[Step] = [
    _answer({"action_id": "again", "retry_feedback": "f1"}),
    lambda eng, run_id: eng.retry("u", run_id, "gen", "api"),
    _answer({"selected_indices": [1]}),
    lambda eng, run_id: eng.jump("u", run_id, "s1", "pick"),
    _answer({"jump_back_requested": True, "jump_back_target": "back"}),
    _answer({"selected_indices": [0]}),
    lambda eng, run_id: eng.jump_to_interaction(
        "u", run_id, eng.get_interaction_history("u", run_id).interactions[-1].interaction_id),
    _answer({"selected_indices": [1]}),
    lambda eng, run_id: eng.reset("u", run_id),
    lambda eng, run_id: eng.continue_run("u", run_id),
]


def _shape(s: RunSession) -> dict[str, Any]:
    return {"events": [e["event_id"] for e in s.events], "cursor": s.cursor, "state": s.state,
            "next_sequence": s.next_sequence, "branch": s.branch_id,
            "version": s.version["workflow_version_id"]}


def _full(store: Any, run_id: str) -> dict[str, Any]:
    return _shape(probe_engine(store=store, settings=OFF).load("u", run_id))


def _encoded(value: Any) -> bytes:
    return msgspec.json.encode(value)


def test_cached_fold_equals_a_full_fold_after_every_kind_of_move() -> None:
    eng = probe_engine(settings=ON)
    run_id = _start(eng)
    assert eng.folds.get(run_id) is not None
    misses = eng.folds.stats.misses  # the start's first load
    for step in SCRIPT:
        step(eng, run_id)
        hits = eng.folds.stats.hits
        assert _shape(eng.load("u", run_id)) == _full(eng.store, run_id)
        assert eng.folds.stats.hits == hits + 1, "the load after an operation is a hit"
    assert eng.folds.stats.misses == misses


def test_caches_off_gives_identical_responses_and_store() -> None:
    runs: list[tuple[list[bytes], Any]] = []
    for settings in (ON, OFF):
        eng = probe_engine(settings=settings)
        run_id = _start(eng)
        answers = [_encoded(step(eng, run_id)) for step in SCRIPT]
        answers.append(_encoded(eng.get_state_view("u", run_id)))
        runs.append((answers, eng.store.export()))  # type: ignore[attr-defined]
    assert runs[0] == runs[1]


def test_another_writer_is_folded_forward() -> None:
    """Two engines (two workers) over one store: each folds forward what the other wrote."""
    store, ids = VirtualStore.fresh(T0), SequentialIds()
    one, two = probe_engine(store=store, ids=ids, settings=ON), probe_engine(store=store, ids=ids, settings=ON)
    run_id = _start(one)
    for turn, step in enumerate(SCRIPT):
        eng = (one, two)[turn % 2]
        step(eng, run_id)
        full = _full(store, run_id)
        assert _shape(one.load("u", run_id)) == full
        assert _shape(two.load("u", run_id)) == full


def test_an_older_checkpoint_never_gets_the_newer_fold() -> None:
    """The virtual editor sends back an earlier blob: its run has the same id but not the
    fold's anchor, so the load is a miss and the answer is the checkpoint's own."""
    eng = probe_engine(settings=ON)
    run_id = _start(eng)
    checkpoint = eng.store.export()  # type: ignore[attr-defined]
    eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [1]}))
    newer = eng.folds.get(run_id)
    assert newer is not None and newer.state.get("picked") == {"id": "b"}

    def from_checkpoint(engine: WorkflowEngine) -> bytes:
        store = VirtualStore()
        store.load(checkpoint, now=T0)
        engine.store = store
        return _encoded(engine.respond("u", run_id, _pending(engine, run_id),
                                       resp({"selected_indices": [0]})))

    misses = eng.folds.stats.misses
    cached = from_checkpoint(eng)
    assert eng.folds.stats.misses > misses
    reference = probe_engine(settings=OFF)
    _start(reference)
    assert cached == from_checkpoint(reference)
    assert eng.get_state_view("u", run_id).state["picked"] == {"id": "a"}


def test_a_discarded_branch_is_never_served() -> None:
    eng = probe_engine(settings=ON)
    run_id = _start(eng)
    eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [1]}))
    old = eng.folds.get(run_id)
    assert old is not None and "picked" in old.state
    eng.jump("u", run_id, "s1", "pick")
    fold = eng.folds.get(run_id)
    assert fold is not None and fold.branch_id != old.branch_id and "picked" not in fold.state
    # the run pointing back at the old branch (another worker's doing) is a miss, not old state
    eng.folds.put(old)
    store: Any = eng.store
    assert store.get_run(run_id)["current_branch_id"] == fold.branch_id
    assert _shape(eng.load("u", run_id)) == _full(store, run_id)


def test_runs_never_share_folds() -> None:
    eng = probe_engine(settings=ON)
    first, second = _start(eng, "one"), _start(eng, "two")
    eng.respond("u", first, _pending(eng, first), resp({"selected_indices": [1]}))
    assert _shape(eng.load("u", second)) == _full(eng.store, second)
    fold = eng.folds.get(first)
    assert fold is not None and fold.run_id == first
    other = eng.folds.get(second)
    assert other is not None and "picked" not in other.state


def test_an_operation_never_writes_into_the_fold() -> None:
    eng = probe_engine(settings=ON)
    run_id = _start(eng)
    fold = eng.folds.get(run_id)
    assert fold is not None
    events, state, cursor = list(fold.events), dict(fold.state), fold.cursor.copy()
    session = eng.load("u", run_id)
    session.state["intruder"] = 1
    session.events.append({"event_id": "x"})
    session.cursor.phase = "completed"
    eng.respond("u", run_id, _pending(eng, run_id), resp({"selected_indices": [0]}))
    assert list(fold.events) == events and fold.state == state and fold.cursor == cursor


class Interloper:
    """Another worker appends right after this engine's fold check (ENG-51)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.armed = inner, False

    def events_from(self, run_id: str, sequence: int) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = self.inner.events_from(run_id, sequence)
        if self.armed:
            self.armed = False
            self.inner.append_event({**docs[-1], "event_id": "evt_other", "branch_id": "br_other",
                                     "sequence": docs[-1]["sequence"] + 1,
                                     "event_type": "sub_action_started"})
        return docs

    def run_and_events_from(self, run_id: str, sequence: int) -> tuple[Any, list[Any]]:
        return self.inner.get_run(run_id), self.events_from(run_id, sequence)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_lost_race_after_the_check_writes_nothing_and_drops_the_fold() -> None:
    eng = probe_engine(settings=ON)
    run_id = _start(eng)
    pick = _pending(eng, run_id)
    eng.store = Interloper(eng.store)
    eng.store.armed = True  # type: ignore[attr-defined]
    with pytest.raises(ConcurrentModification):
        eng.respond("u", run_id, pick, resp({"selected_indices": [0]}))
    assert eng.folds.get(run_id) is None
    events = eng.store.export()["events"]  # type: ignore[attr-defined]
    assert [e["event_id"] for e in events][-1] == "evt_other"
    assert eng.respond("u", run_id, pick, resp({"selected_indices": [0]})).status == "completed"
    assert _shape(eng.load("u", run_id)) == _full(eng.store, run_id)


def test_bounded_by_entries_and_bytes() -> None:
    eng = probe_engine(settings=EngineSettings(cache_max_entries=2))
    runs = [_start(eng, str(n)) for n in range(3)]
    assert eng.folds.stats.entries == 2 and eng.folds.get(runs[0]) is None
    assert eng.folds.stats.peak_entries == 2
    one = eng.folds.get(runs[2])
    assert one is not None and one.nbytes > 0
    small = probe_engine(settings=EngineSettings(cache_max_bytes=one.nbytes + 10))
    for n in range(3):
        _start(small, str(n))
    assert small.folds.stats.entries == 1
    assert small.folds.stats.nbytes <= one.nbytes + 10
    assert small.folds.stats.peak_bytes <= one.nbytes + 10
    tiny = probe_engine(settings=EngineSettings(cache_max_bytes=10))
    run_id = _start(tiny)
    assert tiny.folds.stats.entries == 0  # a fold bigger than the bound is not kept
    assert tiny.respond("u", run_id, _pending(tiny, run_id),
                        resp({"selected_indices": [0]})).status == "completed"


def test_a_shared_cache_serves_every_engine_built_over_it() -> None:
    """What the virtual server does: one cache for the engines it builds per request."""
    cache, ids = FoldCache(), SequentialIds()
    store = VirtualStore.fresh(T0)
    first = probe_engine(store=store, ids=ids, settings=ON)
    first.folds = cache
    run_id = _start(first)
    second = probe_engine(store=store, ids=ids, settings=ON)
    second.folds = cache
    hits = cache.stats.hits
    second.respond("u", run_id, _pending(second, run_id), resp({"selected_indices": [0]}))
    assert cache.stats.hits > hits
    assert _shape(second.load("u", run_id)) == _full(store, run_id)


def test_the_editor_state_from_the_fold_equals_the_lineage_fold() -> None:
    """The virtual response's `state` comes off the session (`nodes`) with the caches on and
    from the lineage's state events with them off: the same document after every move."""
    on, off = probe_engine(settings=ON), probe_engine(settings=OFF)
    runs = [_start(eng) for eng in (on, off)]
    for step in SCRIPT:
        for eng, run_id in zip((on, off), runs, strict=True):
            step(eng, run_id)
        hits = on.folds.stats.hits
        assert _encoded(on.get_editor_state("u", runs[0])) == \
            _encoded(off.get_editor_state("u", runs[1]))
        assert on.folds.stats.hits == hits + 1

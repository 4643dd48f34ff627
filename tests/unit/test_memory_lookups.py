"""The memory executor's lookups (db/memory_lookups.py): "a run's events from a sequence on"
by bisection and "the record with this unique key" by a dict give exactly what scanning every
record gives, through inserts, replacements, forks, freezes, deletes and records the lookups do
not model."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from db.memory_executor import MemoryExecutor
from db.memory_lookups import MAX_LAYERS as LOOKUP_LAYERS
from db.memory_lookups import KeyIndex, SequenceIndex, from_shape
from db.memory_unique import MAX_LAYERS
from engine.errors import ConcurrentModification

Doc = dict[str, Any]


def _event(run: str, seq: Any, n: int) -> Doc:
    return {"event_id": f"e{n}", "workflow_run_id": run, "sequence": seq, "event_type": "x"}


def _from(ex: MemoryExecutor, run: str, seq: int) -> list[str]:
    return [d["event_id"] for d in ex.find("events", {"workflow_run_id": run,
                                                      "sequence": {"$gte": seq}})]


def _scan(ex: MemoryExecutor, run: str, seq: int) -> list[str]:
    """The same query by plain Python over the documents in store order."""
    return [d["event_id"] for d in ex.find("events", {})
            if d.get("workflow_run_id") == run and type(d.get("sequence")) is int
            and d["sequence"] >= seq]


def _check(ex: MemoryExecutor) -> None:
    for run in ("a", "b", "c"):
        for seq in range(0, 9):
            assert _from(ex, run, seq) == _scan(ex, run, seq), (run, seq)


def test_answers_like_a_scan_through_inserts_forks_and_deletes() -> None:
    ex = MemoryExecutor()
    docs = [_event("a", 1, 1), _event("b", 1, 2), _event("a", 3, 3), _event("a", 2, 4),
            _event("b", 2, 5), {"event_id": "e6", "sequence": 4}]  # no run id: never matches
    for doc in docs:
        ex.insert_one("events", doc)
    _check(ex)  # builds the index (out-of-order sequences included)
    ex.insert_one("events", _event("a", 4, 7))  # kept up to date, not rebuilt
    ex.insert_one("events", _event("c", 0, 8))
    _check(ex)
    frozen = ex.frozen()
    fork = frozen.fork()
    _check(fork)
    fork.insert_one("events", _event("a", 5, 9))
    assert _from(fork, "a", 5) == ["e9"] and _from(frozen, "a", 5) == []
    _check(fork)
    _check(frozen)
    fork.delete_many("events", {"event_id": "e3"})
    _check(fork)
    assert "e3" not in _from(fork, "a", 0) and "e3" in _from(frozen, "a", 0)


def test_records_it_does_not_model_fall_back_to_the_scan() -> None:
    ex = MemoryExecutor()
    ex.insert_one("events", _event("a", 1, 1))
    ex.insert_one("events", _event("a", 2.5, 2))  # a float sequence still matches `$gte`
    ex.insert_one("events", _event("a", 3, 3))
    assert _from(ex, "a", 2) == ["e2", "e3"]
    assert SequenceIndex.build(list(ex.record_list("events"))).usable is False
    huge = MemoryExecutor()
    huge.insert_one("events", _event("a", 2**70, 1))
    assert _from(huge, "a", 5) == ["e1"]


def test_only_the_exact_shape_uses_it() -> None:
    assert from_shape("events", {"workflow_run_id": "r", "sequence": {"$gte": 3}}) == ("r", 3)
    assert from_shape("answers", {"workflow_run_id": "r", "sequence": {"$gte": 3}}) is None
    assert from_shape("events", {"workflow_run_id": "r", "sequence": {"$gt": 3}}) is None
    assert from_shape("events", {"workflow_run_id": "r", "sequence": {"$gte": True}}) is None
    assert from_shape("events", {"workflow_run_id": "r", "sequence": {"$gte": 3},
                                 "branch_id": "b"}) is None


KEY = ("workflow_run_id", "interaction_id", "branch_id")


def _answer(n: int, run: Any = "r", iid: Any = "i", branch: Any = "b") -> Doc:
    return {"answer_id": f"a{n}", "workflow_run_id": run, "interaction_id": iid,
            "branch_id": branch, "n": n}


def _by_key(ex: MemoryExecutor, run: str, iid: str, branch: str) -> list[int]:
    flt = {"workflow_run_id": run, "interaction_id": iid, "branch_id": branch}
    return [d["n"] for d in ex.find("interaction_answers", flt)]


def _answers() -> MemoryExecutor:
    ex = MemoryExecutor()
    ex.create_index("interaction_answers", [(f, 1) for f in KEY], unique=True)
    for n, iid in enumerate(("i", "j", "k")):
        ex.insert_one("interaction_answers", _answer(n, iid=iid))
    return ex


def test_a_unique_key_finds_its_record_through_writes() -> None:
    ex = _answers()
    assert _by_key(ex, "r", "j", "b") == [1] and _by_key(ex, "r", "x", "b") == []
    ex.insert_one("interaction_answers", _answer(3, iid="x"))
    assert _by_key(ex, "r", "x", "b") == [3]
    ex.update_one("interaction_answers", {"workflow_run_id": "r", "interaction_id": "x",
                                          "branch_id": "b"}, {"$set": {"interaction_id": "y"}})
    assert _by_key(ex, "r", "x", "b") == [] and _by_key(ex, "r", "y", "b") == [3]
    fork = ex.frozen().fork()
    fork.delete_many("interaction_answers", {"interaction_id": "j"})
    assert _by_key(fork, "r", "j", "b") == [] and _by_key(fork, "r", "k", "b") == [2]
    assert _by_key(ex, "r", "j", "b") == [1]


def test_values_it_does_not_model_fall_back_to_the_scan() -> None:
    ex = _answers()
    ex.insert_one("interaction_answers", _answer(3, iid=["z", "q"]))  # an array matches "z"
    assert _by_key(ex, "r", "z", "b") == [3]
    recs = list(ex.record_list("interaction_answers"))
    assert KeyIndex.build(KEY, recs).usable is False
    assert KeyIndex.build(KEY, recs[:3]).usable is True


def test_a_final_freeze_of_a_fork_shares_what_it_wrote_and_keeps_the_rest() -> None:
    """Copy-on-write: a fork's written positions are known, so the freeze that keeps it in the
    store cache converts only those records (the rest already are the cached store's)."""
    ex = MemoryExecutor()
    for n in range(3):
        ex.insert_one("events", _event("a", n, n))
    fork = ex.frozen().fork()
    fork.insert_one("events", _event("a", 3, 3))
    fork.update_one("events", {"event_id": "e0"}, {"$set": {"event_type": "y"}})
    before = list(fork.record_list("events"))
    assert not before[0].shared and not before[3].shared and before[1].shared
    kept = fork.frozen(final=True).record_list("events")
    assert all(rec.shared for rec in kept)
    assert kept[1] is before[1] and kept[2] is before[2] and kept[0] is not before[0]
    assert msgspec.json.decode(kept[0].raw)["event_type"] == "y"


def test_unique_keys_layered_over_a_chain_of_forks_still_refuse_duplicates() -> None:
    """Each fork stacks its unique keys on its cached source's (flattened every MAX_LAYERS):
    a key from any layer below is still a duplicate, a key removed above is free again, and a
    fork never changes what its source holds."""
    ex = MemoryExecutor()
    ex.create_index("events", [("event_id", 1)], unique=True)
    ex.insert_one("events", _event("a", 0, 0))
    stores = [ex.frozen(final=True)]
    for n in range(1, 2 * MAX_LAYERS + 3):
        fork = stores[-1].fork()
        fork.insert_one("events", _event("a", n, n))
        if n == 3:
            fork.delete_many("events", {"event_id": "e1"})
        for old in {0, min(2, n), n}:
            with pytest.raises(ConcurrentModification):
                fork.insert_one("events", {**_event("a", 99, old), "sequence": 100 + n})
        stores.append(fork.frozen(final=True))
    last = stores[-1].fork()
    last.insert_one("events", _event("a", 1000, 1))  # e1 was deleted two dozen layers down
    with pytest.raises(ConcurrentModification):
        last.insert_one("events", _event("a", 1001, 1))
    assert [d["event_id"] for d in stores[2].find("events", {})] == ["e0", "e1", "e2"]
    twin = stores[-1].fork()
    twin.insert_one("events", _event("a", 2000, 1))  # the sibling's e1 is not this one's


def test_key_lookups_layered_over_a_chain_of_forks_answer_like_a_scan() -> None:
    """A fork's key lookups are a layer over its cached source's (flattened every MAX_LAYERS):
    through inserts, key changes and deletes down a chain of forks, each store finds exactly
    what a scan of its own records finds, and no fork changes what its source answers."""
    ex = _answers()
    _by_key(ex, "r", "i", "b")  # builds the lookup the forks layer on
    stores = [ex.frozen(final=True)]
    names = {0: "i", 1: "j", 2: "k"}
    expected: list[dict[str, int]] = [{"i": 0, "j": 1, "k": 2}]
    for n in range(3, 3 * LOOKUP_LAYERS + 3):
        fork = stores[-1].fork()
        fork.insert_one("interaction_answers", _answer(n, iid=f"n{n}"))
        now = dict(expected[-1], **{f"n{n}": n})
        if n % 4 == 0:  # a key moved: the old one is gone, the new one at the same position
            old = f"n{n - 1}"
            fork.update_one("interaction_answers", {"workflow_run_id": "r", "interaction_id": old,
                                                    "branch_id": "b"},
                            {"$set": {"interaction_id": f"m{n}"}})
            now[f"m{n}"] = now.pop(old)
        stores.append(fork.frozen(final=True))
        expected.append(now)
    for store, keys in zip(stores, expected):
        docs = store.find("interaction_answers", {})
        scanned = {d["interaction_id"]: n for n, d in enumerate(docs)}
        assert scanned == keys
        for iid in {*keys, "n4", "m4", "x", *names.values()}:
            assert _by_key(store, "r", iid, "b") == ([keys[iid]] if iid in keys else []), iid
    last = stores[-1].fork()
    last.delete_many("interaction_answers", {"interaction_id": "i"})
    assert _by_key(last, "r", "i", "b") == [] and _by_key(stores[-1], "r", "i", "b") == [0]

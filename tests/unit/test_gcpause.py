"""The collector's pause around virtual requests (virtual_server/gcpause.py): what a request
leaves alive is frozen out of the collector's walks, and its garbage cycles are still freed
once what was frozen since the last full collection passes a bound."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from virtual_server import gcpause
from virtual_server.gcpause import full_collection, gc_paused


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    full_collection()  # start counting pauses from zero
    try:
        yield
    finally:
        gc.unfreeze()
        if not was:
            gc.disable()


def _tracked(obj: object) -> bool:
    """`obj` is in one of the collector's generations (a frozen object is in none)."""
    return any(o is obj for o in gc.get_objects())


def test_the_collector_is_off_during_a_request_and_on_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested or concurrent requests share the pause
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_what_a_request_leaves_alive_is_frozen_out_of_the_walks() -> None:
    with gc_paused():
        kept = [{"event": n} for n in range(10)]
    assert gc.is_tracked(kept)
    assert not _tracked(kept)  # no young, middle or full collection walks it
    assert kept[3] == {"event": 3}


def test_garbage_cycles_of_requests_are_freed_within_a_bounded_number_of_requests(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcpause, "MIN_GROWTH_BLOCKS", 2_000)
    monkeypatch.setattr(gcpause, "GROWTH_SHARE", 0.0)  # the test process's heap is large
    before = gcpause.stats.full_collections
    refs = []
    for _ in range(300):  # a cycle holding 20 small blocks each: past 2,000 within 100 requests
        with gc_paused():
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle: reference counting alone never frees it
            a.load = [str(n) + "x" for n in range(20)]  # type: ignore[attr-defined]
            refs.append(weakref.ref(a))
            del a, b
        assert sum(ref() is not None for ref in refs) <= 120  # never many more alive
    assert gcpause.stats.full_collections > before
    assert refs[0]() is None and refs[150]() is None


def test_a_pause_that_never_ends_still_collects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcpause, "MAX_PAUSE_S", 0.0)
    before = gcpause.stats.full_collections
    release = threading.Event()
    entered = threading.Event()

    def long_request() -> None:
        with gc_paused():
            entered.set()
            release.wait(5)

    other = threading.Thread(target=long_request)
    other.start()
    entered.wait(5)
    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
    assert gcpause.stats.full_collections == before + 1  # the valve ran while one was in flight
    assert ref() is None
    release.set()
    other.join(5)
    assert gc.isenabled()


def test_garbage_other_code_left_is_collected_once_the_heap_grows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Garbage some other code left uncollected is frozen with the rest at a pause's end; a
    heap grown this much gets a full collection at the next pause's end."""
    monkeypatch.setattr(gcpause, "MIN_GROWTH_BLOCKS", 20_000)
    monkeypatch.setattr(gcpause, "GROWTH_SHARE", 0.0)  # the test process's heap is large
    with gc_paused():
        pass
    before = gcpause.stats.full_collections  # without the garbage: no growth, no collection
    with gc_paused():
        pass
    assert gcpause.stats.full_collections == before
    garbage = [Node() for _ in range(50_000)]
    for a, b in zip(garbage[::2], garbage[1::2]):
        a.other, b.other = b, a
    ref = weakref.ref(garbage[0])
    gc.collect()  # alive now: moved to the oldest generation, which is collected rarely
    del garbage, a, b  # cyclic garbage there, waiting for the next full collection
    with gc_paused():
        pass
    assert gcpause.stats.full_collections == before + 1
    assert ref() is None

"""EnginePool admission control (wire-api.md WIRE-5, SSE-5)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from engine.errors import Overloaded
from engine.pool import EnginePool


@pytest.fixture
def pool() -> Iterator[EnginePool]:
    pool = EnginePool(threads=2, queue=2)
    yield pool
    pool.shutdown(wait=False)


async def test_wire5_two_threads_queue_two_admit_four_and_refuse_two(pool: EnginePool) -> None:
    gate = threading.Event()

    def blocking(n: int) -> int:
        gate.wait(5)
        return n

    tasks = [asyncio.ensure_future(pool.run(blocking, i)) for i in range(6)]
    start = time.monotonic()
    await asyncio.sleep(0.05)
    refused = [t for t in tasks if t.done() and isinstance(t.exception(), Overloaded)]
    assert len(refused) == 2 and time.monotonic() - start < 0.5
    assert refused[0].exception().message == "Server is busy, retry shortly"
    assert refused[0].exception().http_status == 503
    assert pool.in_flight == 4
    gate.set()
    admitted = [t for t in tasks if t not in refused]
    assert sorted(await asyncio.gather(*admitted)) == [0, 1, 2, 3]
    assert pool.in_flight == 0


async def test_wire5_new_work_admitted_after_release(pool: EnginePool) -> None:
    gate = threading.Event()
    held = [asyncio.ensure_future(pool.run(gate.wait, 5)) for _ in range(4)]
    await asyncio.sleep(0.02)
    with pytest.raises(Overloaded):
        await pool.run(lambda: 1)
    gate.set()
    await asyncio.gather(*held)
    assert await pool.run(lambda a, b=0: a + b, 1, b=2) == 3


async def test_exceptions_propagate_and_release_the_slot(pool: EnginePool) -> None:
    def boom() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await pool.run(boom)
    assert pool.in_flight == 0


async def test_sse5_admit_first_run_later(pool: EnginePool) -> None:
    """A streaming route takes its slot up front, then runs work in the pool."""
    with pool.admit():
        assert pool.in_flight == 1
        assert await pool.run_admitted(threading.current_thread) is not threading.current_thread()
        assert pool.in_flight == 1
    assert pool.in_flight == 0
    assert all(pool.try_admit() for _ in range(4))
    assert pool.try_admit() is False
    with pytest.raises(Overloaded):
        with pool.admit():
            pass
    for _ in range(4):
        pool.release()
    assert pool.in_flight == 0


async def test_cancelled_await_keeps_slot_until_thread_finishes(pool: EnginePool) -> None:
    gate = threading.Event()
    running = threading.Event()

    def blocking() -> None:
        running.set()
        gate.wait(5)

    task = asyncio.ensure_future(pool.run(blocking))
    await asyncio.get_running_loop().run_in_executor(None, running.wait, 5)
    task.cancel()
    await asyncio.sleep(0.01)
    assert pool.in_flight == 1
    gate.set()
    for _ in range(100):
        if pool.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    assert pool.in_flight == 0


async def test_engine_threads_run_below_the_event_loop_s_priority() -> None:
    """Issue 15: with `nice`, the engine threads are that much less urgent for the OS than the
    thread that made the pool (the event loop's), which keeps its own priority (Linux, where CI
    and the servers run)."""
    import os

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    niced = EnginePool(threads=1, queue=0, nice=5)
    plain = EnginePool(threads=1, queue=0)
    try:
        def priority() -> int:
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        assert await niced.run(priority) == min(19, mine + 5)
        assert await plain.run(priority) == mine
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    finally:
        niced.shutdown()
        plain.shutdown()


def test_switch_interval_is_set_in_milliseconds() -> None:
    import sys

    from engine.interpreter import set_switch_interval

    before = sys.getswitchinterval()
    try:
        set_switch_interval(1.0)
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(before)


def test_the_startup_heap_is_frozen_out_of_the_collector_s_walks() -> None:
    import gc

    from engine.interpreter import freeze_startup_heap

    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 1000  # the modules and objects alive now
    finally:
        gc.unfreeze()

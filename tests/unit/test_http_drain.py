"""The drain queue (engine/http_drain.py): refused bodies are resumed a few connections per loop
iteration, oldest first, until none waits; a new loop gets its own queue."""

from __future__ import annotations

import asyncio
import gc
import weakref

from engine.http_drain import PER_TICK, DrainPacing, DrainQueue, drain_queue


class _Iterations:
    """Counts the loop's iterations: a callback that reschedules itself once per iteration."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.n = 0
        self._loop = loop
        self._stopped = False
        loop.call_soon(self._step)

    def _step(self) -> None:
        if not self._stopped:
            self.n += 1
            self._loop.call_soon(self._step)

    def stop(self) -> None:
        self._stopped = True


class _Connection:
    def __init__(self, name: int, log: list[tuple[int, int]], clock: _Iterations) -> None:
        self.name, self.log, self.clock = name, log, clock

    def resume_drain(self) -> None:
        self.log.append((self.clock.n, self.name))


def test_a_few_connections_are_resumed_per_iteration_oldest_first() -> None:
    async def run() -> list[tuple[int, int]]:
        loop = asyncio.get_running_loop()
        clock = _Iterations(loop)
        log: list[tuple[int, int]] = []
        queue = DrainQueue(per_tick=3)
        for name in range(10):
            queue.wait(_Connection(name, log, clock))
        assert len(queue) == 10
        for _ in range(20):
            await asyncio.sleep(0)
        clock.stop()
        assert len(queue) == 0
        return log

    log = asyncio.run(run())
    assert [name for _, name in log] == list(range(10))
    per_iteration: dict[int, int] = {}
    for iteration, _ in log:
        per_iteration[iteration] = per_iteration.get(iteration, 0) + 1
    assert sorted(per_iteration.values(), reverse=True) == [3, 3, 3, 1]
    assert len(per_iteration) == 4  # four separate iterations


def test_a_connection_queued_again_waits_behind_the_others() -> None:
    async def run() -> list[int]:
        loop = asyncio.get_running_loop()
        clock = _Iterations(loop)
        order: list[int] = []
        queue = DrainQueue(per_tick=1)

        class Again:
            def __init__(self, name: int, times: int) -> None:
                self.name, self.times = name, times

            def resume_drain(self) -> None:
                order.append(self.name)
                self.times -= 1
                if self.times:
                    queue.wait(self)  # what a connection does after its next chunk

        queue.wait(Again(1, 3))
        queue.wait(Again(2, 2))
        for _ in range(10):
            await asyncio.sleep(0)
        clock.stop()
        return order

    assert asyncio.run(run()) == [1, 2, 1, 2, 1]


def test_each_loop_has_its_own_queue_and_leaves_with_it() -> None:
    loops = [asyncio.new_event_loop() for _ in range(2)]
    first, second = (drain_queue(loop) for loop in loops)
    assert first is not second and drain_queue(loops[0]) is first
    assert len(first) == 0 and PER_TICK >= 1
    refs = [weakref.ref(loop) for loop in loops]
    for loop in loops:
        loop.close()
    del loops, loop, first, second
    gc.collect()
    assert [ref() for ref in refs] == [None, None]  # the queues do not keep their loops alive


def test_both_servers_serve_with_the_paced_protocol() -> None:
    from uvicorn.importer import import_from_string
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from production_server.http_protocol import uvicorn_options as production_options
    from production_server.settings import load_settings as production_settings
    from virtual_server.http_protocol import uvicorn_options as virtual_options
    from virtual_server.settings import load_settings as virtual_settings

    for options in (production_options(production_settings({})),
                    virtual_options(virtual_settings({}, auth_required=False))):
        protocol = import_from_string(options["http"])
        assert issubclass(protocol, DrainPacing) and issubclass(protocol, HttpToolsProtocol)
        # the pacing hooks come first in the method order, uvicorn's own after them
        assert protocol.on_body is DrainPacing.on_body
        assert protocol.data_received is DrainPacing.data_received

"""Store-test fixtures: a real MongoDB wire-protocol server and the loop thread.

`secantus_uri` (session scope) is the ephemeral `secantusdb` of client/testing/mongo.py (the
starter the pytest plugin uses too). `loop_thread` (session scope) is an event loop running in
its own thread: the production store's sync calls are made from the test (worker) thread and
bridged onto it, as the server does. Both fixtures are imported by tests/conftest.py so every
test folder can use them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from client.testing.mongo import running_secantus

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread: where drivers live during the tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="db-loop",
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


@pytest.fixture(scope="session")
def secantus_uri() -> Iterator[str]:
    with running_secantus() as uri:
        yield uri


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()

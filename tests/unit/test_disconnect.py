"""`engine.disconnect` (issue 15): a client disconnect cancels the operation's token; the new
settings parse from the environment on both servers; modules cannot change the run's state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.disconnect import REASON, cancel_on_disconnect, unless_abandoned
from engine.errors import Cancelled, SettingsError
from engine.ports import CancelToken
from engine.session import ReadOnlyState
from production_server.settings import load_settings as load_production
from virtual_server.settings import load_settings as load_virtual


class Channel:
    """An ASGI receive channel: the body, then whatever the test pushes."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reads = 0

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        return await self.queue.get()


async def test_disconnect_cancels_the_token_and_still_awaits_the_work() -> None:
    channel, token = Channel(), CancelToken()

    async def work() -> str:
        while not token.is_cancelled():  # the engine notices at its next module boundary
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)
        return "stopped"

    task = asyncio.ensure_future(cancel_on_disconnect(work(), channel.receive, token))
    await asyncio.sleep(0.05)
    assert not token.is_cancelled()
    await channel.queue.put({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.sleep(0.02)
    assert not token.is_cancelled()  # only a disconnect counts
    await channel.queue.put({"type": "http.disconnect"})
    assert await asyncio.wait_for(task, 5) == "stopped"
    assert token.reason == REASON == "client_disconnected"


async def test_finished_work_leaves_the_token_alone_and_stops_listening() -> None:
    channel, token = Channel(), CancelToken()

    async def work() -> int:
        await asyncio.sleep(0.01)
        return 7

    assert await cancel_on_disconnect(work(), channel.receive, token) == 7
    await channel.queue.put({"type": "http.disconnect"})
    await asyncio.sleep(0.02)
    assert not token.is_cancelled() and channel.reads == 1 and channel.queue.qsize() == 1


async def test_work_errors_propagate_and_a_torn_down_request_cancels() -> None:
    channel, token = Channel(), CancelToken()

    async def boom() -> None:
        raise ValueError("engine said no")

    with pytest.raises(ValueError):
        await cancel_on_disconnect(boom(), channel.receive, token)
    assert not token.is_cancelled()
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.ensure_future(cancel_on_disconnect(slow(), channel.receive, token))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert token.reason == "client_disconnected"


def test_work_whose_client_left_before_it_began_is_not_started() -> None:
    calls: list[int] = []
    token = CancelToken()
    work = unless_abandoned(lambda n: calls.append(n) or n, token)
    assert work(1) == 1 and calls == [1]  # still wanted: it runs
    token.cancel(REASON)
    with pytest.raises(Cancelled) as exc:
        work(2)
    assert calls == [1] and exc.value.details == {"reason": REASON}


@pytest.mark.parametrize("load", [load_production, load_virtual])
def test_settings_parse_and_reach_the_engine(load: Any) -> None:
    env = {"WFE_JWT_SECRET": "s" * 40, "WFE_OPERATION_DEADLINE_S": "2.5",
           "WFE_WORKFLOW_MAX_STEPS": "12", "WFE_WORKFLOW_MAX_MODULES": "34"}
    engine = load(env).engine_settings()
    assert (engine.operation_deadline_s, engine.workflow_max_steps,
            engine.workflow_max_modules) == (2.5, 12, 34)
    defaults = load({"WFE_JWT_SECRET": "s" * 40}).engine_settings()
    assert (defaults.operation_deadline_s, defaults.workflow_max_steps,
            defaults.workflow_max_modules) == (60.0, 200, 2000)
    for name, bad in (("WFE_OPERATION_DEADLINE_S", "0"), ("WFE_WORKFLOW_MAX_STEPS", "x"),
                      ("WFE_WORKFLOW_MAX_MODULES", "0")):
        with pytest.raises(SettingsError, match=name):
            load({"WFE_JWT_SECRET": "s" * 40, name: bad})


def test_read_only_state_copies_on_read_and_refuses_writes() -> None:
    state = {"a": {"items": [1, 2]}, "b": "text"}
    view = ReadOnlyState(state)
    got = view["a"]
    got["items"].append(3)
    assert state["a"] == {"items": [1, 2]}
    assert view["a"] is got  # one copy per key and module
    assert dict(view) == {"a": {"items": [1, 2, 3]}, "b": "text"} and "b" in view
    assert len(view) == 2 and view.get("zzz") is None
    with pytest.raises(TypeError):
        view["c"] = 1  # type: ignore[index]

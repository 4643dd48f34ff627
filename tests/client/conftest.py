"""Fixtures of the client tests: both servers in-process and on a live loopback uvicorn.

`vc` and `pc` are parametrized over `in_process` (StreamingASGITransport, no port) and `live`
(uvicorn on a free loopback port, real sockets), so every client method is exercised both
ways. Apps get a fixed clock, sequential ids and the mock-only provider set unless a test
passes providers of its own (the blocking LLM of the cancellation tests).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from client.production import ProductionClient
from client.sse import Frame
from client.testing.apps import (
    PASSWORD,
    access_token,
    add_user,
    new_secret,
    production_app,
    virtual_app,
)
from client.virtual import VirtualClient
from engine.clock import FixedClock
from engine.ids import SequentialIds
from engine.mock_data import generate_mock
from engine.wire import WorkflowResponse
from tests.conftest import CUDDLE_DIR, T0, mock_only_providers
from tests.e2e.virtual_live import LiveServer
from tests.fakes import FakeLLMProvider, FakeProviderSet, llm_result

SECRET = new_secret()
MODES = ["in_process", "live"]


def create_kwargs(providers: Any = None) -> dict[str, Any]:
    """Deterministic apps on the mock-only providers; with `providers` (a second app taking
    over a run made by the first) the system clock and ids, so no id is made twice."""
    if providers is not None:
        return {"providers": providers}
    return {"clock": FixedClock(T0, tick=timedelta(milliseconds=1)), "ids": SequentialIds(),
            "providers": mock_only_providers()}


class Served:
    """An app reachable by a client; `on_app_loop` runs a coroutine where the app lives."""

    def __init__(self, app: Any, url: str | None) -> None:
        self.app = app
        self.url = url

    async def on_app_loop(self, make: Callable[[], Awaitable[Any]]) -> Any:
        if self.url is None:
            return await make()
        loop = self.app.state.services.loop
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), loop))


@asynccontextmanager
async def virtual_client(mode: str, providers: Any = None,
                         **settings: str) -> AsyncIterator[VirtualClient]:
    app = virtual_app(SECRET, settings, **create_kwargs(providers))
    kwargs = {"token": access_token(SECRET), "workflow": CUDDLE_DIR}
    if mode == "in_process":
        async with VirtualClient.for_app(app, **kwargs) as client:
            client.served_app = app  # type: ignore[attr-defined]
            yield client
    else:
        with LiveServer(app) as live:
            async with VirtualClient.connect(live.url, **kwargs) as client:
                client.served_app = app  # type: ignore[attr-defined]
                yield client


@asynccontextmanager
async def production_client(mode: str, user: str = "alice", providers: Any = None,
                            **settings: str) -> AsyncIterator[tuple[ProductionClient, Served]]:
    app = production_app(SECRET, settings, **create_kwargs(providers))
    if mode == "in_process":
        async with ProductionClient.for_app(app) as client:
            served = Served(app, None)
            await served.on_app_loop(lambda: add_user(app, user))
            await client.login(user, PASSWORD)
            yield client, served
    else:
        with LiveServer(app) as live:
            async with ProductionClient.connect(live.url) as client:
                served = Served(app, live.url)
                await served.on_app_loop(lambda: add_user(app, user))
                await client.login(user, PASSWORD)
                yield client, served


@pytest.fixture(params=MODES)
async def vc(request: pytest.FixtureRequest) -> AsyncIterator[VirtualClient]:
    async with virtual_client(request.param) as client:
        yield client


@pytest.fixture(params=MODES)
async def pc(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ProductionClient, Served]]:
    async with production_client(request.param) as pair:
        yield pair


class BlockingLLM(FakeLLMProvider):
    """Answers with schema-valid mock data, but only once released; records a cancellation."""

    def __init__(self) -> None:
        self.release = threading.Event()
        super().__init__([lambda req: llm_result(generate_mock(req.output_schema or
                                                               {"type": "object"}, "x"))],
                         streaming=True, block=self.release, block_timeout=30)
        self.cancelled = threading.Event()

    def _next(self, request: Any, credentials: Any, cancel: Any) -> Any:
        try:
            result = super()._next(request, credentials, cancel)
        except BaseException:
            self.cancelled.set()
            raise
        return result


def blocking_providers() -> tuple[BlockingLLM, FakeProviderSet]:
    llm = BlockingLLM()
    return llm, FakeProviderSet(llm={"openai": llm, "anthropic": llm})


def assert_frames_named(frames: list[Frame]) -> None:
    """Every frame a server sent is described by its wire struct (engine/wire_frames.py): no
    field the struct does not name, so the structs stay the one description of the frames.
    Run terminals are `WorkflowResponse`s, which a server may widen for another client."""
    assert frames
    for frame in frames:
        fields = set(type(frame.data).__struct_fields__)
        if isinstance(frame.data, WorkflowResponse):
            assert fields <= set(frame.raw), frame.event
        else:
            assert set(frame.raw) <= fields, (frame.event, set(frame.raw) - fields)


async def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()

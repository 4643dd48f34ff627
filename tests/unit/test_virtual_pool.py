"""WIRE-5 on the virtual server: one bounded engine pool, fast 503, /health stays responsive."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx

from tests.acceptance.virtual_support import access_token, make_app, make_settings
from tests.fakes import FakeLLMProvider, FakeProviderSet, llm_result

HEADERS = {"Authorization": "Bearer " + access_token()}


async def test_wire5_two_threads_queue_two_six_requests(cuddle_workflow: dict[str, Any]) -> None:
    """[WIRE-5] 2 threads + queue 2, a blocking provider, 6 executing requests → exactly 4
    admitted and 2 immediate 503 `overloaded` with Retry-After: 1; /health answers < 500 ms."""
    release = threading.Event()
    provider = FakeLLMProvider([llm_result({"scenes": []})], block=release, block_timeout=20)
    app = make_app(make_settings(engine_threads=2, engine_queue=2, llm_max_attempts=1),
                   providers=FakeProviderSet(llm={"openai": provider}))
    body = {"workflow": cuddle_workflow, "virtual_db": None, "mock": False, "auto_respond": True,
            "target_step_id": "scene_generation", "target_module_name": "generate_scenes"}
    # httpx's ASGI transport runs requests concurrently (Litestar's test client serialises them)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://virtual", timeout=30) as client:
        async def start() -> tuple[int, float, Any]:
            began = time.monotonic()
            response = await client.post("/workflow/start", json=body, headers=HEADERS)
            return response.status_code, time.monotonic() - began, response

        tasks = [asyncio.ensure_future(start()) for _ in range(6)]
        refused: list[tuple[int, float, Any]] = []
        deadline = time.monotonic() + 10
        while len(refused) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            refused = [t.result() for t in tasks if t.done()]
        assert [status for status, _, _ in refused] == [503, 503]
        for _status, elapsed, response in refused:
            assert elapsed < 1.0
            assert response.headers["retry-after"] == "1"
            assert response.json()["result"]["error_type"] == "overloaded"
        while provider.calls < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert provider.calls == 2  # both threads are blocked inside the provider
        began = time.monotonic()
        health = await client.get("/health")
        assert health.status_code == 200 and time.monotonic() - began < 0.5
        release.set()
        results = await asyncio.gather(*tasks)
    assert sorted(status for status, _, _ in results) == [200, 200, 200, 200, 503, 503]
    assert provider.calls == 4

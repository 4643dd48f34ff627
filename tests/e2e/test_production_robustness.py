"""WIRE-5 (admission limit and a responsive /health) and WIRE-8 (no 500 for hostile input)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.acceptance.production_client import production
from tests.acceptance.script_a import ANSWERS
from tests.fakes import FakeLLMProvider, FakeProviderSet


async def test_admission_limit_and_health(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[WIRE-5] 2 threads + queue 2, a blocking provider: of 6 concurrent executing requests
    exactly 4 are admitted and 2 get an immediate 503 with Retry-After; /health answers < 500 ms."""
    release = threading.Event()
    fake = FakeLLMProvider(block=release, block_timeout=30.0)
    providers = FakeProviderSet(llm={"openai": fake, "anthropic": fake})
    async with production(secantus_uri, concurrent=True, providers=providers, users=("alice",),
                          WFE_ENGINE_THREADS="2", WFE_ENGINE_QUEUE="2",
                          WFE_LLM_MAX_ATTEMPTS="1") as prod:
        pending = []
        for i in range(6):
            r = await prod.ok("POST", "/workflow/start", {
                "project_name": f"load{i}", "workflow_content": cuddle_workflow, "mock": False})
            r = await prod.respond(r["workflow_run_id"], r["interaction_request"]["interaction_id"],
                                   ANSWERS["select_pet_type"])
            pending.append((r["workflow_run_id"], r["interaction_request"]["interaction_id"]))
        tasks = [asyncio.ensure_future(prod.post("/workflow/respond", {
            "workflow_run_id": run, "interaction_id": iid,
            "response": ANSWERS["select_aesthetic"]})) for run, iid in pending]
        try:
            deadline = time.monotonic() + 10
            while sum(t.done() for t in tasks) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            done = [t.result() for t in tasks if t.done()]
            assert [r.status_code for r in done] == [503, 503]
            assert all(r.headers["retry-after"] == "1" for r in done)
            assert all(r.json()["error_type"] == "overloaded" for r in done)
            assert prod.services.pool.in_flight == 4
            started = time.monotonic()
            health = await prod.client.get("/health")
            assert health.status_code == 200 and time.monotonic() - started < 0.5
        finally:
            release.set()
        results = await asyncio.gather(*tasks)
        assert sorted(r.status_code for r in results) == [200, 200, 200, 200, 503, 503]


DEEP = b"[" * 100 + b"]" * 100
HOSTILE_BODIES: list[bytes] = [
    b"", b"{", b"[]", b"null", b"\x00\xff", b'{"workflow_run_id": {"$gt": ""}}',
    b'{"interaction_id": 5, "response": "x"}', b'{"project_name": "", "workflow_content": 1}',
    b'{"project_name": "p", "workflow_content": "not base64!!", "workflow_entry_point": "w.json"}',
    b'{"project_name": "p", "mock": true, "workflow_content": {"workflow_id": "t", "steps": [{'
    b'"step_id": "s", "modules": [{"module_id": "user.select", "name": "m", "inputs": {'
    b'"prompt": "{{ \'\'.__class__.__mro__[1].__subclasses__() }}", "data": []}}]}]}}',
    b'{"response": {"selected_indices": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}}',
    DEEP, b'{"a": "' + b"\\u0000" * 100 + b'"}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=[str(i) for i in range(len(HOSTILE_BODIES))])
async def test_hostile_bodies_never_500(secantus_uri: str, body: bytes) -> None:
    """[WIRE-8] every body-accepting route answers 4xx or a 200 execution error."""
    async with production(secantus_uri, users=("alice",), WFE_MAX_JSON_DEPTH="64") as prod:
        run = "wf_" + "1" * 32
        routes = ["/workflow/start", "/workflow/start/confirm", f"/workflow/start/ver_{'2' * 32}",
                  "/workflow/respond", "/workflow/retry", "/workflow/jump",
                  "/workflow/jump-to-interaction", f"/workflow/{run}/resume",
                  f"/workflow/{run}/sub-action", f"/workflow/{run}/stream/respond",
                  "/auth/register", "/auth/login", "/auth/access-keys"]
        for path in routes:
            response = await prod.post(path, None, content=body,
                                       headers={"content-type": "application/json"})
            assert response.status_code < 500, (path, response.status_code, response.text)
            if response.status_code == 200:
                assert response.json().get("status") in ("error", None), (path, response.text)
        assert (await prod.client.get("/health")).status_code == 200

"""Respond latency (p50) at ~100 and ~2,000 events of run history: production next to virtual.

    python bench/production_bench.py [--samples 9]

Both apps run in-process behind httpx's ASGI transport, so the numbers are server cost (HTTP
decoding, engine, storage) without network noise. The production app uses a secantusdb server
(started here when `secantusd-py` is installed, else `WFE_MONGODB_URI`, else the embedded
in-memory backend — the line printed says which). History is built by a first step of cheap
executable modules (`io.render_template`), then each measured respond answers one
`user.text_input` module (four events per answer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HISTORIES = (100, 2000)


def bench_workflow(history: int, answers: int) -> dict[str, Any]:
    filler = max(1, (history - 6) // 2)
    return {"workflow_id": f"bench_{history}", "name": "Respond benchmark", "steps": [
        {"step_id": "fill", "name": "Fill", "modules": [
            {"module_id": "io.render_template", "name": f"f{i}", "inputs": {"template": "x"}}
            for i in range(filler)]},
        {"step_id": "ask", "name": "Ask", "modules": [
            {"module_id": "user.text_input", "name": f"q{i}", "inputs": {"prompt": "Say something"}}
            for i in range(answers)]}]}


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def production_p50(uri: str | None, history: int, samples: int) -> tuple[float, int]:
    from tests.acceptance.production_client import production

    workflow = bench_workflow(history, samples + 1)
    async with production(uri, concurrent=True, users=("alice",)) as prod:
        r = await prod.start(workflow, project=f"bench{history}")
        run = r["workflow_run_id"]
        times: list[float] = []
        for _ in range(samples):
            iid = r["interaction_request"]["interaction_id"]
            began = time.perf_counter()
            r = await prod.respond(run, iid, {"value": "hello"})
            times.append(time.perf_counter() - began)
        count = await prod.services.reads.max_sequence(run)
    return _p50(times), count - 4 * samples  # four events per answered text module


async def virtual_p50(history: int, samples: int) -> tuple[float, int]:
    from litestar.testing import AsyncTestClient

    from engine.clock import FixedClock
    from engine.ids import SequentialIds
    from production_server.auth.tokens import TokenService
    from tests.acceptance.production_client import SECRET, T0
    from tests.conftest import mock_only_providers
    from virtual_server.app import create_app
    from virtual_server.settings import load_settings

    app = create_app(load_settings({"WFE_JWT_SECRET": SECRET}), clock=FixedClock(T0),
                     ids=SequentialIds(), providers=mock_only_providers())
    headers = {"Authorization": "Bearer " + TokenService(SECRET, 3600, 3600).issue_access("u"),
               "X-Virtual-Db-In": "result"}  # the Rev 3 shape: the blob in result.virtual_db
    workflow = bench_workflow(history, samples + 1)
    target = {"target_step_id": "ask", "target_module_name": f"q{samples}"}
    times: list[float] = []
    async with AsyncTestClient(app=app, base_url="http://virtual.local") as client:
        r = (await client.post("/workflow/start", headers=headers, timeout=120,
                               json={"workflow": workflow, "virtual_db": None, **target})).json()
        for _ in range(samples):
            began = time.perf_counter()
            response = await client.post("/workflow/respond", headers=headers, timeout=120, json={
                "workflow": workflow, "virtual_db": r["result"]["virtual_db"], **target,
                "interaction_id": r["interaction_request"]["interaction_id"],
                "response": {"value": "hello"}})
            times.append(time.perf_counter() - began)
            r = response.json()
    return _p50(times), -1


async def main(samples: int) -> None:
    with ExitStack() as stack:
        uri = os.environ.get("WFE_MONGODB_URI")
        backend = "WFE_MONGODB_URI" if uri else "embedded in-memory backend"
        if not uri:
            try:
                from client.testing.mongo import running_secantus

                uri = stack.enter_context(running_secantus())
                backend = "secantusdb (wire protocol)"
            except Exception as exc:  # noqa: BLE001 - fall back to the embedded backend
                print(f"(secantusdb unavailable: {exc}); using the embedded backend")
                uri = None
        print(f"production backend: {backend}; {samples} responds per row; p50 in ms")
        print(f"{'history':>8} {'production':>12} {'virtual':>10}")
        for history in HISTORIES:
            prod_ms, seen = await production_p50(uri, history, samples)
            try:
                virt_ms, _ = await virtual_p50(history, samples)
                virt = f"{virt_ms:10.1f}"
            except ImportError as exc:
                virt = f"{'n/a':>10} ({exc})"
            print(f"{history:>8} {prod_ms:12.1f} {virt}   (history at start: {seen} events)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=9)
    asyncio.run(main(parser.parse_args().samples))

"""Respond latency (p50) at ~100 and ~2,000 events of run history: production next to virtual.

    python bench/production_bench.py [--samples 9]

Both apps run in-process behind httpx's ASGI transport, so the numbers are server cost (HTTP
decoding, engine, storage) without network noise. The production app uses a secantusdb server
(started here when `secantusd-py` is installed, else `WFE_MONGODB_URI`, else the embedded
in-memory backend — the line printed says which). History is built by a first step of cheap
executable modules (`io.render_template`), then each measured respond answers one
`user.text_input` module (four events per answer).

Production runs twice in the same run: as configured (the fold cache and the write batch of
issue 13) and with `WFE_CACHES=false` (every issue-13 fast path off: the code path as before).
The adapter counts the database calls of each respond (`MongoAdapter.round_trips`; user reads,
which follow `WFE_AUTH_CACHE_S`, are left out). P4 is production p50 / virtual p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
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


async def production_p50(uri: str | None, history: int, samples: int,
                         **env: str) -> tuple[float, int, float]:
    """(p50 ms, history at start, median database calls per respond)."""
    from tests.acceptance.production_client import production

    workflow = bench_workflow(history, samples + 1)
    async with production(uri, concurrent=True, users=("alice",), **env) as prod:
        r = await prod.start(workflow, project=f"bench{history}")
        run = r["workflow_run_id"]
        trips: Counter[str] | None = getattr(prod.services.adapter, "round_trips", None)
        times: list[float] = []
        calls: list[int] = []
        for _ in range(samples):
            iid = r["interaction_request"]["interaction_id"]
            before = Counter(trips) if trips is not None else Counter()
            began = time.perf_counter()
            r = await prod.respond(run, iid, {"value": "hello"})
            times.append(time.perf_counter() - began)
            if trips is not None:
                diff = trips - before
                calls.append(sum(n for coll, n in diff.items() if coll != "users"))
        count = await prod.services.reads.max_sequence(run)
        folds = prod.services.eng().folds.stats
        if folds.entries:
            print(f"    fold cache after {history} events: {folds.entries} run(s), "
                  f"{folds.nbytes / 1024:.0f} KiB (peak {folds.peak_bytes / 1024:.0f} KiB), "
                  f"{folds.hits} hits, {folds.misses} misses")
    median_calls = statistics.median(calls) if calls else float("nan")
    return _p50(times), count - 4 * samples, median_calls  # four events per answered module


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
        print(f"{'history':>8} {'production':>11} {'caches off':>11} {'virtual':>8} "
              f"{'P4':>6} {'P4 off':>7} {'calls':>6} {'calls off':>10}")
        ratios: dict[int, float] = {}
        calls: dict[str, float] = {}
        for history in HISTORIES:
            prod_ms, seen, trips = await production_p50(uri, history, samples)
            off_ms, _, trips_off = await production_p50(uri, history, samples,
                                                        WFE_CACHES="false")
            virt_ms, _ = await virtual_p50(history, samples)
            ratios[history] = prod_ms / virt_ms
            calls["after"], calls["before"] = trips, trips_off
            print(f"{history:>8} {prod_ms:11.1f} {off_ms:11.1f} {virt_ms:8.1f} "
                  f"{prod_ms / virt_ms:6.2f} {off_ms / virt_ms:7.2f} {trips:6.0f} "
                  f"{trips_off:10.0f}   (history at start: {seen} events)")
        print(f"round trips per respond (database calls): {calls['before']:.0f} with "
              f"WFE_CACHES=false (the path before issue 13) -> {calls['after']:.0f}")
        for history in HISTORIES:
            print(f"P4 {history}: {ratios[history]:.2f}")
        print(f"round trips per respond: {calls['after']:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=21)
    asyncio.run(main(parser.parse_args().samples))

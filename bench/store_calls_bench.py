"""What each database call of a production respond costs on the bench's server, one at a time.

    python bench/store_calls_bench.py [--samples 60]

A respond makes five calls (tests/acceptance/test_production_round_trips.py): the run and its
events from the fold's anchor (at once), the answer's events (one `insert_many`), then the run
projection and the answer record (at once). This times each call alone through `MongoAdapter`,
in the query shapes of db/queries.py, on a database without indexes and on one with every
storage.md §3.1 index (`ensure_indexes`), so the part of P4 (bench/production_bench.py) that
is the server's own time per call can be read off. The server is secantusdb when
`secantusd-py` is installed, else `WFE_MONGODB_URI`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import queries as q
from db.mongo_adapter import MongoAdapter
from db.production_store import AsyncReads, ensure_indexes

RUN = "wf_bench"
HISTORY = 100
Doc = dict[str, Any]


def _event(sequence: int) -> Doc:
    return {"event_id": f"ev_{sequence}", "workflow_run_id": RUN, "branch_id": "br_1",
            "sequence": sequence, "event_type": "module_completed", "step_id": "ask",
            "module_name": f"q{sequence}", "created_at": datetime.now(timezone.utc),
            "data": {"interaction_id": f"int_{sequence}", "outputs": {"value": "x" * 200}}}


def _projection(n: int) -> Doc:
    return {"status": "awaiting_input", "current_step": "ask", "current_step_name": "Ask",
            "current_module": f"q{n}", "completed_steps": ["fill"], "error_type": None,
            "error_message": None, "completed_at": None,
            "updated_at": datetime.now(timezone.utc)}


async def _p50(call: Callable[[int], Awaitable[Any]], samples: int) -> float:
    times = []
    for n in range(samples):
        began = time.perf_counter()
        await call(n)
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


async def measure(uri: str, indexed: bool, samples: int) -> dict[str, float]:
    """p50 ms of each call shape on a fresh database (dropped afterwards)."""
    db = MongoAdapter.connect(uri, f"calls_bench_{int(indexed)}_{os.getpid()}")
    try:
        if indexed:
            await ensure_indexes(db)
        await db.insert_one("workflow_runs", {"workflow_run_id": RUN, "user_id": "usr_1",
                                              "project_name": "p", "mock": False,
                                              "parent_workflow_run_id": None, **_projection(0)})
        await db.insert_many("events", [_event(s) for s in range(1, HISTORY + 1)])
        reads = AsyncReads(db)
        nxt = HISTORY + 1

        async def events(n: int) -> None:
            await db.insert_many("events", [_event(nxt + 4 * n + k) for k in range(4)])

        async def answer(n: int) -> None:
            await db.insert_one("interaction_answers", {
                "workflow_run_id": RUN, "interaction_id": f"int_a{n}", "branch_id": "br_1",
                "response_hash": "h", "sequence": n, "outcome": {"status": "awaiting_input",
                                                                 "result": {"v": "x" * 300}}})

        async def both_reads(n: int) -> None:
            await asyncio.gather(reads.get_run(RUN), reads.events_from(RUN, HISTORY))

        return {
            "find run": await _p50(lambda n: reads.get_run(RUN), samples),
            "find events from the anchor": await _p50(
                lambda n: reads.events_from(RUN, HISTORY), samples),
            "  both at once": await _p50(both_reads, samples),
            "insert_many 4 events (durable)": await _p50(events, samples),
            "update run projection": await _p50(lambda n: db.update_one(
                "workflow_runs", q.run_filter(RUN), q.run_update(_projection(n))), samples),
            "insert answer record (durable)": await _p50(answer, samples),
        }
    finally:
        await db.drop_database()
        await db.close()


async def main(samples: int) -> None:
    with ExitStack() as stack:
        uri = os.environ.get("WFE_MONGODB_URI")
        backend = "WFE_MONGODB_URI"
        if not uri:
            from client.testing.mongo import running_secantus

            uri = stack.enter_context(running_secantus())
            backend = "secantusdb (wire protocol)"
        plain = await measure(uri, False, samples)
        indexed = await measure(uri, True, samples)
    print(f"database: {backend}; one call at a time, p50 of {samples}, ms")
    print(f"{'call':32} {'no indexes':>11} {'§3.1 indexes':>13}")
    for name in plain:
        print(f"{name:32} {plain[name]:11.2f} {indexed[name]:13.2f}")
    solo = [k for k in plain if not k.startswith(" ")]
    print(f"{'sum of the five calls':32} {sum(plain[k] for k in solo):11.2f} "
          f"{sum(indexed[k] for k in solo):13.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    asyncio.run(main(parser.parse_args().samples))

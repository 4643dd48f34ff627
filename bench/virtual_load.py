"""An editor-like load on one virtual service, for bench/virtual_bench.py: the caches' peak size.

Several editors share the process, as they would share a worker. Each mostly retries on the blob
it just received (the warm path), sometimes answers and goes on, sometimes goes back to an older
checkpoint it received, and now and then reopens its first blob (a saved preview), so its run
stays a realistic length. Every response's blob is a new cache key, so without the bounds the
store cache would grow with every request; the peaks printed show it does not.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from typing import Any, Callable

import msgspec

from engine.wire import VirtualStartRequest
from virtual_server.service import VirtualService

EDITORS = 4
REOPEN_EVERY = 60


def _first_blob(service: VirtualService, workflow: dict[str, Any]) -> tuple[str, str]:
    """A new run started by the service, auto-answered up to `select_text_overlay`."""
    req = msgspec.convert({"workflow": workflow, "mock": True, "auto_respond": True,
                           "target_step_id": "text_overlays",
                           "target_module_name": "select_text_overlay"}, VirtualStartRequest)
    response = service.start(req)
    assert response.virtual_db is not None and response.interaction_request is not None
    return response.virtual_db, response.interaction_request.interaction_id


def editor_load(service: VirtualService, workflow: dict[str, Any], requests: int,
                respond: Callable[..., bytes],
                body: Callable[[dict[str, Any], str, str, bool], bytes]) -> None:
    rng = random.Random(13)
    firsts = [_first_blob(service, workflow) for _ in range(EDITORS)]  # a run of its own each
    history: list[list[tuple[str, str]]] = [[first] for first in firsts]
    times: list[float] = []
    for n in range(requests):
        mine = history[n % EDITORS]
        roll = rng.random()
        if n // EDITORS % REOPEN_EVERY == REOPEN_EVERY - 1:
            mine[:] = [firsts[n % EDITORS]]
        blob, iid = mine[-1] if roll < 0.9 or len(mine) < 6 else mine[-rng.randint(2, 5)]
        answer = roll > 0.8
        started = time.perf_counter()
        out = json.loads(respond(body(workflow, blob, iid, not answer), service, {}))
        times.append(time.perf_counter() - started)
        if not answer:  # an answered run moves past the step we keep retrying: not kept
            mine.append((out["result"]["virtual_db"], out["interaction_request"]["interaction_id"]))
    stores, checks, folds = service.blobs.cache, service.workflow_checks, service.folds
    print(f"\neditor-like load: {requests} requests from {EDITORS} editors, median "
          f"{statistics.median(times) * 1000:.1f} ms, mean {statistics.mean(times) * 1000:.1f} ms "
          f"(compactions included)")
    for name, cache in (("store cache", stores), ("workflow cache", checks), ("fold cache", folds)):
        if cache is None:
            continue
        st = cache.stats
        print(f"{name}: peak {st.peak_bytes / 2**20:.1f} MiB in {st.peak_entries} entries "
              f"(bounds {cache.max_bytes / 2**20:.0f} MiB, {cache.max_entries} entries), "
              f"now {st.nbytes / 2**20:.1f} MiB, {st.hits} hits / {st.misses} misses")

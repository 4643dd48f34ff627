"""Database calls of one production respond (issue 13), counted by the adapter on secantusdb.

A respond to a pending text input that asks the next one reads the run and the run's events from
its fold's anchor (the fold check; both at once), writes its four events as one batch, then the
run projection and the answer record with its outcome (at once): five calls in three round
trips, at any history length. Before issue 13 it was thirteen, one after the other, which is
what `WFE_CACHES=false` still gives: the engine reads the run's branch, lineage, version and
highest sequence again and every write is its own call.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.acceptance.production_client import Prod, production

RESPOND = Counter({"workflow_runs": 2, "events": 2, "interaction_answers": 1})


def _workflow(filler: int, answers: int) -> dict[str, Any]:
    return {"workflow_id": "round_trips", "name": "Round trips", "steps": [
        {"step_id": "fill", "name": "Fill", "modules": [
            {"module_id": "io.render_template", "name": f"f{i}", "inputs": {"template": "x"}}
            for i in range(filler)]},
        {"step_id": "ask", "name": "Ask", "modules": [
            {"module_id": "user.text_input", "name": f"q{i}", "inputs": {"prompt": "Say"}}
            for i in range(answers)]}]}


async def _calls_per_respond(prod: Prod, filler: int) -> list[Counter[str]]:
    r = await prod.start(_workflow(filler, 4), project=f"rt{filler}")
    run = r["workflow_run_id"]
    trips: Counter[str] = prod.services.adapter.round_trips
    counts = []
    for n in range(3):
        before = trips.copy()
        r = await prod.respond(run, r["interaction_request"]["interaction_id"], {"value": f"v{n}"})
        assert r["status"] == "awaiting_input" and r["progress"]["current_module"] == f"q{n + 1}"
        counts.append(trips - before - Counter(users=10**9))  # user reads follow auth_cache_s
    state = await prod.ok("GET", f"/workflow/{run}/state")
    assert [state["state"][f"q{n}"]["value"] for n in range(3)] == ["v0", "v1", "v2"]
    return counts


@pytest.mark.caches  # the fold cache's count: kept on in the WFE_CACHES=off run (conftest.py)
@pytest.mark.parametrize("filler", [5, 300])
async def test_a_respond_costs_five_database_calls(secantus_uri: str, filler: int) -> None:
    async with production(secantus_uri, concurrent=True, users=("alice",),
                          WFE_CACHES="true") as prod:
        counts = await _calls_per_respond(prod, filler)
    # the first respond also reads the run on the loop (its ownership, then remembered)
    assert counts[0] == RESPOND + Counter(workflow_runs=1)
    assert counts[1:] == [RESPOND, RESPOND]
    assert sum(RESPOND.values()) == 5


async def test_with_the_caches_off_the_engine_reads_the_run_in_full(secantus_uri: str) -> None:
    async with production(secantus_uri, concurrent=True, users=("alice",),
                          WFE_CACHES="false") as prod:
        counts = await _calls_per_respond(prod, 5)
    full = Counter({"workflow_runs": 3, "branches": 1, "events": 6, "workflow_versions": 1,
                    "interaction_answers": 2})  # 13, as before issue 13
    assert counts == [full, full, full]


async def test_a_replayed_respond_returns_the_stored_outcome(secantus_uri: str) -> None:
    """Batched event writes keep exactly-once answers: the same answer again is a replay."""
    async with production(secantus_uri, concurrent=True, users=("alice",)) as prod:
        r = await prod.start(_workflow(3, 3), project="replay")
        run, iid = r["workflow_run_id"], r["interaction_request"]["interaction_id"]
        first = await prod.respond(run, iid, {"value": "same"})
        again = await prod.respond(run, iid, {"value": "same"})
        assert again == first
        events = list(prod.db.events.find({"workflow_run_id": run}, {"_id": 0}).sort("sequence"))
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
        assert sum(e["event_type"] == "interaction_response" for e in events) == 1
        conflict = await prod.post("/workflow/respond", {
            "workflow_run_id": run, "interaction_id": iid, "response": {"value": "other"}})
        assert conflict.status_code == 409

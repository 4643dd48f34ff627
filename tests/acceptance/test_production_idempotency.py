"""Production scenario P6: idempotent respond and conflicts (PS-1, ENG-50, ENG-51)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.acceptance.production_client import production
from tests.acceptance.script_a import ANSWERS

A1 = ANSWERS["select_pet_type"]


def _responses(prod: Any, run: str) -> int:
    return prod.db.events.count_documents({"workflow_run_id": run,
                                           "event_type": "interaction_response"})


async def test_p6_sequential_replay_and_conflicts(secantus_uri: str,
                                                  cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P6-1], [ACC-P6-2], [ACC-P6-3], [ACC-P6-5] and [PS-1]."""
    async with production(secantus_uri) as prod:
        r = await prod.start(cuddle_workflow)
        run, iid = r["workflow_run_id"], r["interaction_request"]["interaction_id"]
        body = {"workflow_run_id": run, "interaction_id": iid, "response": A1}
        first = await prod.post("/workflow/respond", body)
        second = await prod.post("/workflow/respond", body)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert _responses(prod, run) == 1
        assert prod.db.interaction_answers.count_documents({"workflow_run_id": run}) == 1
        count = prod.db.events.count_documents({"workflow_run_id": run})
        other = await prod.post("/workflow/respond", {**body, "response": {"selected_indices": [1]}})
        assert other.status_code == 409
        assert other.json() == {"error": other.json()["error"],
                                "error_type": "interaction_already_answered",
                                "details": other.json()["details"],
                                "detail": other.json()["error"]}
        assert prod.db.events.count_documents({"workflow_run_id": run}) == count
        missing = await prod.post("/workflow/respond", {
            **body, "interaction_id": "select_doesnotexist0000000000000000000000"})
        assert missing.status_code == 404
        assert missing.json()["error_type"] == "interaction_not_found"
        # [ACC-P6-5] replay after the run moved on
        nxt = first.json()["interaction_request"]["interaction_id"]
        await prod.respond(run, nxt, ANSWERS["select_aesthetic"])
        third = await prod.post("/workflow/respond", body)
        assert third.status_code == 200 and third.content == first.content


async def test_p6_concurrent_responds(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P6-4] / [ENG-51]: 20 identical concurrent answers → 20 identical 200 bodies and one
    stored response; two different concurrent answers → one 200 and one 409."""
    async with production(secantus_uri, concurrent=True, WFE_ENGINE_QUEUE="32") as prod:
        r = await prod.start(cuddle_workflow, project="c1")
        run, iid = r["workflow_run_id"], r["interaction_request"]["interaction_id"]
        body = {"workflow_run_id": run, "interaction_id": iid, "response": A1}
        results = await asyncio.gather(*[prod.post("/workflow/respond", body) for _ in range(20)])
        assert [x.status_code for x in results] == [200] * 20
        assert len({x.content for x in results}) == 1
        assert _responses(prod, run) == 1
        assert prod.db.interaction_answers.count_documents({"workflow_run_id": run}) == 1

        r = await prod.start(cuddle_workflow, project="c2")
        run, iid = r["workflow_run_id"], r["interaction_request"]["interaction_id"]
        one, two = await asyncio.gather(
            prod.post("/workflow/respond", {"workflow_run_id": run, "interaction_id": iid,
                                            "response": A1}),
            prod.post("/workflow/respond", {"workflow_run_id": run, "interaction_id": iid,
                                            "response": {"selected_indices": [1]}}))
        assert sorted([one.status_code, two.status_code]) == [200, 409]
        loser = one if one.status_code == 409 else two
        assert loser.json()["error_type"] == "interaction_already_answered"
        assert _responses(prod, run) == 1

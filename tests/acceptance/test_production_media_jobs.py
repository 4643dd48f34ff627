"""Media sub-actions as background jobs (production server, `task_queue`, wire-api §6.7).

Runs cuddle_crew (mock) up to its image step on the secantusdb server. The slow-provider cases
inject `GatedProviderSet` (tests/acceptance/media_job_support.py) and use the concurrent client,
so requests overlap with a generation that is still blocked.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from db.task_queue import MEDIA_ACTOR, new_task_doc
from engine.ids import MonotonicIds
from production_server.cancellation import CancelRegistry
from production_server.jobs import MediaJobs
from tests.acceptance.media_job_support import GatedProviderSet, MediaHub
from tests.acceptance.production_client import T0, TERMINAL_SUB, Prod, production
from tests.acceptance.script_a import IMAGE_PARAMS

IMAGE_MODULE = "generate_and_select_images_v2"
SECRET_KEY = "sk-never-stored-0123456789"


async def _at_image_step(prod: Prod, workflow: dict[str, Any]) -> tuple[str, str]:
    r = await prod.start(workflow)
    run = r["workflow_run_id"]
    r = await prod.answer_script(run, r, stop_before=IMAGE_MODULE)
    assert r["progress"]["current_module"] == IMAGE_MODULE
    return run, r["interaction_request"]["interaction_id"]


def _task_body(run: str, iid: str, **extra: Any) -> dict[str, Any]:
    return {"workflow_run_id": run, "interaction_id": iid, "sub_action_id": "image_generation",
            "params": IMAGE_PARAMS, **extra}


async def _wait_status(prod: Prod, task_id: str, statuses: set[str],
                       timeout_s: float = 15.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        view = await prod.ok("GET", f"/api/task/{task_id}")
        if view["status"] in statuses:
            return view
        assert asyncio.get_running_loop().time() < deadline, view
        await asyncio.sleep(0.05)


def _event_types(prod: Prod, run: str) -> list[str]:
    return [e["event_type"] for e in prod.db.events.find({"workflow_run_id": run},
                                                          sort=[("sequence", 1)])]


async def test_media_sub_action_is_a_job_and_generations_appear(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    async with production(secantus_uri) as prod:
        run, iid = await _at_image_step(prod, cuddle_workflow)
        frames = await prod.sub_action(run, iid, "image_generation", IMAGE_PARAMS)
        kinds = [e for e, _ in frames]
        assert kinds[0] == "progress" and frames[0][1]["task_id"].startswith("tq_")
        task_id = frames[0][1]["task_id"]
        assert set(kinds[:-1]) == {"progress"} and kinds[-1] == "complete"
        # progress of the generation itself reaches the stream (subscribed before it ran)
        messages = [d.get("message") for e, d in frames if e == "progress"]
        assert "Generating (mock)" in messages
        assert all(d["task_id"] == task_id for e, d in frames if e == "progress")
        done = frames[-1][1]
        assert done["workflow_run_id"] == run and done["sub_action_id"] == "image_generation"
        content_ids = done["sub_action_result"]["content_ids"]
        assert content_ids and done["sub_action_result"]["provider"] == "leonardo"
        # the engine wrote the events and the content collections; the endpoint returns them
        gens = await prod.ok("GET", f"/workflow/{run}/interaction/{iid}/generations"
                                    "?content_type=image")
        assert content_ids[0] in str(gens)
        types = _event_types(prod, run)
        assert types.count("sub_action_started") == 1 and types.count("sub_action_completed") == 1
        # the task document and its views
        doc = prod.db.task_queue.find_one({"task_id": task_id})
        assert doc["status"] == "completed" and doc["actor"] == MEDIA_ACTOR
        assert doc["concurrency_identifier"] == "leonardo" and doc["worker_id"]
        assert doc["payload"]["user_id"] == prod.user_ids["alice"]
        assert doc["result"]["sub_action_result"]["content_ids"] == content_ids
        view = await prod.ok("GET", f"/api/task/{task_id}")
        assert view["status"] == "completed" and view["workflow_run_id"] == run
        assert view["result"]["execution_id"] == done["execution_id"]
        assert "payload" not in view and "worker_id" not in view
        listed = await prod.ok("GET", f"/api/task/workflow/{run}")
        assert [t["task_id"] for t in listed["tasks"]] == [task_id]
        # an ended task streams just its terminal frame, identical to the job stream's
        again = await prod.sse("GET", f"/api/task/{task_id}/stream", terminals=TERMINAL_SUB)
        assert again == [frames[-1]]


async def test_task_routes_enqueue_own_and_never_store_keys(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    async with production(secantus_uri) as prod:
        run, iid = await _at_image_step(prod, cuddle_workflow)
        created = await prod.post("/api/task", _task_body(
            run, iid, ai_config={"leonardo_api_key": SECRET_KEY}))
        assert created.status_code == 202, created.text
        task_id = created.json()["task_id"]
        assert created.json()["status"] == "queued"
        view = await _wait_status(prod, task_id, {"completed"})
        assert view["result"]["status"] == "completed"
        stored = prod.db.task_queue.find_one({"task_id": task_id})
        assert SECRET_KEY not in str(stored) and "ai_config" not in str(stored)
        # ownership: bob gets the same 404 as an unknown task id
        unknown = "tq_" + "0" * 32
        for path in (f"/api/task/{task_id}", f"/api/task/{task_id}/stream"):
            as_bob = await prod.get(path, user="bob")
            as_unknown = await prod.get(path.replace(task_id, unknown))
            assert as_bob.status_code == 404 and as_bob.content == as_unknown.content
        assert (await prod.get(f"/api/task/workflow/{run}", user="bob")).status_code == 404
        assert (await prod.post("/api/task", _task_body(run, iid), user="bob")).status_code == 404
        # only media generation sub-actions are tasks; unknown ids are 400
        bad = await prod.post("/api/task", {**_task_body(run, iid), "sub_action_id": "nope"})
        assert bad.status_code == 400


async def test_slow_job_survives_and_cancel_marks_it_cancelled(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    hub = MediaHub()
    async with production(secantus_uri, concurrent=True,
                          providers=GatedProviderSet(hub)) as prod:
        jobs: MediaJobs = prod.services.media_jobs
        hub.cancel_probe = lambda: any(t.is_cancelled() for t in jobs.tokens())
        run, iid = await _at_image_step(prod, cuddle_workflow)
        created = await prod.post("/api/task", _task_body(run, iid))
        task_id = created.json()["task_id"]
        assert await asyncio.to_thread(hub.started.wait, 10)
        view = await _wait_status(prod, task_id, {"processing"})
        assert view["started_at"] is not None
        for _ in range(100):  # the latest progress reaches the document (≤ 1 write/s)
            view = await prod.ok("GET", f"/api/task/{task_id}")
            if (view["progress"] or {}).get("message") == "Generating (gated)":
                break
            await asyncio.sleep(0.05)
        assert view["progress"]["message"] == "Generating (gated)"
        assert view["progress"]["task_id"] == task_id
        # the run lock is not held during the generation (ENG-34): reads and answers work
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["interaction_request"]["interaction_id"] == iid
        cancel = await prod.ok("POST", f"/workflow/{run}/cancel")
        assert cancel["cancelled"] == 1
        view = await _wait_status(prod, task_id, {"cancelled", "failed", "completed"})
        assert view["status"] == "cancelled" and view["error"]["reason"] == "user_cancelled"
        types = _event_types(prod, run)
        assert types.count("sub_action_failed") == 1 and "sub_action_completed" not in types
        frames = await prod.sse("GET", f"/api/task/{task_id}/stream", terminals=TERMINAL_SUB)
        assert frames[-1][0] == "cancelled" and frames[-1][1]["reason"] == "user_cancelled"
        assert jobs.active == 0 and prod.services.registry.active_count() == 0


async def test_queue_full_answers_503_before_any_write(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    hub = MediaHub()
    async with production(secantus_uri, concurrent=True, providers=GatedProviderSet(hub),
                          WFE_MEDIA_QUEUE_MAX="1") as prod:
        run, iid = await _at_image_step(prod, cuddle_workflow)
        first = await prod.post("/api/task", _task_body(run, iid))
        assert first.status_code == 202
        assert await asyncio.to_thread(hub.started.wait, 10)
        events_before = prod.db.events.count_documents({"workflow_run_id": run})
        for method, path, body in (
                ("POST", "/api/task", _task_body(run, iid)),
                ("POST", f"/workflow/{run}/sub-action",
                 {"interaction_id": iid, "sub_action_id": "image_generation",
                  "params": IMAGE_PARAMS})):
            refused = await prod.request(method, path, "alice", body)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error_type"] == "overloaded"
        assert prod.db.task_queue.count_documents({}) == 1
        assert prod.db.events.count_documents({"workflow_run_id": run}) == events_before
        assert prod.services.streams.open_count(prod.user_ids["alice"]) == 0
        hub.gate.set()
        await _wait_status(prod, first.json()["task_id"], {"completed"})


async def test_per_provider_concurrency_is_respected(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    hub = MediaHub()
    async with production(secantus_uri, concurrent=True,
                          providers=GatedProviderSet(hub, {"leonardo": 1})) as prod:
        run, iid = await _at_image_step(prod, cuddle_workflow)
        ids = [(await prod.post("/api/task", _task_body(run, iid))).json()["task_id"]
               for _ in range(2)]
        assert await asyncio.to_thread(hub.started.wait, 10)
        await asyncio.sleep(0.3)
        assert hub.calls == 1
        assert (await prod.ok("GET", f"/api/task/{ids[1]}"))["status"] == "queued"
        hub.gate.set()
        for task_id in ids:
            await _wait_status(prod, task_id, {"completed"})
        assert hub.calls == 2 and hub.max_running == 1


async def test_stale_processing_task_is_failed_not_rerun(secantus_uri: str) -> None:
    async with production(secantus_uri, WFE_TASK_STALE_S="60") as prod:
        jobs: MediaJobs = prod.services.media_jobs
        doc = new_task_doc(task_id="tq_" + "5" * 32, actor=MEDIA_ACTOR,
                           concurrency_identifier="leonardo",
                           payload={"user_id": prod.user_ids["alice"],
                                    "workflow_run_id": "wf_" + "6" * 32, "interaction_id": "i",
                                    "sub_action_id": "image_generation", "params": {}},
                           now=T0 - timedelta(minutes=10))
        fresh = {**doc, "task_id": "tq_" + "7" * 32}
        await prod.call(jobs.queue.insert, doc)
        await prod.call(jobs.queue.insert, fresh)
        await prod.call(jobs.queue.claim, doc["task_id"], "gone-worker", T0 - timedelta(minutes=5))
        await prod.call(jobs.queue.claim, fresh["task_id"], "live-worker", T0)
        lost = await prod.call(jobs.sweep)
        assert lost == [doc["task_id"]]
        view = await prod.ok("GET", f"/api/task/{doc['task_id']}")
        assert view["status"] == "failed" and view["error"]["message"] == "worker lost"
        assert (await prod.ok("GET", f"/api/task/{fresh['task_id']}"))["status"] == "processing"
        frames = await prod.sse("GET", f"/api/task/{doc['task_id']}/stream",
                                terminals=TERMINAL_SUB)
        assert [e for e, _ in frames] == ["error"]
        assert frames[0][1]["error_type"] == "worker_lost"


async def test_lost_worker_gets_its_sub_action_closed_once(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """A worker stops beating mid-generation: the sweep fails the task and writes the
    `sub_action_failed` it never wrote; when the stalled worker comes back it writes nothing."""
    hub = MediaHub()
    async with production(secantus_uri, concurrent=True, providers=GatedProviderSet(hub),
                          WFE_TASK_HEARTBEAT_S="60") as prod:
        jobs: MediaJobs = prod.services.media_jobs
        run, iid = await _at_image_step(prod, cuddle_workflow)
        task_id = (await prod.post("/api/task", _task_body(run, iid))).json()["task_id"]
        assert await asyncio.to_thread(hub.started.wait, 10)
        for _ in range(100):  # the generation's progress (with its execution id) is stored
            doc = prod.db.task_queue.find_one({"task_id": task_id})
            if (doc.get("progress") or {}).get("message") == "Generating (gated)":
                break
            await asyncio.sleep(0.05)
        execution_id = doc["progress"]["execution_id"]
        assert execution_id.startswith("image_generation_")
        assert _event_types(prod, run)[-1] == "sub_action_started"
        # the worker goes silent (its last beat is long ago); nobody else sweeps meanwhile
        prod.db.task_queue.update_one({"task_id": task_id},
                                      {"$set": {"heartbeat_at": T0 - timedelta(minutes=10)}})
        assert await jobs.sweep() == [task_id]
        failed = prod.db.events.find_one({"workflow_run_id": run,
                                          "event_type": "sub_action_failed"})
        assert failed["data"]["execution_id"] == execution_id
        assert failed["data"]["error_type"] == "worker_lost"
        assert failed["data"]["interaction_id"] == iid
        stored = prod.db.task_queue.find_one({"task_id": task_id})
        assert stored["status"] == "failed" and stored["lineage_closed"] is True
        assert await jobs.sweep() == [] and await jobs.close_lost_lineages() == []
        # the stalled worker wakes up: no second end event, the task stays failed
        hub.gate.set()
        view = await _wait_status(prod, task_id, {"failed"})
        for _ in range(100):
            if jobs.active == 0:
                break
            await asyncio.sleep(0.05)
        assert jobs.active == 0
        types = [t for t in _event_types(prod, run) if t.startswith("sub_action")]
        assert types == ["sub_action_started", "sub_action_failed"]
        assert view["error"]["error_type"] == "worker_lost"
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["interaction_request"]["interaction_id"] == iid  # still pending


async def test_two_processes_never_run_the_same_task(
        secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """A second MediaJobs on its own client of the same database ("process B") adopts a task
    that process A enqueued but has not claimed yet: exactly one of them runs it."""
    from db.mongo_adapter import MongoAdapter

    hub = MediaHub()
    async with production(secantus_uri, concurrent=True,
                          providers=GatedProviderSet(hub, {"leonardo": 1})) as prod:
        a: MediaJobs = prod.services.media_jobs
        s = prod.services
        adapter_b = MongoAdapter.connect(secantus_uri, s.adapter.database_name)
        b = MediaJobs(settings=s.settings, clock=s.clock, ids=MonotonicIds(),
                      providers=s.providers, registry=CancelRegistry(), engine=s.engine,
                      adapter=adapter_b, credentials=s.credentials, worker_id="process-b")
        await b.start()
        try:
            run, iid = await _at_image_step(prod, cuddle_workflow)
            first = (await prod.post("/api/task", _task_body(run, iid))).json()["task_id"]
            assert await asyncio.to_thread(hub.started.wait, 10)
            second = (await prod.post("/api/task", _task_body(run, iid))).json()["task_id"]
            doc = await b.queue.get(second)
            assert doc is not None and doc["status"] == "queued"  # A waits for its slot
            job_b = b.adopt(doc)
            for _ in range(200):  # B claims at once (its own slot is free); A still waits
                claimed = await b.queue.get(second)
                if claimed is not None and claimed["status"] == "processing":
                    break
                await asyncio.sleep(0.02)
            assert claimed is not None and claimed["worker_id"] == "process-b"
            hub.gate.set()
            final_b = await asyncio.wait_for(asyncio.shield(job_b.done), 15)
            final_a = await asyncio.wait_for(asyncio.shield(a.watch(second)), 15)
            assert final_b["status"] == "completed" and final_b["worker_id"] == "process-b"
            assert final_a["worker_id"] == "process-b"
            await _wait_status(prod, first, {"completed"})
            assert hub.calls == 2  # one generation per task, never a second run
            stored = prod.db.task_queue.find_one({"task_id": second})
            assert stored["worker_id"] == "process-b" and stored["status"] == "completed"
            types = _event_types(prod, run)
            assert types.count("sub_action_completed") == 2
        finally:
            await b.stop()
            await adapter_b.close()

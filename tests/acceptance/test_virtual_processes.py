"""The virtual JSON routes in engine worker processes (issue 15 item 5, virtual_server/procs.py):
answers byte-identical to the thread mode, affinity, cancellation across the process boundary,
a killed worker → typed 503 and a replacement, clean shutdown."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from typing import Any, AsyncIterator

import httpx
import pytest

from engine import CancelToken
from tests.acceptance.virtual_support import (
    REV3,
    access_token,
    make_app,
    make_settings,
    worker_objects,
)
from tests.long_workflows import long_workflow
from virtual_server.procs import ProcessPool, affinity_key
from virtual_server.worker import WorkerSpec

AUTH = {"Authorization": "Bearer " + access_token()}
PET = {"target_step_id": "user_input", "target_module_name": "select_pet_type"}
BIG = {"workflow_max_steps": 20_000, "workflow_max_modules": 20_000,
       "operation_deadline_s": 300.0}
#: a cancelled job ends at its next module boundary: well before the deadline (loading 10,000
#: steps alone took seconds on a loaded machine, tests/e2e/test_runaway_live.py)
STOPPED_WITHIN_S = 30.0


async def _conversation(processes: int, workflow: dict[str, Any]) -> list[tuple[int, bytes]]:
    """One editor's requests, good and bad, in both shapes; every answer's status and bytes."""
    app = make_app(make_settings(engine_processes=processes), worker_objects=worker_objects)
    answers: list[tuple[int, bytes]] = []
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://v") as c:
        async def post(path: str, body: Any, **headers: str) -> dict[str, Any]:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            r = await c.post(path, content=content, headers={**AUTH, **headers,
                                                              "Content-Type": "application/json"})
            answers.append((r.status_code, r.content))
            return r.json() if r.headers.get("content-type") == "application/json" else {}

        first = await post("/workflow/start", {"workflow": workflow, "virtual_db": None, **PET})
        blob, run_id = first["virtual_db"], first["virtual_run_id"]
        await post("/workflow/start", {"workflow": workflow, "virtual_db": blob, **PET}, **REV3)
        for route in ("state", "interaction-history", "events"):
            await post("/workflow/" + route, {"virtual_db": blob, "virtual_run_id": run_id})
        pending = first["interaction_request"]
        await post("/workflow/respond", {
            "workflow": workflow, "virtual_db": blob, "workflow_run_id": run_id,
            "interaction_id": pending["interaction_id"],
            "response": {"selected_indices": [0]}, **PET})
        await post("/workflow/resume/confirm", {"workflow": workflow, "virtual_db": blob, **PET})
        await post("/workflow/generations", {"virtual_db": blob, "virtual_run_id": run_id,
                                             "interaction_id": "nope"})
        await post("/workflow/state", {"virtual_db": "not a blob", "virtual_run_id": "x"})
        await post("/workflow/start", {"workflow": workflow, "virtual_db": "%%", **PET}, **REV3)
        await post("/workflow/respond", b"{")
        await post("/workflow/respond", {"workflow": 1})
        await post("/workflow/state", b"[" * 500 + b"]" * 500)
    return answers


async def test_answers_are_byte_identical_to_the_thread_mode(
        cuddle_workflow: dict[str, Any]) -> None:
    """One worker process: the clock and ids advance as in the one thread-mode service (with
    several, each worker's deterministic clock and ids advance on their own)."""
    threads = await _conversation(0, cuddle_workflow)
    processes = await _conversation(1, cuddle_workflow)
    assert [status for status, _ in threads] == [200, 200, 200, 200, 200, 200, 200, 400, 400,
                                                 400, 400, 400, 400]
    assert processes == threads


def test_affinity_key_follows_the_run_not_the_request() -> None:
    blob = base64.b64encode(os.urandom(600)).decode()
    body = json.dumps({"workflow": {"x": "virtual_db"}, "virtual_db": blob}).encode()
    appended = json.dumps({"virtual_db" : blob + "AAAAmore", "workflow": None}).encode()
    other = json.dumps({"virtual_db": base64.b64encode(os.urandom(600)).decode()}).encode()
    assert affinity_key(body, "alice") == affinity_key(appended, "bob") != 0
    assert affinity_key(other, "alice") != affinity_key(body, "alice")
    no_blob = json.dumps({"virtual_db": None}).encode()
    assert affinity_key(no_blob, "alice") == affinity_key(b"{}", "alice") != 0
    assert affinity_key(no_blob, None) == 0


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    p = ProcessPool(WorkerSpec(make_settings(**BIG), worker_objects), 2)
    await asyncio.to_thread(p.start)
    try:
        yield p
    finally:
        await asyncio.to_thread(p.shutdown)
    assert not any(w.process.is_alive() for w in p.workers)  # shutdown is clean


def _preview(steps: int) -> bytes:
    return json.dumps({"workflow": long_workflow(steps), "virtual_db": None,
                       "target_step_id": f"s{steps - 1}",
                       "target_module_name": f"m{steps - 1}_0"}).encode()


async def test_one_runs_requests_reach_one_worker(pool: ProcessPool,
                                                  cuddle_workflow: dict[str, Any]) -> None:
    start = json.dumps({"workflow": cuddle_workflow, "virtual_db": None, **PET}).encode()
    status, _, body = await pool.run("start", start, False, 0, CancelToken())
    assert status == 200
    blob = json.loads(body)["virtual_db"]
    read = json.dumps({"virtual_db": blob}).encode()
    key = affinity_key(read, None)
    before = [w.served for w in pool.workers]
    for _ in range(6):
        assert (await pool.run("state", read, False, key, CancelToken()))[0] == 200
    gained = [w.served - b for w, b in zip(pool.workers, before)]
    assert sorted(gained) == [0, 6]
    assert pool.workers[gained.index(6)] is pool.pick(key)


async def test_cancel_reaches_running_jobs_and_a_queued_one(pool: ProcessPool) -> None:
    """Two long previews occupy both workers (the second is stolen by the idle one), a third
    waits in the first one's queue; the client of each goes away."""
    tokens = [CancelToken() for _ in range(3)]
    jobs = []
    for token in tokens:
        jobs.append(asyncio.ensure_future(pool.run("start", _preview(10_000), False, 7, token)))
        await asyncio.sleep(0.05)
    assert sorted(w.pending for w in pool.workers) == [1, 2]
    await asyncio.sleep(1.5)  # both are loading or executing
    for token in reversed(tokens):
        token.cancel("client_disconnected")
    began = time.monotonic()
    for job in jobs[:2]:
        status, _, body = await job
        assert status == 200 and json.loads(body)["result"]["error_type"] == "cancelled"
    assert time.monotonic() - began < STOPPED_WITHIN_S  # the next module boundary
    status, _, body = await jobs[2]
    assert status == 400 and json.loads(body)["result"]["error_type"] == "cancelled"
    assert time.monotonic() - began < STOPPED_WITHIN_S  # it never started


async def test_a_killed_worker_gives_a_typed_503_and_is_replaced(pool: ProcessPool) -> None:
    victim = pool.pick(3)
    old_pid = victim.process.pid
    job = asyncio.ensure_future(pool.run("start", _preview(10_000), False, 3, CancelToken()))
    await asyncio.sleep(1.0)
    os.kill(old_pid, signal.SIGKILL)
    status, headers, body = await asyncio.wait_for(job, 30)
    error = json.loads(body)
    assert status == 503 and headers == {"Retry-After": "1"}
    assert error["result"]["error_type"] == "worker_lost"
    assert victim.restarts == 1 and victim.process.pid != old_pid
    status, _, _ = await pool.run("start", _preview(3), False, 3, CancelToken())
    assert status == 200  # the replacement answers


async def test_a_worker_that_cannot_be_restarted_answers_503_until_one_starts(
        pool: ProcessPool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slot whose replacement fails to start stays empty: its jobs get a typed 503 (not
    "shutting down"), and the first job after starting works again gets a new worker."""
    victim = pool.pick(3)
    spawn = pool._spawn

    def no_process(w: Any) -> None:
        raise RuntimeError("cannot start a process")

    monkeypatch.setattr(pool, "_spawn", no_process)
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.join(10)
    for _ in range(2):  # the death is found, then the empty slot is tried again
        status, headers, body = await pool.run("start", _preview(3), False, 3, CancelToken())
        assert status == 503 and headers == {"Retry-After": "1"}
        assert json.loads(body)["result"]["error_type"] == "worker_lost"
    assert victim.conn is None
    monkeypatch.setattr(pool, "_spawn", spawn)
    status, _, _ = await pool.run("start", _preview(3), False, 3, CancelToken())
    assert status == 200 and victim.conn is not None


def test_a_client_that_leaves_stops_its_job_in_the_worker() -> None:
    """A live server in process mode: the client closes its connection unanswered while the
    worker runs its 10,000-step preview; the slot comes back at the job's next module boundary
    and the worker answers the next request."""
    from tests.e2e.test_runaway_live import HEADERS, _give_up_when
    from tests.e2e.test_runaway_live import _preview as preview
    from tests.e2e.virtual_live import LiveServer, wait_for

    app = make_app(make_settings(engine_processes=1, **BIG), worker_objects=worker_objects)
    rt = app.state["runtime"]
    with LiveServer(app) as live:
        _give_up_when(live.url + "/workflow/start", preview(10_000), HEADERS,
                      lambda: rt.procs is not None and rt.procs.workers[0].current != 0)
        assert wait_for(lambda: rt.pool.in_flight == 0, timeout=STOPPED_WITHIN_S)
        worker = rt.procs.workers[0]
        assert worker.served == 1 and worker.restarts == 0
        small = httpx.post(live.url + "/workflow/start", json=preview(3), headers=HEADERS,
                           timeout=60)
        assert small.status_code == 200 and small.json()["status"] == "completed"

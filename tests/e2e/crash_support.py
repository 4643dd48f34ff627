"""Processes for the crash and database-down tests (issue 15 items 5 and 6).

`Database` is secantusd (a real MongoDB wire-protocol server) with a storage directory on a
fixed port, so it can be killed with SIGKILL and started again on the same data. `Server` is the
production server as a deployment runs it (`python -m production_server`), also killable.
`answer_burst` answers many runs at once and records every answer the server acknowledged;
`finish` drives a run to its end after a crash.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx
from pymongo import MongoClient

from client.testing.mongo import free_port as _free_port
from client.testing.mongo import secantus_command

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-test-secret-0123456789abcdef"
PASSWORD = "crash-test-password-1"
SELECT_SCHEMA = {"type": "array", "items": {"type": "object", "_ux": {"selectable": True}}}
ANSWER = {"selected_indices": [0]}


def select_workflow(questions: int) -> dict[str, Any]:
    """`questions` steps of one `user.select` each: a run is a sequence of answers."""
    return {"workflow_id": "crash", "name": "Crash", "steps": [
        {"step_id": f"s{i}", "name": f"Step {i}", "modules": [
            {"module_id": "user.select", "name": f"q{i}",
             "inputs": {"prompt": f"Question {i}", "data": [{"id": "a"}, {"id": "b"}],
                        "schema": SELECT_SCHEMA}}]} for i in range(questions)]}


class Proc:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args, self.env = args, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="crash-", suffix=".log", delete=False)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, env={**os.environ, **self.env}, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]


class Database(Proc):
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        super().__init__([*secantus_command(), "--host", "127.0.0.1", "--port", str(self.port),
                          "--storage-path", str(data_dir), "--log-level", "WARNING"], {})

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 60
        while not self.answers():
            assert self.proc is not None and self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "secantusd did not start"
            time.sleep(0.1)

    def answers(self) -> bool:
        client: MongoClient[dict[str, Any]] = MongoClient(self.uri, serverSelectionTimeoutMS=300)
        try:
            return bool(client.admin.command("ping").get("ok"))
        except Exception:  # noqa: BLE001 - not up (yet)
            return False
        finally:
            client.close()

    def restart(self) -> None:
        """A clean stop and start: writes made without `j: true` (users) are on disk after it,
        so a later kill -9 cannot take them."""
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(30)
        self.start()

    def client(self) -> MongoClient[dict[str, Any]]:
        return MongoClient(self.uri, serverSelectionTimeoutMS=5000)


def create_user(db: Database, name: str, username: str = "crash") -> str:
    """A user in database `name`, made durable by a clean restart of the database."""
    from db.mongo_adapter import MongoAdapter
    from production_server.admin import create_user as create

    async def run() -> str:
        adapter = MongoAdapter.connect(db.uri, name)
        try:
            return str((await create(adapter, username, PASSWORD))["user_id"])
        finally:
            await adapter.close()

    user_id = asyncio.run(run())
    db.restart()
    return user_id


class Server(Proc):
    """The production server on `db`, database `name`, with a user `crash`."""

    def __init__(self, db: Database, name: str, **env: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db, self.name = db, name
        super().__init__([sys.executable, "-m", "production_server", "--host", "127.0.0.1",
                          "--port", str(self.port)],
                         {"WFE_MONGODB_URI": db.uri, "WFE_MONGODB_DATABASE": name,
                          "WFE_JWT_SECRET": SECRET, "WFE_ENGINE_QUEUE": "32", **env})
        self.headers: dict[str, str] = {}

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 60
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start:\n" + self.output()
            time.sleep(0.1)

    def login(self) -> None:
        """Log the user in (`create_user` first, before the server starts)."""
        login = httpx.post(self.url + "/auth/login",
                           json={"identifier": "crash", "password": PASSWORD}, timeout=10)
        login.raise_for_status()
        self.headers = {"Authorization": "Bearer " + str(login.cookies["access_token"])}

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, headers=self.headers,
                             timeout=timeout)


def start_runs(server: Server, runs: int, questions: int) -> dict[str, str]:
    """`runs` runs of `select_workflow(questions)`: run id -> first pending interaction id."""
    pending = {}
    for i in range(runs):
        r = server.call("POST", "/workflow/start", {"project_name": f"crash{i}",
                                                    "workflow_content": select_workflow(questions)})
        assert r.status_code == 200, r.text
        body = r.json()
        pending[body["workflow_run_id"]] = body["interaction_request"]["interaction_id"]
    return pending


def answer_burst(server: Server, pending: dict[str, str], on_ack: Callable[[int], None],
                 ) -> list[tuple[str, str]]:
    """Answer every run as fast as it goes (one thread per run, answers in order) until the
    run completes or a request fails; returns every acknowledged (run, interaction) answer.
    `on_ack(total)` is called after each acknowledgement (the test kills something there)."""
    acked: list[tuple[str, str]] = []
    lock = threading.Lock()

    def answer(run: str, iid: str) -> None:
        while True:
            try:
                r = server.call("POST", "/workflow/respond", {
                    "workflow_run_id": run, "interaction_id": iid, "response": ANSWER}, 10)
            except httpx.HTTPError:
                return
            if r.status_code != 200:
                return
            with lock:
                acked.append((run, iid))
                total = len(acked)
            on_ack(total)
            body = r.json()
            if body["status"] != "awaiting_input":
                return
            iid = body["interaction_request"]["interaction_id"]

    threads = [threading.Thread(target=answer, args=item) for item in pending.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return acked


def stored_once(db: Any, acked: list[tuple[str, str]]) -> None:
    """Every acknowledged answer is stored exactly once (answer record and response event)."""
    for run, iid in acked:
        assert db.interaction_answers.count_documents(
            {"workflow_run_id": run, "interaction_id": iid}) == 1, (run, iid)
        responses = [e for e in db.events.find({"workflow_run_id": run,
                                                "event_type": "interaction_response"})
                     if (e.get("data") or {}).get("interaction_id") == iid]
        assert len(responses) == 1, (run, iid, len(responses))


def answered_once_each(db: Any, runs: Any, questions: int) -> None:
    """Each completed run has one response per question and no interaction answered twice
    (an answer cut off by the crash before its acknowledgement may lack its answer record:
    the run continued from its response event, engine.md §7.2)."""
    for run in runs:
        ids = [(e.get("data") or {}).get("interaction_id") for e in db.events.find(
            {"workflow_run_id": run, "event_type": "interaction_response"})]
        assert len(ids) == questions == len(set(ids)), (run, ids)
        assert db.interaction_answers.count_documents({"workflow_run_id": run}) <= questions


def finish(server: Server, run: str, deadline_s: float = 60) -> dict[str, Any]:
    """Drive a run to its end after a crash: where it stands (resume), answer, repeat."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        r = server.call("POST", f"/workflow/{run}/resume", {})
        if r.status_code == 503:
            time.sleep(0.2)
            continue
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] == "completed":
            return dict(body)
        if body["status"] == "awaiting_input":
            iid = body["interaction_request"]["interaction_id"]
            answered = server.call("POST", "/workflow/respond", {
                "workflow_run_id": run, "interaction_id": iid, "response": ANSWER})
            assert answered.status_code in (200, 503), answered.text
            continue
        # processing: the run was executing when the process died; its stream continues it
        # (or follows an execution of this process to its outcome)
        with httpx.stream("GET", f"{server.url}/workflow/{run}/stream", headers=server.headers,
                          timeout=30) as streamed:
            for _ in streamed.iter_lines():
                pass
    raise AssertionError(f"run {run} did not complete: {body}")

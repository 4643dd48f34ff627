"""Engine worker processes for the virtual server's JSON routes (issue 15 item 5).

Threads share the GIL with the event loop, so under a storm of big previews the loop waited for
it behind blob inflates, engine runs and encodings. Here that work runs in `processes` worker
processes (worker.py); the loop only moves bytes. Each worker has one queue and one feeder
thread in the server process: the feeder sends a job down the worker's pipe, waits for its
answer and resolves the request's future on the loop. The pipe I/O releases the GIL, so a
feeder costs the loop nothing while a worker computes.

- Affinity: a job goes to the worker chosen by `affinity_key` (the run's blob prefix, else the
  user), so an editor's next request reaches the process whose caches hold its run; only when
  that worker is busy and another idle does the idle one take it.
- Admission stays global and is decided before the body is read (the engine pool's ticket,
  engine/admission.py); this pool only runs admitted jobs.
- Cancellation: a job whose token is cancelled before it is sent is answered `cancelled` without
  being sent; one already running is told through the worker's shared cancel value (worker.py).
- A worker that dies (kill -9, out of memory) answers its in-flight job with a 503
  `worker_lost` and is replaced by its feeder; the jobs queued behind it wait for the new one.
- Workers start with `forkserver` (forking the serving process after its loop started is
  unsafe), build their service and caches, and are ready before the server serves.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import pickle
import queue
import threading
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from engine import CancelToken
from virtual_server.errors import ApiError, api_error_parts
from virtual_server.jobs import Answer
from virtual_server.worker import WorkerSpec, serve

log = logging.getLogger("virtual_server")

POLL_S = 0.05
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 5.0
#: blob characters hashed for affinity: past the constant gzip header, into the first member's
#: compressed data (a run's first member stays while members are appended, db/blob_members.py)
KEY_SKIP, KEY_TAKE = 16, 256
_FIELD = b'"virtual_db"'


def affinity_key(raw: bytes, user: str | None) -> int:
    """A stable key from the body's bytes without parsing them: the start of its `virtual_db`
    string (the run's blob), else the user, else 0. A miss only costs a cache miss."""
    at = raw.find(_FIELD)
    while at >= 0:  # the field's name, not a string value "virtual_db"; slices stay small
        after = raw[at + len(_FIELD):at + len(_FIELD) + 64 + KEY_SKIP + KEY_TAKE]
        colon = after.lstrip()
        if colon.startswith(b":"):
            value = colon[1:].lstrip()
            if value.startswith(b'"'):
                return zlib.crc32(value[1 + KEY_SKIP:1 + KEY_SKIP + KEY_TAKE]) + 1
            break
        at = raw.find(_FIELD, at + 1)
    return zlib.crc32(user.encode()) + 1 if user else 0


def worker_lost(index: int) -> Answer:
    return api_error_parts(ApiError(503, "worker_lost",
                                    "The engine worker running this request stopped; retry",
                                    {"worker": index}, headers={"Retry-After": "1"}))


def worker_unavailable(index: int) -> Answer:
    return api_error_parts(ApiError(503, "worker_lost",
                                    "No engine worker could be started for this request; retry",
                                    {"worker": index}, headers={"Retry-After": "1"}))


def shut_down() -> Answer:
    return api_error_parts(ApiError(503, "overloaded", "The server is shutting down",
                                    headers={"Retry-After": "1"}))


def abandoned() -> Answer:
    return api_error_parts(ApiError(400, "cancelled",
                                    "The client went away before the operation started",
                                    {"reason": "client_disconnected"}))


@dataclass
class Job:
    job_id: int
    route: str
    raw: bytes
    rev3: bool
    token: CancelToken
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Answer]

    def answer(self, result: Answer) -> None:
        def resolve() -> None:
            if not self.future.done():
                self.future.set_result(result)
        try:
            self.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop is closed: nobody waits for the answer any more
            pass


@dataclass
class Worker:
    index: int
    process: Any = None
    conn: Connection | None = None
    cancel: Any = None
    jobs: queue.SimpleQueue[Job | None] = field(default_factory=queue.SimpleQueue)
    current: int = 0  # the running job's id (0: none)
    pending: int = 0  # jobs queued or running
    served: int = 0  # jobs answered by this slot's processes
    restarts: int = 0


class ProcessPool:
    """`processes` engine worker processes, one queue each; `run` awaits a job's answer."""

    def __init__(self, spec: WorkerSpec, processes: int) -> None:
        if processes < 1:
            raise ValueError("ProcessPool needs processes >= 1")
        self.spec = spec
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["virtual_server.worker"])
        self.workers = [Worker(i) for i in range(processes)]
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start every worker and wait until each is ready (blocking: call it off the loop)."""
        for w in self.workers:
            self._spawn(w)
        for w in self.workers:
            self._await_ready(w)
            thread = threading.Thread(target=self._feed, args=(w,), daemon=True,
                                      name=f"wfe-feeder-{w.index}")
            thread.start()
            self._threads.append(thread)

    def _spawn(self, w: Worker) -> None:
        ours, theirs = self._ctx.Pipe(duplex=True)
        w.cancel = self._ctx.RawValue("q", 0)
        w.process = self._ctx.Process(target=serve, args=(theirs, w.cancel, self.spec),
                                      name=f"wfe-worker-{w.index}", daemon=True)
        w.process.start()
        theirs.close()  # so the worker's death reads as EOF here
        w.conn = ours

    def _await_ready(self, w: Worker) -> None:
        assert w.conn is not None
        if not w.conn.poll(READY_TIMEOUT_S):
            raise RuntimeError(f"engine worker {w.index} did not start")
        _kind, pid = pickle.loads(w.conn.recv_bytes())
        log.info("engine worker %d ready (pid %d)", w.index, pid)

    def _replace(self, w: Worker) -> None:
        log.error("engine worker %d (pid %s) died (exit code %s): replacing it", w.index,
                  w.process.pid, w.process.exitcode)
        self._reap(w)
        w.restarts += 1
        if not self._closed:
            self._revive(w)

    def _revive(self, w: Worker) -> bool:
        """A new process in the slot; False (slot left empty, tried again by its next job) when
        it does not start, so a failed start is never mistaken for a ready worker."""
        try:
            self._spawn(w)
            self._await_ready(w)
        except Exception:  # logged; the job gets a typed 503
            log.exception("engine worker %d could not be started", w.index)
            if w.process is not None:
                self._reap(w)
            w.conn = None
            return False
        return True

    def _reap(self, w: Worker) -> None:
        if w.conn is not None:
            w.conn.close()
            w.conn = None
        w.process.join(STOP_TIMEOUT_S)
        if w.process.is_alive():
            w.process.kill()
            w.process.join(STOP_TIMEOUT_S)

    def shutdown(self) -> None:
        """Stop the workers (their queued jobs are answered 503) and wait for them."""
        self._closed = True
        for w in self.workers:
            w.jobs.put(None)
            if w.current and w.cancel is not None:
                w.cancel.value = w.current  # the running job stops at its next module boundary
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_S * 2)

    # ------------------------------------------------------------ jobs
    def pick(self, key: int) -> Worker:
        """The key's worker, unless it is busy while another is idle (one hot run, e.g. a
        storm of the same preview, must not leave the other workers idle); without a key the
        least busy one. An editor's requests come one after another, so its worker is
        normally free when its next one arrives."""
        idle = min(self.workers, key=lambda w: w.pending)
        if not key:
            return idle
        home = self.workers[key % len(self.workers)]
        return idle if home.pending and not idle.pending else home

    async def run(self, route: str, raw: bytes, rev3: bool, key: int,
                  token: CancelToken) -> Answer:
        if self._closed:
            return shut_down()
        loop = asyncio.get_running_loop()
        job = Job(next(self._ids), route, raw, rev3, token, loop, loop.create_future())
        w = self.pick(key)
        with self._lock:
            w.pending += 1
        w.jobs.put(job)
        return await job.future

    def _feed(self, w: Worker) -> None:
        """The worker's feeder thread: one job at a time down its pipe."""
        while True:
            job = w.jobs.get()
            if job is None:
                self._stop(w)
                return
            try:
                result = self._exchange(w, job)
            except BaseException:  # never leave a request waiting
                log.exception("engine worker %d: job %d failed", w.index, job.job_id)
                result = worker_lost(w.index)
            with self._lock:
                w.pending -= 1
                w.served += 1
            job.answer(result)

    def _exchange(self, w: Worker, job: Job) -> Answer:
        if job.token.is_cancelled():
            return abandoned()
        if self._closed:
            return shut_down()
        if w.conn is None and not self._revive(w):
            return worker_unavailable(w.index)
        assert w.conn is not None
        w.current = job.job_id
        try:
            w.conn.send_bytes(pickle.dumps((job.job_id, job.route, job.raw, job.rev3),
                                           protocol=5))
            while not w.conn.poll(POLL_S):
                if job.token.is_cancelled() and w.cancel.value != job.job_id:
                    w.cancel.value = job.job_id
            job_id, status, headers, body = pickle.loads(w.conn.recv_bytes())
        except (EOFError, OSError):
            w.current = 0
            self._replace(w)
            return worker_lost(w.index)
        w.current = 0
        assert job_id == job.job_id
        return status, headers, body

    def _stop(self, w: Worker) -> None:
        while True:  # answer whatever is still queued
            try:
                job = w.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.answer(shut_down())
        try:
            if w.conn is not None:
                w.conn.send_bytes(pickle.dumps(None))
        except OSError:
            pass
        self._reap(w)

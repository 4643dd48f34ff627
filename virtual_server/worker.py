"""The engine worker process of the virtual server (issue 15 item 5): `serve` is its main.

The event loop's process keeps HTTP, auth, admission, `/health` and the 503s; a worker process
decodes a job's body, runs the engine and encodes the answer (jobs.py), so none of that CPU work
holds the loop's GIL. A worker builds its `VirtualService` (and with it the process-local
workflow, decoded-store and fold caches) once at startup, freezes that heap, lowers its own OS
priority and says `ready`; then it answers jobs one at a time over its pipe.

Messages (pickled): in `(job_id, route, raw_body, rev3)` or `None` to stop; out `("ready",
pid)` once, then `(job_id, status, headers, body)` per job. The loop asks a running job to stop
by writing its id into the worker's shared `cancel` value, which the job's token polls at every
module boundary.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable

from engine import CancelToken, configure_logging, freeze_startup_heap
from virtual_server.jobs import run_job
from virtual_server.service import VirtualService
from virtual_server.settings import VirtualSettings

log = logging.getLogger("virtual_server.worker")
REASON = "client_disconnected"
POLL_S = 0.05


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its service. `objects`, a module-level function (it is
    pickled by name), gives each worker its own `clock`, `ids` and `providers` (any it leaves
    out are the server's defaults): objects given to `create_app` live in the serving process
    and are not sent to the workers."""

    settings: VirtualSettings
    objects: Callable[[], dict[str, Any]] | None = None
    store_kind: str = "fast"


class SharedCancel(CancelToken):
    """A job's token: cancelled once the loop writes this job's id into the shared value."""

    def __init__(self, shared: Any, job_id: int) -> None:
        super().__init__()
        self._shared = shared
        self._job_id = job_id

    def is_cancelled(self) -> bool:
        if not super().is_cancelled() and self._shared.value == self._job_id:
            self.cancel(REASON)
        return super().is_cancelled()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_cancelled():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            super().wait(min(POLL_S, left))
        return True


def build_service(spec: WorkerSpec) -> VirtualService:
    from engine import MonotonicIds, SystemClock

    given = spec.objects() if spec.objects is not None else {}
    providers = given.get("providers")
    if providers is None:
        from providers.provider_set import configured_provider_set

        s = spec.settings
        providers = configured_provider_set(s.provider_urls, s.engine_settings(),
                                            s.media_poll_interval_s)
    return VirtualService(spec.settings, clock=given.get("clock") or SystemClock(),
                          ids=given.get("ids") or MonotonicIds(), providers=providers,
                          store_kind=spec.store_kind)


def lower_priority(nice: int) -> None:
    if nice > 0 and hasattr(os, "nice"):
        try:
            os.nice(nice)
        except OSError as exc:  # a sandbox that forbids it: run at the server's priority
            log.debug("worker priority unchanged: %s", exc)


def serve(conn: Connection, cancel: Any, spec: WorkerSpec) -> None:
    """The worker's main: build, warm, then answer jobs until told to stop or the pipe closes."""
    # a terminal's Ctrl-C reaches the whole process group: the server stops its workers itself
    # (a `None` job, or the pipe closing when the server is gone)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(spec.settings.log_format)
    lower_priority(spec.settings.engine_nice)
    service = build_service(spec)
    freeze_startup_heap()
    conn.send_bytes(pickle.dumps(("ready", os.getpid())))
    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the server went away
        if message is None:
            return
        job_id, route, raw, rev3 = message
        status, headers, body = run_job(service, route, raw, rev3, SharedCancel(cancel, job_id))
        conn.send_bytes(pickle.dumps((job_id, status, headers, body), protocol=5))

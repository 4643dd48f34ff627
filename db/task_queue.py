"""`TaskQueue`: the `task_queue` collection (storage.md §3.1) over the async store adapter.

Every shape comes from db/queries.py. The claim is one `find_one_and_update` on
`{task_id, status: "queued"}`, so when several server processes share a database exactly one of
them can move a task to `processing`; heartbeats, progress and the final write are guarded by
`worker_id`, so a process never overwrites a task it does not own. Payloads never hold keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db import queries as q
from db.production_store import StoreAdapter

Doc = dict[str, Any]
COLLECTION = "task_queue"
MEDIA_ACTOR = "media_sub_action"


def new_task_doc(*, task_id: str, actor: str, concurrency_identifier: str, payload: Doc,
                 now: datetime, priority: int = 0, max_retries: int = 0) -> Doc:
    """A `queued` task document with every field of the storage.md row."""
    return {
        "task_id": task_id, "actor": actor, "status": "queued", "priority": priority,
        "concurrency_identifier": concurrency_identifier, "payload": payload, "result": None,
        "error": None, "progress": None, "created_at": now, "started_at": None,
        "completed_at": None, "worker_id": None, "heartbeat_at": None, "retry_count": 0,
        "max_retries": max_retries,
    }


class TaskQueue:
    """Task documents; call from the event loop that owns the adapter.

    Guarded updates ask for the document *before* the update and re-read it by id: mongomock
    (the embedded backend) returns None for "after" when the update changes a filtered field.
    The match itself is what makes the write exclusive, so the re-read changes nothing.
    """

    def __init__(self, adapter: StoreAdapter) -> None:
        self.adapter = adapter

    async def _guarded(self, flt: Doc, update: Doc, task_id: str) -> Doc | None:
        before = await self.adapter.find_one_and_update(COLLECTION, flt, update,
                                                        return_after=False,
                                                        projection={"task_id": 1})
        if before is None:
            return None
        return await self.get(task_id)

    async def insert(self, doc: Doc) -> None:
        await self.adapter.insert_one(COLLECTION, doc)

    async def get(self, task_id: str) -> Doc | None:
        return await self.adapter.find_one(COLLECTION, q.task_filter(task_id))

    async def claim(self, task_id: str, worker_id: str, now: datetime) -> Doc | None:
        """The claimed document, or None when the task is not (or no longer) queued."""
        flt, update = q.task_claim(task_id, worker_id, now)
        return await self._guarded(flt, update, task_id)

    async def heartbeat(self, task_id: str, worker_id: str, now: datetime,
                        progress: Doc | None = None) -> bool:
        """True while this worker still owns the processing task."""
        flt, update = q.task_heartbeat(task_id, worker_id, now, progress)
        found = await self.adapter.find_one_and_update(COLLECTION, flt, update,
                                                       return_after=False,
                                                       projection={"task_id": 1})
        return found is not None

    async def finish(self, task_id: str, worker_id: str | None, status: str,
                     result: Doc | None, error: Doc | None, now: datetime) -> Doc | None:
        """The final document, or None when this worker no longer owns the task."""
        flt, update = q.task_finish(task_id, worker_id, status, result, error, now)
        return await self._guarded(flt, update, task_id)

    async def list_by_run(self, run_id: str) -> list[Doc]:
        spec = q.tasks_by_run_query(run_id)
        return await self.adapter.find(spec.collection, spec.filter, sort=spec.sort)

    async def find_stale(self, heartbeat_before: datetime) -> list[Doc]:
        spec = q.stale_tasks_query(heartbeat_before)
        return await self.adapter.find(spec.collection, spec.filter, sort=spec.sort)

    async def mark_lost(self, task_id: str, heartbeat_before: datetime,
                        now: datetime) -> Doc | None:
        flt, update = q.task_mark_lost(task_id, heartbeat_before, now)
        return await self._guarded(flt, update, task_id)

    async def lost_to_close(self) -> list[Doc]:
        """Tasks failed as "worker lost" whose open sub-action still needs its end event."""
        spec = q.lost_tasks_to_close_query()
        return await self.adapter.find(spec.collection, spec.filter, sort=spec.sort)

    async def mark_lineage_closed(self, task_id: str) -> bool:
        flt, update = q.task_lineage_closed(task_id)
        found = await self.adapter.find_one_and_update(COLLECTION, flt, update,
                                                       return_after=False,
                                                       projection={"task_id": 1})
        return found is not None

    async def sweep_stale(self, heartbeat_before: datetime, now: datetime) -> list[str]:
        """Fail every processing task whose heartbeat is older than `heartbeat_before`.

        Lost tasks are not re-run: a paid generation is never silently repeated.
        """
        lost: list[str] = []
        for doc in await self.find_stale(heartbeat_before):
            if await self.mark_lost(doc["task_id"], heartbeat_before, now) is not None:
                lost.append(doc["task_id"])
        return lost

"""`PipelineEvaluator` on mongomock: in-memory aggregation for `transform.query` (storage.md §2).

Both servers share one process-wide mongomock client; each call gets a uniquely named throw-away
collection that is always dropped, and a lock serialises calls because mongomock is not
thread-safe. Pipelines arrive already validated (modules.md §4); documents are never mutated.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import mongomock

from db.mongomock_executor import MongomockExecutor
from engine.errors import EngineError, ExecutionFailed

Doc = dict[str, Any]


class MongomockPipelineEvaluator:
    """Implements engine.ports.PipelineEvaluator."""

    _lock = threading.Lock()
    _client: mongomock.MongoClient[Doc] | None = None
    _counter = itertools.count(1)

    @classmethod
    def _executor(cls) -> MongomockExecutor:
        if cls._client is None:
            cls._client = mongomock.MongoClient(tz_aware=False)
        return MongomockExecutor(cls._client["pipeline_eval"])

    def aggregate(self, documents: list[Doc], pipeline: list[Doc]) -> list[Doc]:
        if any(not isinstance(doc, dict) for doc in documents):
            raise ExecutionFailed("Pipeline input must be a list of objects")
        with self._lock:
            executor = self._executor()
            name = f"eval_{next(self._counter)}"
            try:
                if documents:
                    executor.insert_many(name, documents)
                return executor.aggregate(name, pipeline)
            except EngineError:
                raise
            except Exception as exc:
                raise ExecutionFailed(f"Pipeline failed: {exc}") from exc
            finally:
                executor.database.drop_collection(name)

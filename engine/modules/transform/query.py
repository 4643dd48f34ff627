"""`transform.query`: an allow-listed aggregation pipeline over in-memory data (MOD-tq-1)."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.modules.base import (
    ExecutableModule,
    ExecutionContext,
    ModuleExecutionError,
    ModuleInput,
    ModuleOutput,
)
from engine.validation import validate_pipeline

MAX_DOCUMENTS = 10_000


class QueryModule(ExecutableModule):
    module_id: ClassVar[str] = "transform.query"
    inputs = (ModuleInput(name="data", type="array"), ModuleInput(name="pipeline", type="array"))
    outputs = (ModuleOutput(name="result", type="array"),)

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        data, pipeline = inputs["data"], inputs["pipeline"]
        validate_pipeline(pipeline)
        if len(data) > MAX_DOCUMENTS:
            raise ModuleExecutionError(f"transform.query accepts at most {MAX_DOCUMENTS} documents")
        for index, element in enumerate(data):
            if not isinstance(element, dict):
                raise ModuleExecutionError(f"data[{index}] is not an object")
        if not data:
            return {"result": []}
        result = context.pipeline.aggregate(data, pipeline)
        return {"result": [{k: v for k, v in doc.items() if k != "_id"} for doc in result]}

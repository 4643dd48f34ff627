"""schemathesis hooks for tests/e2e/test_schemathesis.py (loaded by `SCHEMATHESIS_HOOKS`).

A schema can say what shape a request has, not which invitation codes exist, which workflow
documents pass validation, which blob holds a run or which JSON schema can be satisfied. For
schema-valid (positive) cases only, these hooks put the test's real values into the fields
that need one, as the access key is supplied for authentication; negative cases go out exactly
as generated. The values come from the JSON file named by `WFE_SCHEMATHESIS_DATA`.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

import schemathesis

PRODUCTION_WORKFLOW_ROUTES = {
    "/workflow/start", "/workflow/start/confirm", "/workflow/{workflow_run_id}/resume",
    "/workflow/{workflow_run_id}/resume/confirm"}
RUN_NAMES = ("workflow_run_id", "virtual_run_id")


@lru_cache(maxsize=1)
def data() -> dict[str, Any]:
    with open(os.environ["WFE_SCHEMATHESIS_DATA"], encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _production_run(case: Any, real: dict[str, Any]) -> None:
    """A real run of the user's and its first interaction behind `{workflow_run_id}` and
    `{interaction_id}`, so the run routes answer from a run rather than 404 (DELETE keeps its
    generated id: the run must outlive the whole test)."""
    params = case.path_parameters
    if not params or case.method.upper() == "DELETE":
        return
    for name, key in (("workflow_run_id", "run_id"), ("interaction_id", "run_interaction_id")):
        if name in params and real.get(key):
            params[name] = real[key]


def _production(path: str, body: dict[str, Any], real: dict[str, Any]) -> None:
    if isinstance(body.get("invitation_code"), str):
        body["invitation_code"] = real["invitation_code"]
    if path in PRODUCTION_WORKFLOW_ROUTES and body.get("workflow_content") is not None:
        body["workflow_content"] = real["workflow"]
    for name, key in (("workflow_run_id", "run_id"), ("interaction_id", "run_interaction_id")):
        if isinstance(body.get(name), str) and real.get(key):
            body[name] = real[key]


def _virtual(body: dict[str, Any], real: dict[str, Any]) -> None:
    """The blob's run, its pending interaction and a target of the real workflow."""
    if isinstance(body.get("workflow"), dict):
        body["workflow"] = real["workflow"]
    if isinstance(body.get("virtual_db"), str):
        body["virtual_db"] = real["virtual_db"]
        for name in RUN_NAMES:
            if body.get(name):
                body[name] = real["virtual_run_id"]
    elif any(body.get(name) for name in RUN_NAMES):  # no blob: a fresh run, no name
        for name in RUN_NAMES:
            body[name] = None
    if "target_step_id" in body:
        body["target_step_id"], body["target_module_name"] = real["target"]
    if isinstance(body.get("interaction_id"), str):
        body["interaction_id"] = real["interaction_id"]
    if isinstance(body.get("schema"), dict):
        body["schema"] = {"type": "string"}


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if not _positive(case):
        return case
    real = data()
    if real["server"] == "production":
        _production_run(case, real)
    body = case.body
    if not isinstance(body, dict):
        return case
    if real["server"] == "production":
        _production(case.operation.path, body, real)
    else:
        _virtual(body, real)
    return case

"""`status_display` of a run (workflow-format.md §14) and run summaries for run listings.

Values are rendered by the engine's sandboxed template environment with the same limits as
every other template (SEC-12), against the run's flat state and the current step's display
name. A value that fails is dropped and logged; so is one that renders empty or `"None"`.
Mock runs get a leading `Mode: mock` field so a run started on the development default is
clearly marked wherever the status is shown.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.clock import iso_z
from engine.context import EngineContext
from engine.errors import ExecutionError, NotFound
from engine.loading import load_session
from engine.progress import build_progress, run_status
from engine.templating import TemplateEngine
from engine.wire_web import DisplayField, RunSummary, TokenTotals

log = logging.getLogger("engine")
MOCK_FIELD = DisplayField(id="_mode", label="Mode",
                          value="mock (canned outputs, no provider calls)")


def display_fields(templates: TemplateEngine, workflow: dict[str, Any], state: dict[str, Any],
                   current_step_name: str | None) -> tuple[list[DisplayField], list[list[str]]]:
    config = workflow.get("status_display")
    if not isinstance(config, dict):
        return [], []
    context = {"state": state, "current_step_name": current_step_name or ""}
    fields: list[DisplayField] = []
    for field in config.get("fields") or []:
        if not isinstance(field, dict) or not isinstance(field.get("value"), str):
            continue
        field_id = str(field.get("id") or "")
        try:
            value = templates.render(field["value"], context, "status_display." + field_id)
        except ExecutionError as exc:
            log.info("status_display field %r dropped: %s", field_id, exc.message)
            continue
        value = value.strip()
        if value and value != "None":
            fields.append(DisplayField(id=field_id, label=str(field.get("label") or field_id),
                                       value=value))
    layout = config.get("layout")
    rows = [[str(c) for c in row] for row in layout if isinstance(row, list)] \
        if isinstance(layout, list) else []
    return fields, rows


def token_totals(records: list[dict[str, Any]]) -> TokenTotals:
    totals = TokenTotals()
    for record in records:
        for usage in record.get("usage") or []:
            totals.calls += 1
            totals.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            totals.completion_tokens += int(usage.get("completion_tokens") or 0)
            totals.cached_tokens += int(usage.get("cached_tokens") or 0)
            totals.total_cost += float(usage.get("total_cost") or 0.0)
    totals.total_cost = round(totals.total_cost, 6)
    return totals


def plain_tokens(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Token documents as JSON (datetimes as WIRE-2 strings, no `_id`)."""
    return [{k: (iso_z(v) if k == "timestamp" else v) for k, v in r.items() if k != "_id"}
            for r in records]


def run_summary(ctx: EngineContext, user_id: str, run_id: str,
                with_tokens: bool = False) -> RunSummary:
    """A run's listing row: projection fields, rendered `status_display`, token totals."""
    s = load_session(ctx, user_id, run_id)
    run = s.run
    progress = build_progress(s.index, s.cursor)
    fields, layout = display_fields(ctx.templates, s.index.workflow, dict(s.state),
                                    progress.current_step_name)
    if run.get("mock"):
        fields.insert(0, MOCK_FIELD)
    records = ctx.store.list_token_usage(run_id)
    return RunSummary(
        workflow_run_id=run_id, project_name=str(run.get("project_name") or ""),
        workflow_template_name=str(run.get("workflow_template_name") or ""),
        workflow_template_id=run.get("workflow_template_id"),
        status=run_status(s.cursor),  # type: ignore[arg-type]
        mock=bool(run.get("mock")), current_step=progress.current_step,
        current_step_name=progress.current_step_name, current_module=progress.current_module,
        completed_steps=list(progress.completed_steps), created_at=iso_z(run.get("created_at")),
        updated_at=iso_z(run.get("updated_at")), completed_at=iso_z(run.get("completed_at")),
        current_workflow_version_id=run.get("current_workflow_version_id"),
        display_fields=fields, layout=layout, token_totals=token_totals(records),
        tokens=plain_tokens(records) if with_tokens else [])


def run_summaries(ctx: EngineContext, user_id: str, run_ids: list[str]) -> list[RunSummary]:
    """Summaries of a page of runs in one pool operation (a run deleted meanwhile is left out)."""
    out: list[RunSummary] = []
    for run_id in run_ids:
        try:
            out.append(run_summary(ctx, user_id, run_id))
        except NotFound:
            continue
    return out

"""Engine operations behind the web UI's extra production routes (issue 10).

A mixin of `WorkflowEngine`, so the engine stays the one entry point both servers call while
`engine/processor.py` stays small; each method delegates to the module that holds the logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound
from engine.execution import ExecOptions
from engine.wire import WorkflowResponse
from engine.wire_web import CloneVersionResponse, PublishGlobalResponse, RunSummary

if TYPE_CHECKING:
    from engine.processor import WorkflowEngine


class WebOperations:
    def resume_with_content(self: "WorkflowEngine", user_id: str, run_id: str,
                            workflow: dict[str, Any], source_type: str, capabilities: list[str],
                            confirm: bool, opts: ExecOptions | None = None) -> WorkflowResponse:
        """Resume with new content: ask when it differs, or switch and continue (§15.2)."""
        from engine.resume_update import resume_with_content

        return resume_with_content(self, user_id, run_id, workflow, source_type, capabilities,
                                   confirm, opts or ExecOptions())

    def run_summary(self: "WorkflowEngine", user_id: str, run_id: str,
                    with_tokens: bool = False) -> RunSummary:
        """Projection, rendered `status_display` and token totals of one run."""
        from engine.status_display import run_summary

        return run_summary(self, user_id, run_id, with_tokens)

    def run_summaries(self: "WorkflowEngine", user_id: str,
                      run_ids: list[str]) -> list[RunSummary]:
        """Summaries of a page of runs in one pool operation (a run deleted meanwhile is left
        out)."""
        out: list[RunSummary] = []
        for run_id in run_ids:
            try:
                out.append(self.run_summary(user_id, run_id))
            except NotFound:
                continue
        return out

    def publish_global(self: "WorkflowEngine", admin_id: str,
                       source_version_id: str) -> PublishGlobalResponse:
        from engine.global_templates import publish_global

        return publish_global(self, admin_id, source_version_id)

    def clone_global_version(self: "WorkflowEngine", user_id: str, template_id: str,
                             version_id: str) -> CloneVersionResponse:
        from engine.global_templates import clone_global_version

        return clone_global_version(self, user_id, template_id, version_id)

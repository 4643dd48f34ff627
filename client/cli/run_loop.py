"""The `wfe run` loop: run forward with a live progress display, answer, repeat.

Answers come from the answers file when it has one for the module, else from the terminal
(when there is one); a run with neither stops with a message naming the module. A scripted
answer the module rejects (`validation_failed`) stops the run too: re-sending it would loop.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.status import Status

from client.cli import ask
from client.cli.answers import Answer, Answers, AnswersError
from client.cli.local_run import LocalRun
from engine import InteractionRequest, ProgressEvent, SubActionEvent, WorkflowResponse


class RunStopped(Exception):
    """The run cannot go on without an answer the command line does not have."""


class RunLoop:
    def __init__(self, console: Console, answers: Answers | None, *,
                 interactive: bool | None = None, files_dir: Path | None = None) -> None:
        self.console = console
        self.answers = answers
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.files_dir = files_dir
        self.last_result: dict[str, Any] | None = None
        self._status: Status | None = None
        self.run: LocalRun | None = None

    # ------------------------------------------------------------------ progress display

    def on_progress(self, event: ProgressEvent) -> None:
        where = f"{event.step_id}/{event.module_name}"
        if event.kind == "module_started":
            self.console.print(f"[dim]▸[/] {where}", highlight=False)
        if self._status is not None and event.kind in ("module_started", "tick"):
            self._status.update(f"{where} [dim]{event.elapsed_ms / 1000:.1f} s {event.message}[/]")

    def _on_sub_action(self, event: SubActionEvent) -> None:
        text = event.message or (event.progress or {}).get("message") or event.status or ""
        self.console.print(f"  [dim]· {text}[/]", highlight=False)

    def _live(self, call: Callable[[], Any]) -> Any:
        with self.console.status("running…") as status:
            self._status = status
            try:
                return call()
            finally:
                self._status = None

    # ------------------------------------------------------------------ the loop

    def drive(self, run: LocalRun) -> WorkflowResponse:
        self.run = run
        response: WorkflowResponse = self._live(run.start)
        scripted: Answer | None = None
        while response.status in ("awaiting_input", "validation_failed"):
            request = run.pending()
            if request is None:
                break
            if response.status == "validation_failed":
                self._show_validation(response)
                if scripted is not None or not self.interactive:
                    raise RunStopped(f"the answer for {self._where(request)} was rejected")
            scripted = self._scripted(request)
            if scripted is not None and self.files_dir is not None and \
                    request.interaction_type == "file_download":
                scripted = ask.ask_file_download(self.console, request, self.files_dir)
            answer = scripted or self._ask(request)
            for sub in answer.sub_actions:
                self._run_sub(request, str(sub.get("id")), dict(sub.get("params") or {}))
            request = run.pending() or request  # a sub-action may have refreshed it
            try:
                reply = answer.response(self.last_result)
            except AnswersError as exc:
                raise RunStopped(str(exc)) from None
            response = self._live(  # called within this iteration
                lambda: run.respond(request.interaction_id, reply))  # noqa: B023
        return response

    @staticmethod
    def _where(request: InteractionRequest) -> str:
        return f"{request.context.get('step_id')}/{request.context.get('module_name')}"

    def _scripted(self, request: InteractionRequest) -> Answer | None:
        if self.answers is None:
            return None
        try:
            return self.answers.next_for(str(request.context.get("step_id")),
                                         str(request.context.get("module_name")))
        except AnswersError as exc:
            if self.interactive:
                return None
            raise RunStopped(str(exc)) from None

    def _show_validation(self, response: WorkflowResponse) -> None:
        for item in [*response.validation_errors, *response.validation_warnings]:
            self.console.print(f"[red]✗ {item.message or item.id}[/] ({item.field or item.rule})")

    def _run_sub(self, request: InteractionRequest, sub_action_id: str,
                 params: dict[str, Any]) -> dict[str, Any] | None:
        assert self.run is not None
        run = self.run
        self.console.print(f"[dim]▸[/] sub-action {sub_action_id}", highlight=False)
        outcome = self._live(lambda: run.sub_action(request.interaction_id, sub_action_id, params,
                                                    self._on_sub_action))
        if outcome.status != "completed":
            raise RunStopped(f"sub-action {sub_action_id} ended {outcome.status}: "
                             f"{outcome.error_type or ''} {outcome.message or ''}".strip())
        result = outcome.sub_action_result
        self.last_result = result if isinstance(result, dict) else None
        return self.last_result

    def _ask(self, request: InteractionRequest) -> Answer:
        if not self.interactive:
            raise RunStopped(f"{self._where(request)} asks for input ({request.interaction_type}) "
                             "and there is no terminal: pass --answers FILE")
        c = self.console
        c.rule(f"[bold]{request.title or self._where(request)}[/]")
        kind = request.interaction_type
        if kind in ("select_from_structured", "review_grouped"):
            return ask.ask_select(c, request)
        if kind == "form_input":
            return ask.ask_form(c, request)
        if kind == "file_download":
            return ask.ask_file_download(c, request, self.files_dir)
        if kind == "file_input":
            return ask.ask_file_input(c, request)
        if kind == "media_generation":
            return ask.ask_media(c, request, lambda sid, p: self._run_sub(request, sid, p))
        return ask.ask_text(c, request)

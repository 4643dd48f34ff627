"""`ProductionClient`: the production server (port 9000) as a user of it.

It logs in (password, access key or a token), starts runs from a folder, a zip or a dict,
answers, streams, reads state and events and cancels. The run last started or named is
remembered (`run_id`), so most calls need no id:

    async with ProductionClient.connect("https://staging.example") as pc:
        await pc.login("ci-bot", password)            # or ProductionClient(..., access_key=)
        await pc.start("workflows/cuddle_crew", project_name="ci", mock=True)
        await pc.respond(choose_id("cat"))
        async with pc.stream_respond(choose_id("playful")) as frames:
            async for frame in frames: ...
        events = await pc.events()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from client.answer_core import Answer, as_response
from client.answer_core import same_interaction as _same
from client.errors import ClientError
from client.production_auth import SessionClient
from client.sse import Frame, FrameStream
from client.uploads import upload_content
from engine import (
    EventsView,
    GenerationsView,
    InteractionHistoryView,
    InteractionRequest,
    InteractionResponseData,
    JumpRequest,
    JumpToInteractionRequest,
    RespondRequest,
    ResumeRequest,
    RetryRequest,
    RunStatusView,
    StartWorkflowRequest,
    StateView,
    StreamRespondRequest,
    SubActionComplete,
    SubActionRequest,
    WorkflowResponse,
)

AnswerLike = Answer | InteractionResponseData | dict[str, Any]
WorkflowSource = dict[str, Any] | str | Path


class ProductionClient(SessionClient):
    """Runs of one user on a production server; see the module docstring."""

    def __init__(self, http: Any, *, token: str | None = None, access_key: str | None = None,
                 ai_config: dict[str, Any] | None = None) -> None:
        super().__init__(http, token=token)
        self.access_key = access_key
        self.ai_config = ai_config
        self.refresh_token: str | None = None
        self.run_id: str | None = None
        self.last: WorkflowResponse | None = None
        self.generated: dict[str, list[dict[str, Any]]] = {}

    # ---------------------------------------------------------------- the current run

    @property
    def pending(self) -> InteractionRequest | None:
        if self.last is not None and self.last.status == "awaiting_input":
            return self.last.interaction_request
        return None

    def _run(self, run_id: str | None) -> str:
        run = run_id or self.run_id
        if run is None:
            raise ClientError("no run: start one or pass run_id=")
        return run

    def _took(self, response: WorkflowResponse) -> WorkflowResponse:
        self.last = response
        self.run_id = response.workflow_run_id or self.run_id
        return response

    def _answer(self, answer: AnswerLike, interaction_id: str | None
                ) -> tuple[str, InteractionResponseData]:
        pending = self.pending
        interaction = interaction_id or (pending.interaction_id if pending else None)
        if interaction is None:
            raise ClientError("no pending interaction to respond to")
        return interaction, as_response(answer, _same(pending, interaction),
                                        self.generated.get(interaction, []))

    # ---------------------------------------------------------------- executing routes

    async def start(self, workflow: WorkflowSource, *, project_name: str,
                    entry_point: str | None = None, mock: bool | None = None,
                    force_new: bool = False, confirm: bool = False,
                    capabilities: list[str] | None = None,
                    ai_config: dict[str, Any] | None = None) -> WorkflowResponse:
        """`POST /workflow/start` (or `/start/confirm`) from a folder (sent as a zip), a `.zip`
        file or a resolved dict; `mock=None` leaves the choice to the server."""
        content, entry = upload_content(workflow, entry_point)
        body = StartWorkflowRequest(
            project_name=project_name, workflow_content=content, workflow_entry_point=entry,
            force_new=force_new, capabilities=list(capabilities or []), mock=mock,
            ai_config=ai_config if ai_config is not None else self.ai_config)
        path = "/workflow/start/confirm" if confirm else "/workflow/start"
        self.generated = {}
        return self._took(await self.call("POST", path, body, into=WorkflowResponse))

    async def respond(self, answer: AnswerLike, *, interaction_id: str | None = None,
                      run_id: str | None = None) -> WorkflowResponse:
        """`POST /workflow/respond` to the pending interaction (or `interaction_id`)."""
        interaction, response = self._answer(answer, interaction_id)
        body = RespondRequest(workflow_run_id=self._run(run_id), interaction_id=interaction,
                              response=response, ai_config=self.ai_config)
        return self._took(await self.call("POST", "/workflow/respond", body,
                                          into=WorkflowResponse))

    async def retry(self, target_module: str, feedback: str | None = None, *,
                    run_id: str | None = None) -> WorkflowResponse:
        body = RetryRequest(workflow_run_id=self._run(run_id), target_module=target_module,
                            feedback=feedback, ai_config=self.ai_config)
        return self._took(await self.call("POST", "/workflow/retry", body, into=WorkflowResponse))

    async def jump(self, target_step_id: str, target_module_name: str, *,
                   run_id: str | None = None) -> WorkflowResponse:
        body = JumpRequest(workflow_run_id=self._run(run_id), target_step_id=target_step_id,
                           target_module_name=target_module_name, ai_config=self.ai_config)
        return self._took(await self.call("POST", "/workflow/jump", body, into=WorkflowResponse))

    async def jump_to_interaction(self, interaction_id: str, *,
                                  run_id: str | None = None) -> WorkflowResponse:
        body = JumpToInteractionRequest(workflow_run_id=self._run(run_id),
                                        interaction_id=interaction_id, ai_config=self.ai_config)
        return self._took(await self.call("POST", "/workflow/jump-to-interaction", body,
                                          into=WorkflowResponse))

    async def resume(self, workflow: WorkflowSource | None = None, *,
                     entry_point: str | None = None, confirm: bool = False,
                     run_id: str | None = None) -> WorkflowResponse:
        """`POST /workflow/{id}/resume`: where the run stands (it does not execute); with a
        `workflow` (folder, zip or dict) the run continues on that new content
        (`confirm=True`: `/resume/confirm`, when the server asked to confirm a change)."""
        run = self._run(run_id)
        body = ResumeRequest(ai_config=self.ai_config)
        if workflow is not None:
            body.workflow_content, body.workflow_entry_point = upload_content(workflow,
                                                                              entry_point)
        path = f"/workflow/{run}/resume/confirm" if confirm else f"/workflow/{run}/resume"
        return self._took(await self.call("POST", path, body, into=WorkflowResponse))

    async def cancel(self, *, run_id: str | None = None) -> dict[str, Any]:
        """`POST /workflow/{id}/cancel`: stop what the run is executing (its stream ends
        with `cancelled`); `cancelled` in the answer counts the executions stopped."""
        return await self.call("POST", f"/workflow/{self._run(run_id)}/cancel",
                               into=dict[str, Any])

    async def delete(self, *, run_id: str | None = None) -> dict[str, Any]:
        return await self.call("DELETE", f"/workflow/{self._run(run_id)}", into=dict[str, Any])

    # ---------------------------------------------------------------- streams

    def stream(self, *, run_id: str | None = None) -> FrameStream:
        """`GET /workflow/{id}/stream`: run the run on (or report where it waits) as frames."""
        run = self._run(run_id)
        return self.open_stream("GET", f"/workflow/{run}/stream", None, "run", self._run_frame)

    def stream_respond(self, answer: AnswerLike, *, interaction_id: str | None = None,
                       run_id: str | None = None) -> FrameStream:
        """`POST /workflow/{id}/stream/respond`: answer and follow the execution."""
        interaction, response = self._answer(answer, interaction_id)
        run = self._run(run_id)
        body = StreamRespondRequest(interaction_id=interaction, response=response,
                                    ai_config=self.ai_config)
        return self.open_stream("POST", f"/workflow/{run}/stream/respond", body, "run",
                              self._run_frame)

    def _run_frame(self, frame: Frame) -> None:
        if isinstance(frame.data, WorkflowResponse):
            self._took(frame.data)

    def sub_action(self, sub_action_id: str, params: dict[str, Any] | None = None, *,
                   interaction_id: str | None = None, run_id: str | None = None) -> FrameStream:
        """`POST /workflow/{id}/sub-action` as frames; a media result is remembered for
        `pick_media`."""
        pending = self.pending
        interaction = interaction_id or (pending.interaction_id if pending else None)
        if interaction is None:
            raise ClientError("no pending interaction for a sub-action")
        body = SubActionRequest(interaction_id=interaction, sub_action_id=sub_action_id,
                                params=dict(params or {}), ai_config=self.ai_config)

        def remember(frame: Frame) -> None:
            result = frame.data.sub_action_result if isinstance(frame.data, SubActionComplete) \
                else None
            if isinstance(result, dict) and result.get("content_ids"):
                self.generated.setdefault(interaction, []).append(result)

        return self.open_stream("POST", f"/workflow/{self._run(run_id)}/sub-action", body,
                              "sub_action", remember)

    async def run_sub_action(self, sub_action_id: str, params: dict[str, Any] | None = None,
                             **kwargs: Any) -> Frame:
        """Run a sub-action to its end and return the terminal frame."""
        return await self.sub_action(sub_action_id, params, **kwargs).result()

    # ---------------------------------------------------------------- reads

    async def state(self, *, run_id: str | None = None) -> StateView:
        return await self.call("GET", f"/workflow/{self._run(run_id)}/state", into=StateView)

    async def status(self, *, run_id: str | None = None) -> RunStatusView:
        return await self.call("GET", f"/workflow/{self._run(run_id)}/status", into=RunStatusView)

    async def events(self, *, run_id: str | None = None,
                     scope: Literal["lineage", "all"] = "lineage",
                     event_type: str | None = None, module_name: str | None = None,
                     after_sequence: int | None = None, limit: int = 5000) -> EventsView:
        params = {k: v for k, v in {"scope": scope, "event_type": event_type,
                                    "module_name": module_name, "after_sequence": after_sequence,
                                    "limit": limit}.items() if v is not None}
        return await self.call("GET", f"/workflow/{self._run(run_id)}/events", params=params,
                               into=EventsView)

    async def history(self, *, run_id: str | None = None) -> InteractionHistoryView:
        return await self.call("GET", f"/workflow/{self._run(run_id)}/interaction-history",
                               into=InteractionHistoryView)

    async def generations(self, content_type: Literal["image", "video", "audio"], *,
                          interaction_id: str | None = None,
                          run_id: str | None = None) -> GenerationsView:
        pending = self.pending
        interaction = interaction_id or (pending.interaction_id if pending else None)
        if interaction is None:
            raise ClientError("generations of which interaction? pass interaction_id=")
        return await self.call(
            "GET", f"/workflow/{self._run(run_id)}/interaction/{interaction}/generations",
            params={"content_type": content_type}, into=GenerationsView)

    async def active_runs(self, *, include_mock: bool = True) -> list[dict[str, Any]]:
        body = await self.call("GET", "/workflows/active",
                               params={"include_mock": str(include_mock).lower()},
                               into=dict[str, Any])
        return list(body.get("workflows") or [])


__all__ = ["AnswerLike", "ProductionClient", "WorkflowSource"]

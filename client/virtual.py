"""`VirtualClient`: the virtual server (port 9001) with the blob and the run carried for you.

The virtual server keeps nothing between requests: every call sends the workflow and the whole
run as `virtual_db`, and every answer returns the new blob. The client keeps the latest blob,
the run id, the target and the last response, so a test reads like a conversation:

    async with VirtualClient.connect("http://localhost:9001", token=token,
                                     workflow="workflows/cuddle_crew") as vc:
        await vc.start()                      # to the workflow's last module
        await vc.respond(choose_id("cat"))
        frame = await vc.run_sub_action("image_generation", params)
        view = await vc.state()

A request error (4xx) leaves the blob as it was (the server wrote nothing); an execution error
(`status: "error"`, HTTP 200) returns a blob, which is kept like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from client.answer_core import Answer, as_response
from client.answer_core import same_interaction as _same
from client.base import BaseClient
from client.errors import ClientError
from client.sse import Frame, FrameStream
from client.uploads import last_module, resolved_workflow
from engine import (
    EventsView,
    GenerationsView,
    InteractionHistoryView,
    InteractionRequest,
    InteractionResponseData,
    MediaActionType,
    MediaPreviewRequest,
    MediaProviderName,
    MockDataRequest,
    PreviewInfo,
    StateView,
    SubActionComplete,
    SubActionError,
    Target,
    VirtualEventsRequest,
    VirtualGenerationsRequest,
    VirtualReadRequest,
    VirtualRespondRequest,
    VirtualResumeConfirmRequest,
    VirtualStartRequest,
    VirtualSubActionRequest,
    VirtualWorkflowResponse,
)

AnswerLike = Answer | InteractionResponseData | dict[str, Any]


class VirtualClient(BaseClient):
    """A preview run on the virtual server; see the module docstring."""

    def __init__(self, http: Any, *, token: str | None = None,
                 workflow: dict[str, Any] | str | Path | None = None,
                 entry_point: str | None = None, mock: bool = True,
                 ai_config: dict[str, Any] | None = None) -> None:
        super().__init__(http, token=token)
        self.workflow: dict[str, Any] | None = None
        self.target: Target | None = None
        self.mock = mock
        self.ai_config = ai_config
        self.virtual_db: str | None = None
        self.run_id: str | None = None
        self.last: VirtualWorkflowResponse | None = None
        self.generated: dict[str, list[dict[str, Any]]] = {}
        if workflow is not None:
            self.use_workflow(workflow, entry_point)

    # ---------------------------------------------------------------- the run carried along

    def use_workflow(self, workflow: dict[str, Any] | str | Path,
                     entry_point: str | None = None) -> dict[str, Any]:
        """Send this workflow from now on (a folder is resolved by the engine's loader); the
        target becomes its last module unless one was set."""
        self.workflow = resolved_workflow(workflow, entry_point)
        if self.target is None:
            step_id, module = last_module(self.workflow)
            self.target = Target(step_id=step_id, module_name=module)
        return self.workflow

    def forget(self) -> None:
        """Drop the blob and the run: the next `start` begins a new run."""
        self.virtual_db = self.run_id = self.last = None
        self.generated = {}

    @property
    def pending(self) -> InteractionRequest | None:
        """The interaction the run waits for, if the last response says so."""
        if self.last is not None and self.last.status == "awaiting_input":
            return self.last.interaction_request
        return None

    def _workflow(self) -> dict[str, Any]:
        if self.workflow is None:
            raise ClientError("no workflow: pass workflow= or call use_workflow()")
        return self.workflow

    def _target(self, step_id: str | None, module_name: str | None) -> Target:
        if step_id is not None or module_name is not None:
            if step_id is None or module_name is None:
                raise ClientError("give both target_step_id and target_module_name")
            self.target = Target(step_id=step_id, module_name=module_name)
        self._workflow()
        assert self.target is not None
        return self.target

    def _blob(self) -> str:
        if self.virtual_db is None:
            raise ClientError("no run yet: call start() first")
        return self.virtual_db

    def _took(self, response: VirtualWorkflowResponse) -> VirtualWorkflowResponse:
        self.last = response
        if response.virtual_db is not None:
            self.virtual_db = response.virtual_db
        self.run_id = response.workflow_run_id or self.run_id
        return response

    def _common(self, mock: bool | None, ai_config: dict[str, Any] | None) -> dict[str, Any]:
        return {"mock": self.mock if mock is None else mock,
                "ai_config": ai_config if ai_config is not None else self.ai_config}

    # ---------------------------------------------------------------- executing routes

    async def start(self, target_step_id: str | None = None,
                    target_module_name: str | None = None, *, fresh: bool = False,
                    auto_respond: Any = False, capabilities: list[str] | None = None,
                    mock: bool | None = None,
                    ai_config: dict[str, Any] | None = None) -> VirtualWorkflowResponse:
        """`POST /workflow/start` toward the target (default: the last one, else the
        workflow's last module); with a blob this moves the existing run (`fresh=True` starts
        over)."""
        if fresh:
            self.forget()
        target = self._target(target_step_id, target_module_name)
        body = VirtualStartRequest(
            workflow=self._workflow(), target_step_id=target.step_id,
            target_module_name=target.module_name, virtual_db=self.virtual_db,
            workflow_run_id=self.run_id if self.virtual_db else None, auto_respond=auto_respond,
            capabilities=list(capabilities or []), **self._common(mock, ai_config))
        return self._took(await self.call("POST", "/workflow/start", body,
                                          into=VirtualWorkflowResponse))

    async def resume(self, target_step_id: str | None = None,
                     target_module_name: str | None = None, *, auto_respond: Any = False,
                     mock: bool | None = None,
                     ai_config: dict[str, Any] | None = None) -> VirtualWorkflowResponse:
        """`POST /workflow/resume/confirm`: continue the run with the (possibly edited)
        workflow, stored as a new version, to the target."""
        target = self._target(target_step_id, target_module_name)
        body = VirtualResumeConfirmRequest(
            workflow=self._workflow(), target_step_id=target.step_id,
            target_module_name=target.module_name, virtual_db=self._blob(),
            workflow_run_id=self.run_id, auto_respond=auto_respond,
            **self._common(mock, ai_config))
        return self._took(await self.call("POST", "/workflow/resume/confirm", body,
                                          into=VirtualWorkflowResponse))

    async def respond(self, answer: AnswerLike, *, interaction_id: str | None = None,
                      auto_respond: Any = False, mock: bool | None = None,
                      ai_config: dict[str, Any] | None = None) -> VirtualWorkflowResponse:
        """`POST /workflow/respond` to the pending interaction (or `interaction_id`)."""
        pending = self.pending
        interaction = interaction_id or (pending.interaction_id if pending else None)
        if interaction is None:
            raise ClientError("no pending interaction to respond to")
        response = as_response(answer, _same(pending, interaction),
                               self.generated.get(interaction, []))
        target = self._target(None, None)
        body = VirtualRespondRequest(
            workflow=self._workflow(), virtual_db=self._blob(), workflow_run_id=self.run_id,
            target_step_id=target.step_id, target_module_name=target.module_name,
            interaction_id=interaction, response=response, auto_respond=auto_respond,
            **self._common(mock, ai_config))
        return self._took(await self.call("POST", "/workflow/respond", body,
                                          into=VirtualWorkflowResponse))

    def sub_action(self, sub_action_id: str, params: dict[str, Any] | None = None, *,
                   interaction_id: str | None = None, with_workflow: bool = False,
                   mock: bool | None = None, ai_config: dict[str, Any] | None = None
                   ) -> FrameStream:
        """`POST /workflow/sub-action` as a stream of frames (progress…, one terminal).

        The terminal frame's blob replaces the client's; a media result is remembered for
        `pick_media`. `with_workflow=True` also sends the current workflow (an edited one is
        stored as a new version first)."""
        pending = self.pending
        interaction = interaction_id or (pending.interaction_id if pending else None)
        if interaction is None:
            raise ClientError("no pending interaction for a sub-action")
        body = VirtualSubActionRequest(
            virtual_db=self._blob(), workflow_run_id=self.run_id, interaction_id=interaction,
            sub_action_id=sub_action_id, params=dict(params or {}),
            workflow=self._workflow() if with_workflow else None, **self._common(mock, ai_config))
        return self.open_stream("POST", "/workflow/sub-action", body, "sub_action",
                           lambda frame: self._sub_action_frame(interaction, frame))

    def _sub_action_frame(self, interaction_id: str, frame: Frame) -> None:
        data = frame.data
        if isinstance(data, (SubActionComplete, SubActionError)) and data.virtual_db:
            self.virtual_db = data.virtual_db
        if isinstance(data, SubActionComplete) and isinstance(data.sub_action_result, dict) \
                and data.sub_action_result.get("content_ids"):
            self.generated.setdefault(interaction_id, []).append(data.sub_action_result)

    async def run_sub_action(self, sub_action_id: str, params: dict[str, Any] | None = None,
                             **kwargs: Any) -> Frame:
        """Run a sub-action to its end and return the terminal frame."""
        return await self.sub_action(sub_action_id, params, **kwargs).result()

    # ---------------------------------------------------------------- reads

    def _ref(self) -> dict[str, Any]:
        return {"virtual_db": self._blob(), "workflow_run_id": self.run_id}

    async def state(self) -> StateView:
        return await self.call("POST", "/workflow/state", VirtualReadRequest(**self._ref()),
                               into=StateView)

    async def history(self) -> InteractionHistoryView:
        return await self.call("POST", "/workflow/interaction-history",
                               VirtualReadRequest(**self._ref()), into=InteractionHistoryView)

    async def generations(self, content_type: Literal["image", "video", "audio"], *,
                          interaction_id: str | None = None) -> GenerationsView:
        pending = self.pending
        interaction = interaction_id or (pending.interaction_id if pending else None)
        if interaction is None:
            raise ClientError("generations of which interaction? pass interaction_id=")
        body = VirtualGenerationsRequest(**self._ref(), interaction_id=interaction,
                                         content_type=content_type)
        return await self.call("POST", "/workflow/generations", body, into=GenerationsView)

    async def events(self, *, scope: Literal["lineage", "all"] = "lineage",
                     event_type: str | None = None, module_name: str | None = None,
                     after_sequence: int | None = None, limit: int = 5000) -> EventsView:
        body = VirtualEventsRequest(**self._ref(), scope=scope, event_type=event_type,
                                    module_name=module_name, after_sequence=after_sequence,
                                    limit=limit)
        return await self.call("POST", "/workflow/events", body, into=EventsView)

    async def mock_data(self, schema: dict[str, Any] | None = None, *,
                        interaction_request: InteractionRequest | None = None, count: int = 1,
                        context: str | None = None, seed: int | None = 0,
                        mode: Literal["generated", "llm"] = "generated") -> dict[str, Any]:
        """`POST /workflow/mock-data`: `{data, warnings}` for a schema, `{response}` for an
        interaction request (no blob involved)."""
        body = MockDataRequest(schema=schema, interaction_request=interaction_request,
                               count=count, context=context, seed=seed, mode=mode)
        return await self.call("POST", "/workflow/mock-data", body, into=dict[str, Any])

    async def media_preview(self, provider: MediaProviderName, action_type: MediaActionType,
                            params: dict[str, Any] | None = None, *,
                            mock: bool = True) -> PreviewInfo:
        body = MediaPreviewRequest(provider=provider, action_type=action_type,
                                   params=dict(params or {}), mock=mock)
        return await self.call("POST", "/workflow/media/preview", body, into=PreviewInfo)


__all__ = ["AnswerLike", "VirtualClient"]

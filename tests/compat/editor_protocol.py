"""The reference editor's virtual runtime replayed in Python, over real HTTP (issue 9).

The editor of `SachiraChin/workflowmanager-showcase` (`ui/editor/src/runtime/`) is the client of
the virtual server. This module re-states, in our own Python, what its files do on the wire, so
tests can drive a live server the way the browser would:

- `post_json` is `virtual-api.ts` `postJson` (and `virtualApiClient.ts` `request`): a `fetch`
  with `credentials: "include"` (the `access_token` cookie, never a header), `Content-Type:
  application/json`, from the editor's origin; a non-2xx answer throws, and so does a response
  a browser would block for lack of CORS headers.
- `EditorRuntime` is `VirtualRuntime.ts`: `runToModule` (reset / cached / forward),
  `runToModuleForState`, `submitResponse`, `reloadWithMockMode`, `processExecutionResponse`
  (prerequisites answered from selections, then from `auto-select.ts`), `fetchStateAndHistory`.
- `auto_select` (editor_logic.py) is `auto-select.ts` `buildAutoSelectionResponse`.
- `VirtualApiClient` is `virtualApiClient.ts`: `getInteractionGenerations`, `getMediaPreview`,
  `streamSubAction` (its line-by-line SSE parser and the `complete` → `onVirtualDbUpdate` hook).
- `state_groups` (editor_logic.py) is `StatePanel.tsx` `transformStateForDisplay` +
  `buildStateGroups`.

Every field those files read is checked where they read it (`check_*`), so a missing or
mistyped field fails the test at the call that would have broken the editor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from tests.compat.editor_logic import auto_select, module_list

EDITOR_ORIGIN = "http://localhost:5173"
STATUSES = {"created", "processing", "awaiting_input", "target_reached", "completed", "error",
            "validation_failed"}
Json = dict[str, Any]


class EditorError(Exception):
    """What the editor's `fetch` wrappers throw (the runtime turns it into `status: "error"`)."""


class BlockedByBrowser(EditorError):
    """A cross-origin response without the CORS headers a credentialed fetch needs."""


@dataclass
class Call:
    path: str
    body: Json
    status: int


@dataclass
class Wire:
    """One browser tab's view of the virtual server: base URL, cookie jar, origin, call log."""

    http: httpx.AsyncClient
    origin: str = EDITOR_ORIGIN
    calls: list[Call] = field(default_factory=list)

    def check_cors(self, response: httpx.Response) -> None:
        if response.headers.get("access-control-allow-origin") != self.origin or \
                response.headers.get("access-control-allow-credentials") != "true":
            raise BlockedByBrowser(f"CORS blocked {response.request.url.path}")

    async def post(self, path: str, body: Json) -> httpx.Response:
        # JSON.stringify drops `undefined` members: callers leave such keys out of `body`
        response = await self.http.post(path, content=json.dumps(body),
                                        headers={"Content-Type": "application/json",
                                                 "Origin": self.origin})
        self.calls.append(Call(path, body, response.status_code))
        self.check_cors(response)
        return response

    async def post_json(self, path: str, body: Json) -> Any:
        """virtual-api.ts `postJson`: throws `Virtual API error <status>: <text>` when not ok."""
        response = await self.post(path, body)
        if not response.is_success:
            raise EditorError(f"Virtual API error {response.status_code}: {response.text}")
        return response.json()


# ---------------------------------------------------------------------- what the editor reads


def check_workflow_response(body: Any) -> Json:
    """Fields `VirtualRuntime.ts` and `VirtualRuntimePanel.tsx` read from every response."""
    assert isinstance(body, dict), body
    assert body["status"] in STATUSES, body.get("status")
    assert isinstance(body["virtual_run_id"], str), "virtual_run_id"  # this.virtualRunId = …
    assert body["virtual_db"] is None or isinstance(body["virtual_db"], str)  # this.virtualDb = …
    assert body["state"] is None or isinstance(body["state"], dict)
    if body["status"] == "awaiting_input":  # getInteractionModule + interaction_id on respond
        assert isinstance(body["virtual_db"], str) and body["virtual_run_id"]
        assert isinstance(body["interaction_request"]["interaction_id"], str)
        assert isinstance(body["progress"]["current_step"], str)
        assert isinstance(body["progress"]["current_module"], str)
    if body["status"] == "error":
        assert isinstance(body["error"], str) and body["error"]  # lastError = response.error
    if body["status"] in ("completed", "target_reached"):
        assert isinstance(body["virtual_db"], str) and body["virtual_run_id"]
        shown = {k: v for k, v in body.items() if k not in ("virtual_db", "state")}
        assert "H4sI" not in json.dumps(shown), "the result panel would show the blob"
    return body


def check_state(body: Any) -> Json:
    """types.ts `VirtualStateResponse`, read by StatePanel.tsx and WorkflowEditorPage.tsx."""
    assert isinstance(body["steps"], dict) and isinstance(body["state_mapped"], dict)
    assert isinstance(body["files"], list)
    return body


def check_history(body: Any) -> Json:
    """types.ts `VirtualInteractionHistoryResponse` / `CompletedInteraction`."""
    assert isinstance(body["interactions"], list)
    for item in body["interactions"]:
        assert isinstance(item["interaction_id"], str)
        assert isinstance(item["request"], dict) and isinstance(item["response"], dict)
        assert isinstance(item["step_id"], str) and isinstance(item["module_name"], str)
        assert isinstance(item["timestamp"], str) and item["timestamp"]
    assert body["pending_interaction"] is None or isinstance(body["pending_interaction"], dict)
    return body


# ---------------------------------------------------------------------- VirtualRuntime.ts


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


def _slice(workflow: Json, end: int) -> list[Json]:
    order = module_list(workflow)[:end + 1]
    out = []
    for step_id, name in order:
        step = next(s for s in workflow["steps"] if s["step_id"] == step_id)
        module = next((m for m in step["modules"] if m.get("name") == name), None)
        if module is not None:
            out.append({"step_id": step_id, "module": module})
    return out


@dataclass
class RunResult:
    status: str
    response: Json | None = None
    error: str | None = None


class EditorRuntime:
    """`VirtualRuntime`: one editor tab's preview state and the calls it makes."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.virtual_db: str | None = None
        self.virtual_run_id: str | None = None
        self.state: Json | None = None
        self.history: dict[str, Json] = {}
        self.pending: Json | None = None
        self.furthest = -1
        self.hashes: dict[int, str] = {}
        self.status = "idle"
        self.last_response: Json | None = None
        self.last_error: str | None = None
        self.current_target: tuple[str, str] | None = None
        self.state_up_to: tuple[str, str] | None = None
        self.mock_mode = True
        self.persisted: dict[str, Json] = {}  # sessionStorage `wfm_editor_selections_<id>`

    # ---- public API ---------------------------------------------------------------

    def index_of(self, workflow: Json, target: tuple[str, str]) -> int:
        order = module_list(workflow)
        return order.index(target) if target in order else -1

    def interaction_for(self, target: tuple[str, str]) -> Json | None:
        """`getInteractionForModule`: the completed interaction shown when moving back."""
        return self.history.get(f"{target[0]}/{target[1]}")

    async def run_to_module(self, workflow: Json, target: tuple[str, str],
                            selections: list[tuple[tuple[str, str], Json]] | None = None,
                            open_panel: str = "preview",
                            mock_override: bool | None = None) -> RunResult:
        mock = self.mock_mode if mock_override is None else mock_override
        self.status, self.last_error, self.current_target = "running", None, target
        if open_panel == "state":
            self.state_up_to = target
        try:
            index = self.index_of(workflow, target)
            if index == -1:
                raise EditorError(f"Module not found: {target[0]}/{target[1]}")
            if self._needs_reset(workflow, index):
                await self._reset_and_start(workflow, target, selections or [], mock)
            elif index <= self.furthest:
                self.status = "completed"
                return RunResult("completed", self.last_response)
            else:
                await self._execute_forward(workflow, target, selections or [], mock)
            await self._fetch_state_and_history()
            self.furthest = max(self.furthest, index)
            self.hashes[index] = _hash(_slice(workflow, index))
            return RunResult(self.status, self.last_response)
        except EditorError as exc:
            self.status, self.last_error = "error", str(exc)
            return RunResult("error", error=self.last_error)

    async def run_to_module_for_state(self, workflow: Json, target: tuple[str, str]) -> RunResult:
        self.state_up_to = target
        if 0 <= self.index_of(workflow, target) <= self.furthest and self.state is not None:
            return RunResult("completed" if self.status == "idle" else self.status,
                             self.last_response)
        return await self.run_to_module(workflow, target, open_panel="state")

    async def submit_response(self, workflow: Json, target: tuple[str, str],
                              response: Json) -> RunResult:
        if self.status != "awaiting_input" or self.last_response is None:
            return RunResult("error", error="No pending interaction to respond to")
        if not self.virtual_db or not self.virtual_run_id:
            return RunResult("error", error="No virtual database state")
        self.status = "running"
        try:
            body = await self._respond(workflow, target, self.virtual_db, self.virtual_run_id,
                                       self.last_response["interaction_request"]["interaction_id"],
                                       response, self.mock_mode)
        except EditorError as exc:
            self.status, self.last_error = "error", str(exc)
            return RunResult("error", error=self.last_error)
        self.last_response, self.virtual_db = body, body["virtual_db"]
        if body["status"] == "error":
            self.status, self.last_error = "error", body.get("error") or "Unknown error"
            return RunResult("error", error=self.last_error)
        if body["status"] in ("completed", "target_reached"):
            self.status = "completed"
            await self._fetch_state_and_history()
            index = self.index_of(workflow, target)
            self.furthest = max(self.furthest, index)
            self.hashes[index] = _hash(_slice(workflow, index))
            return RunResult("completed", body)
        if body["status"] == "awaiting_input":
            self.status = "awaiting_input"
            return RunResult("awaiting_input", body)
        self.status, self.last_error = "error", f"Unexpected status: {body['status']}"
        return RunResult("error", error=self.last_error)

    async def reload_with_mock_mode(self, workflow: Json, mock: bool) -> RunResult:
        target = self.current_target
        if target is None:
            return RunResult("error", error="No current target to reload")
        self.mock_mode = mock
        self._clear()
        self.last_response = self.last_error = None
        return await self.run_to_module(workflow, target)

    def set_virtual_db(self, blob: str) -> None:
        """`setVirtualDb`: a sub-action's `complete` frame replaces the blob."""
        self.virtual_db = blob

    # ---- internals ------------------------------------------------------------------

    def _clear(self) -> None:
        self.virtual_db = self.virtual_run_id = self.state = self.pending = None
        self.history.clear()
        self.furthest = -1
        self.hashes.clear()

    def _needs_reset(self, workflow: Json, index: int) -> bool:
        if self.furthest < 0:
            return False
        upto = min(index, self.furthest)
        current = _hash(_slice(workflow, upto))
        stored = self.hashes.get(upto)
        if stored is None:
            self.hashes[upto] = current
            return False
        return current != stored

    async def _reset_and_start(self, workflow: Json, target: tuple[str, str],
                               selections: list[tuple[tuple[str, str], Json]], mock: bool) -> None:
        self._clear()
        body = check_workflow_response(await self.wire.post_json("/workflow/start", {
            "workflow": workflow, "virtual_db": None, "target_step_id": target[0],
            "target_module_name": target[1], "mock": mock}))
        self.last_response, self.virtual_db = body, body["virtual_db"]
        self.virtual_run_id = body["virtual_run_id"]
        await self._process(workflow, target, body, selections, mock)

    async def _execute_forward(self, workflow: Json, target: tuple[str, str],
                               selections: list[tuple[tuple[str, str], Json]], mock: bool) -> None:
        if not self.virtual_db:
            return await self._reset_and_start(workflow, target, selections, mock)
        body = check_workflow_response(await self.wire.post_json("/workflow/resume/confirm", {
            "workflow": workflow, "virtual_db": self.virtual_db, "target_step_id": target[0],
            "target_module_name": target[1], "mock": mock}))
        self.last_response, self.virtual_db = body, body["virtual_db"]
        self.virtual_run_id = body["virtual_run_id"]
        await self._process(workflow, target, body, selections, mock)

    async def _respond(self, workflow: Json, target: tuple[str, str], blob: str, run_id: str,
                       interaction_id: str, response: Json, mock: bool) -> Json:
        return check_workflow_response(await self.wire.post_json("/workflow/respond", {
            "workflow": workflow, "virtual_db": blob, "virtual_run_id": run_id,
            "target_step_id": target[0], "target_module_name": target[1],
            "interaction_id": interaction_id, "response": response, "mock": mock}))

    async def _process(self, workflow: Json, target: tuple[str, str], body: Json,
                       selections: list[tuple[tuple[str, str], Json]], mock: bool) -> None:
        """`processExecutionResponse`: answer prerequisites until the target or a stop."""
        chosen = {f"{loc[0]}/{loc[1]}": answer for loc, answer in selections}
        while True:
            self.last_response = body
            if body["status"] == "error":
                self.status, self.last_error = "error", body.get("error") or "Unknown error"
                return
            if body["status"] in ("completed", "target_reached"):
                self.status = "completed"
                return
            if body["status"] != "awaiting_input":
                self.status, self.last_error = "error", f"Unexpected status: {body['status']}"
                return
            progress = body.get("progress") or {}
            if not progress.get("current_step") or not progress.get("current_module"):
                self.status = "awaiting_input"
                return
            where = (progress["current_step"], progress["current_module"])
            if where == target:
                self.status = "awaiting_input"
                return
            key = f"{where[0]}/{where[1]}"
            answer = chosen.get(key) or self.persisted.get(key)
            if answer is None:
                answer = auto_select(body["interaction_request"])
                if answer is not None:
                    self.persisted[key] = answer
            if answer is None:
                self.status = "awaiting_input"
                return
            body = await self._respond(workflow, target, body["virtual_db"], body["virtual_run_id"],
                                       body["interaction_request"]["interaction_id"], answer, mock)
            self.virtual_db = body["virtual_db"]

    async def _fetch_state_and_history(self) -> None:
        if not self.virtual_db or not self.virtual_run_id:
            return
        ref = {"virtual_db": self.virtual_db, "virtual_run_id": self.virtual_run_id}
        self.state = check_state(await self.wire.post_json("/workflow/state", ref))
        history = check_history(await self.wire.post_json("/workflow/interaction-history", ref))
        self.history = {f"{i['step_id']}/{i['module_name']}": i for i in history["interactions"]
                        if i.get("step_id") and i.get("module_name")}
        self.pending = history["pending_interaction"]


# ---------------------------------------------------------------------- virtualApiClient.ts


@dataclass
class Frame:
    event: str
    data: Json


class VirtualApiClient:
    """`createVirtualApiClient`, bound to a runtime's getters (as VirtualRuntimePanel.tsx does)."""

    def __init__(self, runtime: EditorRuntime, get_workflow: Callable[[], Json]) -> None:
        self.runtime = runtime
        self.get_workflow = get_workflow

    async def get_interaction_generations(self, interaction_id: str, content_type: str) -> Json:
        blob, run_id = self.runtime.virtual_db, self.runtime.virtual_run_id
        if not blob or not run_id:
            return {"generations": []}
        body = await self.runtime.wire.post_json("/workflow/generations", {
            "virtual_db": blob, "virtual_run_id": run_id, "interaction_id": interaction_id,
            "content_type": content_type})
        for item in body["generations"]:  # GenerationsResponse
            assert isinstance(item["urls"], list) and isinstance(item["metadata_id"], str)
            assert isinstance(item["content_ids"], list) and isinstance(item["prompt_id"], str)
            assert isinstance(item["provider"], str)
        return body

    async def get_media_preview(self, request: Json) -> Json:
        body = await self.runtime.wire.post_json("/workflow/media/preview", request)
        for key in ("width", "height", "megapixels"):  # MediaPreviewResponse
            assert isinstance(body["resolution"][key], (int, float))
        for key in ("credits", "cost_per_credit", "total_cost_usd", "num_images",
                    "credits_per_image", "cost_per_image_usd"):
            assert isinstance(body["credits"][key], (int, float))
        return body

    async def stream_sub_action(self, request: Json) -> list[Frame]:
        """`streamSubAction`: the body it posts and its line parser; `complete` with a
        `virtual_db` calls `onVirtualDbUpdate` (the runtime's `setVirtualDb`)."""
        blob, run_id, workflow = (self.runtime.virtual_db, self.runtime.virtual_run_id,
                                  self.get_workflow())
        if not blob or not run_id or not workflow:
            raise EditorError("Virtual state not available")
        body: Json = {"workflow": workflow, "virtual_db": blob, "virtual_run_id": run_id,
                      "interaction_id": request["interaction_id"],
                      "sub_action_id": request["sub_action_id"],
                      "params": request.get("params") or {}, "mock": self.runtime.mock_mode}
        if request.get("ai_config") is not None:
            body["ai_config"] = request["ai_config"]
        response = await self.runtime.wire.post("/workflow/sub-action", body)
        if not response.is_success:
            raise EditorError(f"Sub-action failed: {response.status_code}")
        frames: list[Frame] = []
        current: str | None = None
        for line in response.text.split("\n"):
            if line.startswith("event: "):
                current = line[7:].strip()
            elif line.startswith("data: ") and current:
                data = json.loads(line[6:])
                if current == "complete" and data.get("virtual_db"):
                    self.runtime.set_virtual_db(data["virtual_db"])
                frames.append(Frame(current, data))
                current = None
        return frames


__all__ = [
    "EDITOR_ORIGIN",
    "BlockedByBrowser",
    "EditorError",
    "EditorRuntime",
    "Frame",
    "RunResult",
    "VirtualApiClient",
    "Wire",
    "check_history",
    "check_state",
    "check_workflow_response",
]

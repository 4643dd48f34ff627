"""The reference web UI's protocol, replayed in Python against a live production server.

The web UI of SachiraChin/workflowmanager-showcase is the production API's real client. Its
code is never run here: this module re-states what it sends and what it reads.

- `WebUIClient` mirrors `ui/shared/src/core/api.ts` (`ApiClient`): one method per client
  function, same method, path, query and body, cookies sent with every request
  (`credentials: "include"`); a non-2xx answer becomes `ApiError(status, body.detail or the
  reason phrase)` (the message the UI shows), 403 is `Access denied`, and a 401 triggers one
  `POST /auth/refresh` and a retry (`fetchResponse`).
- `ExecutionHook` mirrors `useWorkflowExecution.ts`: its SSE event switch and its flows
  (start, confirm, respond through `stream/respond`, jump, cancel, resume, resume with content).
- Streams are parsed twice: the way the hook's fetch reader does (`event: ` then `data: ` lines)
  and strictly against SSE-1…SSE-3 (`parse_sse` of the acceptance harness).

`LiveServer` runs the production app under uvicorn on a free loopback port, on the real
wire-protocol MongoDB server (secantusdb) and with the live vendor clients pointed at a loopback
vendor simulator, so the UI's bodies — which never say `mock` — start ordinary live runs.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest
import uvicorn

from production_server.__main__ import _Server
from production_server.admin import create_invitation, create_user
from production_server.app import create_app
from production_server.settings import load_settings
from tests.acceptance.production_client import parse_sse
from tests.fakes_http.server import Recorded, Reply
from tests.fakes_http.vendor_sim import VendorSimulator

PASSWORD = "correct horse battery"
SECRET = "compat-secret-0123456789abcdef-0123456789"
TERMINAL_RUN = {"interaction", "complete", "error", "validation_failed", "cancelled"}
TERMINAL_SUB = {"complete", "error", "cancelled"}
INTERACTION_TYPES = {"text_input", "select_from_structured", "review_grouped", "file_input",
                     "file_download", "form_input", "media_generation"}
#: WEBUI_CAPABILITIES of ui/webui/src/lib/capabilities.ts, sent with every start and resume
CAPABILITIES = ["user.text_input", "user.select", "user.form", "user.pause", "user.file_input",
                "media.generate"]


def require(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A field the UI reads: present and of the type it uses."""
    assert key in data, f"the web UI reads {key!r}; missing in {sorted(data)}"
    assert isinstance(data[key], kind), (key, type(data[key]), data[key])
    return data[key]


# ---------------------------------------------------------------------- the live server


class GatedVendors(VendorSimulator):
    """The vendor simulator with a gate: after `hold_next(path)`, the next request to `path`
    waits until `release()` (a slow LLM call the UI can watch, resume into or cancel)."""

    def __init__(self) -> None:
        super().__init__(video_polls_before_done=1)
        self.held: str | None = None
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def hold_next(self, path: str) -> None:
        self.gate.clear()
        self.waiting.clear()
        self.held = path

    def release(self) -> None:
        self.held = None
        self.gate.set()

    def reply(self, seen: Recorded) -> Reply:
        if self.held is not None and seen.path == self.held:
            self.held = None
            self.waiting.set()
            self.gate.wait(30)
        return super().reply(seen)


class LiveServer:
    """The production app under uvicorn on 127.0.0.1:<free port>, one fresh database."""

    def __init__(self, uri: str | None, vendors: VendorSimulator, media_root: Path, *,
                 keys: bool = True, **env: str) -> None:
        """`uri=None` is the embedded development default; `keys=False` sets no provider key."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.uri, self.database = uri, "webui_" + uuid.uuid4().hex[:12]
        values = {"WFE_JWT_SECRET": SECRET, "WFE_MONGODB_DATABASE": self.database,
                  "WFE_COOKIE_SECURE": "false", "OPENAI_BASE_URL": vendors.base_url + "/v1",
                  "ELEVENLABS_BASE_URL": vendors.base_url, "WFE_MEDIA_BASE_PATH": str(media_root),
                  "WFE_MEDIA_POLL_INTERVAL_S": "0.02", "WFE_PROGRESS_INTERVAL_S": "0.2",
                  "WFE_SSE_HEARTBEAT_S": "0.5", **({"WFE_MONGODB_URI": uri} if uri else {}),
                  **({"OPENAI_API_KEY": "sk-compat-openai-0123456789",
                      "ELEVENLABS_API_KEY": "el-compat-0123456789"} if keys else {})}
        settings = load_settings({**values, **env})
        self.app = create_app(settings)
        self.server = _Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                             log_level="warning", lifespan="on"))
        self.server.services = self.app.state.services
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Any:
        return self.app.state.services

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        if self.uri is None:
            return
        from pymongo import MongoClient

        client: Any = MongoClient(self.uri)
        client.drop_database(self.database)
        client.close()

    def on_loop(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.services.loop).result(timeout=30)

    def add_user(self, username: str, admin: bool = False) -> str:
        doc = self.on_loop(create_user(self.services.adapter, username, PASSWORD, admin=admin,
                                       ids=self.services.ids))
        return str(doc["user_id"])

    def add_invitation(self, code: str, uses: int = 5) -> None:
        self.on_loop(create_invitation(self.services.adapter, code, uses, 7))


# ---------------------------------------------------------------------- SSE


def fetch_reader_frames(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The parse loop of `streamRespond`/`streamSubAction` and the hook's `respond`: a line
    `event: X` sets the type, the next `data: ` line is JSON-parsed and dispatched."""
    out: list[tuple[str, dict[str, Any]]] = []
    current: str | None = None
    for line in text.split("\n"):
        if line.startswith("event: "):
            current = line[7:].strip()
        elif line.startswith("data: ") and current:
            out.append((current, json.loads(line[6:])))
            current = None
    return out


async def event_source(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """What an `EventSource` listener receives: one (event, parsed data) per dispatched frame."""
    event, data = "message", []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


# ---------------------------------------------------------------------- api.ts


class ApiError(Exception):
    def __init__(self, status: int, message: str, body: Any) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.body = status, message, body


@dataclass
class WebUIClient:
    """`ApiClient` of api.ts on one browser session (a cookie jar)."""

    base: str
    http: httpx.AsyncClient = field(init=False)
    refreshes: int = 0

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.base, timeout=60,
                                      headers={"Content-Type": "application/json"})

    @staticmethod
    def _error(response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 403:
            return ApiError(403, "Access denied", body)
        # the UI shows `detail` (else the status text): every error body must carry it
        assert isinstance(body, dict) and body.get("detail"), (response.status_code, body)
        return ApiError(response.status_code, body["detail"], body)

    async def fetch_response(self, method: str, endpoint: str, body: Any = None,
                             retry: bool = True) -> httpx.Response:
        """`fetchResponse`: 401 → one `POST /auth/refresh`, then the same request again;
        `requestRaw` (auth endpoints) has no retry."""
        kwargs: dict[str, Any] = {} if body is None else {"content": json.dumps(body)}
        response = await self.http.request(method, endpoint, **kwargs)
        if response.status_code == 401 and retry:
            self.refreshes += 1
            if (await self.http.post("/auth/refresh")).is_success:
                response = await self.http.request(method, endpoint, **kwargs)
        if not response.is_success:
            raise self._error(response)
        return response

    async def request(self, method: str, endpoint: str, body: Any = None,
                      retry: bool = True) -> Any:
        return (await self.fetch_response(method, endpoint, body, retry)).json()

    async def stream_text(self, method: str, endpoint: str, body: Any = None) -> str:
        """A fetch-read stream (`streamRespond`, `streamSubAction`), read to its end."""
        response = await self.fetch_response(method, endpoint, body)
        assert response.headers["content-type"].startswith("text/event-stream")
        return response.text

    # -- workflow endpoints (the names of api.ts, in snake case)
    async def start_workflow(self, request: dict[str, Any]) -> Any:
        return await self.request("POST", "/workflow/start", request)

    async def confirm_workflow_start(self, request: dict[str, Any]) -> Any:
        return await self.request("POST", "/workflow/start/confirm", request)

    async def start_workflow_by_version(self, version_id: str, request: dict[str, Any]) -> Any:
        return await self.request("POST", f"/workflow/start/{version_id}", request)

    async def jump_to_interaction(self, run_id: str, interaction_id: str) -> Any:
        return await self.request("POST", "/workflow/jump-to-interaction",
                                  {"workflow_run_id": run_id, "interaction_id": interaction_id})

    async def cancel(self, run_id: str) -> Any:
        return await self.request("POST", f"/workflow/{run_id}/cancel")

    async def resume(self, run_id: str) -> Any:
        return await self.request("POST", f"/workflow/{run_id}/resume")

    async def resume_with_content(self, run_id: str, content: Any, entry: str | None = None,
                                  confirm: bool = False) -> Any:
        """`resumeWithContent` / `confirmResume` (JSON.stringify drops an undefined entry)."""
        body: dict[str, Any] = {"workflow_content": content, "capabilities": CAPABILITIES}
        if entry is not None:
            body["workflow_entry_point"] = entry
        return await self.request("POST", f"/workflow/{run_id}/resume"
                                  + ("/confirm" if confirm else ""), body)

    async def get(self, endpoint: str) -> Any:
        """api.ts's plain GETs (getState, getStateV2, listWorkflowRuns, getModels, …)."""
        return await self.request("GET", endpoint)

    async def stream_sub_action(self, run_id: str, request: dict[str, Any]) -> list[Any]:
        text = await self.stream_text("POST", f"/workflow/{run_id}/sub-action", request)
        frames = fetch_reader_frames(text)
        assert frames == parse_sse(text, TERMINAL_SUB)
        return frames

    # -- authentication
    async def login(self, identifier: str, password: str = PASSWORD) -> Any:
        return await self.request("POST", "/auth/login",
                                  {"identifier": identifier, "password": password}, retry=False)


# ---------------------------------------------------------------------- useWorkflowExecution.ts


@dataclass
class ExecutionHook:
    """The state machine of `useWorkflowExecution` over one `WebUIClient`."""

    api: WebUIClient
    run_id: str | None = None
    project_name: str | None = None
    status: str | None = None
    error: str | None = None
    interaction: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    completed: list[dict[str, Any]] = field(default_factory=list)
    processing: bool = False
    last_message: str | None = None
    module_outputs: dict[str, Any] | None = None
    confirmation: dict[str, Any] | None = None
    events: list[str] = field(default_factory=list)

    def handle_sse(self, kind: str, data: dict[str, Any]) -> None:
        """`handleSSEEvent`: the fields each event type reads."""
        assert data.get("workflow_run_id") in (None, self.run_id), (data, self.run_id)
        self.events.append(kind)
        if kind == "started":
            self.status, self.processing, self.interaction = "processing", True, None
        elif kind == "progress":
            assert isinstance(data.get("elapsed_ms", 0), int)
            self.last_message = data.get("message")
        elif kind == "interaction":
            require(data, "interaction_id", str)
            assert require(data, "interaction_type", str) in INTERACTION_TYPES
            require(data, "display_data", dict)
            self.status, self.interaction = "awaiting_input", data
            self.history.append(data)
        elif kind == "complete":
            self.status, self.processing, self.interaction = "completed", False, None
            self.module_outputs = data
        elif kind == "error":
            self.status, self.error = "error", require(data, "message", str)
        elif kind == "cancelled":
            self.error, self.processing = "Workflow cancelled", False
        elif kind == "validation_failed":
            errors = require(data, "errors", list)
            self.status, self.processing = "validation_failed", False
            if errors:
                self.error = require(errors[0], "message", str)

    def _apply(self, data: dict[str, Any], project: str) -> None:
        """What start/confirm/resume do with a `WorkflowResponse`."""
        self.run_id, self.project_name = require(data, "workflow_run_id", str), project
        self.status = require(data, "status", str)
        if data.get("interaction_request"):
            self.interaction = data["interaction_request"]
            require(self.interaction, "interaction_id", str)
            self.history.append(self.interaction)

    async def connect_to_stream(self) -> list[str]:
        """`connectToStream`: an EventSource on `GET /workflow/{id}/stream` until a terminal."""
        kinds = []
        async with self.api.http.stream("GET", f"/workflow/{self.run_id}/stream") as response:
            assert response.status_code == 200
            async for kind, data in event_source(response):
                kinds.append(kind)
                self.handle_sse(kind, data)
                if kind in TERMINAL_RUN:
                    break  # the hook disconnects on every terminal event
        return kinds

    async def start(self, request: dict[str, Any], by_version: str | None = None) -> Any:
        """`startWorkflow` / `startWorkflowByVersion` (capabilities added by the hook)."""
        body = {**request, "capabilities": CAPABILITIES}
        data = await (self.api.start_workflow_by_version(by_version, body) if by_version
                      else self.api.start_workflow(body))
        if (data.get("result") or {}).get("requires_confirmation") and not by_version:
            self.confirmation = {**data["result"], "request": request}
            return data
        self._apply(data, request["project_name"])
        if data["status"] == "processing" and not data.get("interaction_request"):
            await self.connect_to_stream()
        return data

    async def confirm_version_and_start(self) -> Any:
        assert self.confirmation is not None
        request = self.confirmation.pop("request")
        data = await self.api.confirm_workflow_start({**request, "capabilities": CAPABILITIES})
        self.confirmation = None
        self._apply(data, request["project_name"])
        return data

    async def respond(self, response: dict[str, Any],
                      ai_config: dict[str, str] | None = None) -> list[tuple[str, Any]]:
        """`respond`: `POST /workflow/{id}/stream/respond`, frames through `handleSSEEvent`."""
        previous = self.interaction
        assert self.run_id and previous, "No active interaction to respond to"
        body: dict[str, Any] = {"workflow_run_id": self.run_id,
                                "interaction_id": previous["interaction_id"], "response": response}
        if ai_config:
            body["ai_config"] = ai_config
        self.processing = True
        text = await self.api.stream_text("POST", f"/workflow/{self.run_id}/stream/respond", body)
        self.completed.append({"interaction_id": previous["interaction_id"], "request": previous,
                               "response": response})
        frames = fetch_reader_frames(text)
        assert frames == parse_sse(text, TERMINAL_RUN)
        for kind, data in frames:
            self.handle_sse(kind, data)
            if kind == "validation_failed":
                self.interaction = previous  # the user stays on the same interaction
        return frames

    async def jump_to_interaction(self, interaction_id: str) -> Any:
        data = await self.api.jump_to_interaction(str(self.run_id), interaction_id)
        self.status, self.processing = data["status"], False
        if data.get("interaction_request"):
            self.interaction = data["interaction_request"]
        history = await self.api.get(f"/workflow/{self.run_id}/interaction-history")
        self.completed = require(history, "interactions", list)
        return data

    async def resume_workflow(self, run_id: str, project: str) -> Any:
        """`resumeWorkflow` (the runner page's route): history, `/resume`, then per status."""
        self.run_id, self.project_name, self.status = run_id, project, "processing"
        history = await self.api.get(f"/workflow/{run_id}/interaction-history")
        self.completed = require(history, "interactions", list)
        for item in self.completed:
            require(item, "interaction_id", str), require(item, "timestamp", str)
            require(item, "request", dict), require(item, "response", dict)
        data = await self.api.resume(run_id)
        self.status = require(data, "status", str)
        if data["status"] == "awaiting_input" and data.get("interaction_request"):
            self.interaction = data["interaction_request"]
            refreshed = await self.api.get(f"/workflow/{run_id}/interaction/"
                                           f"{self.interaction['interaction_id']}/data")
            self.interaction = {**self.interaction,
                                "display_data": require(refreshed, "display_data", dict)}
        elif data["status"] == "processing":
            await self.connect_to_stream()
        elif data["status"] == "completed":
            self.module_outputs = data.get("result")
        elif data["status"] == "error":
            self.error = data.get("error") or "Workflow failed"
        return data

    async def resume_with_update(self, run_id: str, content: Any, entry: str | None = None) -> Any:
        data = await self.api.resume_with_content(run_id, content, entry)
        if (data.get("result") or {}).get("requires_confirmation"):
            self.confirmation = {**data["result"], "run_id": run_id, "content": content,
                                 "entry": entry}
            return data
        self._apply(data, str((data.get("result") or {}).get("project_name") or ""))
        return data

    async def confirm_version_and_resume(self) -> Any:
        assert self.confirmation is not None and "run_id" in self.confirmation
        c, self.confirmation = self.confirmation, None
        data = await self.api.resume_with_content(c["run_id"], c["content"], c["entry"], True)
        self._apply(data, str((data.get("result") or {}).get("project_name") or ""))
        return data


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def vendors() -> Iterator[GatedVendors]:
    sim = GatedVendors()
    sim.start()
    try:
        yield sim
    finally:
        sim.release()
        sim.close()


@pytest.fixture
def server(secantus_uri: str, vendors: GatedVendors, tmp_path: Path) -> Iterator[LiveServer]:
    """A live production server with users alice, bob and the admin root."""
    live = LiveServer(secantus_uri, vendors, tmp_path / "media").start()
    try:
        for name in ("alice", "bob"):
            live.add_user(name)
        live.add_user("root", admin=True)
        yield live
    finally:
        live.stop()


@pytest.fixture
async def browsers(server: LiveServer) -> AsyncIterator[Any]:
    """`make(username=None)`: a browser session (a cookie jar), logged in through `LoginPage`
    when a username is given; all are closed at the end."""
    made: list[WebUIClient] = []

    async def make(username: str | None = None) -> WebUIClient:
        made.append(WebUIClient(server.base))
        if username is not None:
            await made[-1].login(username)
        return made[-1]

    yield make
    for client in made:
        await client.http.aclose()

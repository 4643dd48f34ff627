"""Harness for the production-server tests (acceptance.md §1).

`production(...)` builds the app with `FixedClock(2026-01-01, tick=1 ms)`, `SequentialIds` and the
mock-only provider set, on a fresh database of the `secantusdb` server, creates alice and bob with
the admin helper and logs them in (Bearer tokens from `POST /auth/login`).

Two in-process clients are offered: Litestar's `AsyncTestClient` (the default; it serves the app
on its own portal thread and answers one request at a time) and httpx's `ASGITransport` on the
test's own loop (`concurrent=True`), which is needed wherever requests must really overlap.
The SSE helper parses frames and asserts SSE-1…SSE-3 on every stream it reads.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pymongo import MongoClient

from engine.clock import FixedClock
from engine.ids import SequentialIds
from production_server.admin import create_invitation, create_user
from production_server.app import create_app
from production_server.settings import ProductionSettings, load_settings
from tests.acceptance.script_a import ANSWERS, IMAGE_PARAMS, image_answer
from tests.acceptance.virtual_support import TEST_ENGINE_NICE
from tests.conftest import CACHES, CUDDLE_DIR, mock_only_providers

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SECRET = "test-secret-0123456789abcdef-0123456789"
PASSWORD = "correct horse battery"
TERMINAL_RUN = {"interaction", "complete", "error", "validation_failed", "cancelled"}
TERMINAL_SUB = {"complete", "error", "cancelled"}


def make_settings(uri: str | None, database: str, **env: str) -> ProductionSettings:
    base = {"WFE_JWT_SECRET": SECRET, "WFE_MONGODB_DATABASE": database,
            "WFE_ALLOW_MOCK_RUNS": "true", "WFE_COOKIE_SECURE": "false",
            "WFE_ENGINE_NICE": TEST_ENGINE_NICE, "WFE_CACHES": "true" if CACHES else "false"}
    if uri:
        base["WFE_MONGODB_URI"] = uri
    base.update(env)
    return load_settings(base)


def cuddle_zip(entry_dir: Path = CUDDLE_DIR, extra: dict[str, str] | None = None) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(entry_dir.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(entry_dir).as_posix())
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return base64.b64encode(buffer.getvalue()).decode()


def zip_of(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return base64.b64encode(buffer.getvalue()).decode()


def parse_sse(text: str, terminals: set[str] = TERMINAL_RUN) -> list[tuple[str, dict[str, Any]]]:
    """Parse frames and assert SSE-1 (framing, ids), SSE-2 (run id) and SSE-3 (one terminal, last)."""
    frames: list[tuple[str, dict[str, Any]]] = []
    ids: list[int] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        fields: dict[str, list[str]] = {}
        for line in lines:
            key, _, value = line.partition(": ")
            fields.setdefault(key, []).append(value)
        assert set(fields) <= {"id", "event", "data"}, block
        assert len(fields.get("event", [])) == 1 and len(fields.get("data", [])) == 1, block
        ids.append(int(fields["id"][0]))
        data = json.loads(fields["data"][0])
        assert "workflow_run_id" in data, block
        frames.append((fields["event"][0], data))
    assert ids == list(range(1, len(ids) + 1)), ids
    kinds = [event for event, _ in frames]
    assert sum(1 for k in kinds if k in terminals) == 1, kinds
    assert kinds[-1] in terminals, kinds
    return frames


class Prod:
    """One app, one database, two logged-in users."""

    def __init__(self, app: Litestar, client: Any, db: Any,
                 call: Callable[[Callable[..., Awaitable[Any]], Any], Any]) -> None:
        self.app = app
        self.client = client
        self.db = db  # a synchronous pymongo Database on the same server
        self.call = call  # run an async helper on the app's loop
        self.tokens: dict[str, str] = {}
        self.user_ids: dict[str, str] = {}

    @property
    def services(self) -> Any:
        return self.app.state.services

    # ---------------------------------------------------------------- users and tokens

    async def add_user(self, username: str, admin: bool = False) -> str:
        doc = await self.call(create_user, self.services.adapter, username, PASSWORD, admin=admin,
                              ids=self.services.ids)
        self.user_ids[username] = doc["user_id"]
        return doc["user_id"]

    async def login(self, username: str) -> str:
        response = await self.client.post("/auth/login",
                                          json={"identifier": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.cookies.get("access_token")
        assert token
        self.tokens[username] = token
        self.client.cookies.clear()
        return token

    def headers(self, user: str | None) -> dict[str, str]:
        return {} if user is None else {"Authorization": "Bearer " + self.tokens[user]}

    # ---------------------------------------------------------------- requests

    async def request(self, method: str, path: str, user: str | None = "alice",
                      json_body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        if json_body is not None:
            kwargs["json"] = json_body
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def post(self, path: str, body: Any = None, user: str | None = "alice",
                   **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, user, body, **kwargs)

    async def get(self, path: str, user: str | None = "alice", **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, user, **kwargs)

    async def ok(self, method: str, path: str, body: Any = None, user: str | None = "alice",
                 **kwargs: Any) -> Any:
        response = await self.request(method, path, user, body, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    async def sse(self, method: str, path: str, body: Any = None, user: str | None = "alice",
                  terminals: set[str] = TERMINAL_RUN) -> list[tuple[str, dict[str, Any]]]:
        response = await self.request(method, path, user, body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        return parse_sse(response.text, terminals)

    # ---------------------------------------------------------------- workflow helpers

    async def start(self, workflow: dict[str, Any], project: str = "p1", user: str = "alice",
                    **extra: Any) -> dict[str, Any]:
        return await self.ok("POST", "/workflow/start",
                             {"project_name": project, "workflow_content": workflow, "mock": True,
                              **extra}, user=user)

    async def respond(self, run_id: str, interaction_id: str, answer: dict[str, Any],
                      user: str = "alice") -> dict[str, Any]:
        return await self.ok("POST", "/workflow/respond",
                             {"workflow_run_id": run_id, "interaction_id": interaction_id,
                              "response": answer}, user=user)

    async def sub_action(self, run_id: str, interaction_id: str, sub_action_id: str,
                         params: dict[str, Any], user: str = "alice") -> list[tuple[str, dict[str, Any]]]:
        return await self.sse("POST", f"/workflow/{run_id}/sub-action",
                              {"interaction_id": interaction_id, "sub_action_id": sub_action_id,
                               "params": params}, user=user, terminals=TERMINAL_SUB)

    async def answer_script(self, run_id: str, response: dict[str, Any],
                            stop_before: str | None = None) -> dict[str, Any]:
        """Answer script A from the current pending interaction until `stop_before` (or the end)."""
        while response["status"] == "awaiting_input":
            module = response["progress"]["current_module"]
            if module == stop_before:
                return response
            iid = response["interaction_request"]["interaction_id"]
            if module == "generate_and_select_images_v2":
                frames = await self.sub_action(run_id, iid, "image_generation", IMAGE_PARAMS)
                assert frames[-1][0] == "complete", frames[-1]
                answer = image_answer(frames[-1][1]["sub_action_result"])
            else:
                answer = ANSWERS[module]
            response = await self.respond(run_id, iid, answer)
        return response

    async def events(self, run_id: str, scope: str = "lineage") -> list[dict[str, Any]]:
        body = await self.ok("GET", f"/workflow/{run_id}/events?scope={scope}&limit=5000")
        return body["events"]

    async def state(self, run_id: str) -> dict[str, Any]:
        return (await self.ok("GET", f"/workflow/{run_id}/state"))["state"]


@asynccontextmanager
async def production(uri: str | None, *, concurrent: bool = False, users: tuple[str, ...] = ("alice", "bob"),
                     providers: Any = None, tick: timedelta = timedelta(milliseconds=1),
                     live: bool = False, **env: str) -> AsyncIterator[Prod]:
    """`live=True` runs with the provider set the server builds from its settings (vendor
    clients pointed at the `*_BASE_URL` of `env`) instead of the mock-only one."""
    database = "t_" + uuid.uuid4().hex[:16]
    settings = make_settings(uri, database, **env)
    app = create_app(settings, clock=FixedClock(T0, tick=tick), ids=SequentialIds(),
                     providers=None if live else (providers or mock_only_providers()))
    sync_client: MongoClient[dict[str, Any]] | None = MongoClient(uri, tz_aware=True) if uri else None
    db = sync_client[database] if sync_client is not None else None
    try:
        if concurrent:
            async with app.lifespan():
                transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:

                    async def call_here(fn: Callable[..., Awaitable[Any]], *a: Any, **k: Any) -> Any:
                        return await fn(*a, **k)

                    prod = Prod(app, client, db, call_here)
                    await _users(prod, users)
                    yield prod
        else:
            async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:

                async def call_portal(fn: Callable[..., Awaitable[Any]], *a: Any, **k: Any) -> Any:
                    return client.blocking_portal.call(lambda: fn(*a, **k))

                prod = Prod(app, client, db, call_portal)
                await _users(prod, users)
                yield prod
    finally:
        if sync_client is not None:
            sync_client.drop_database(database)
            sync_client.close()


async def _users(prod: Prod, users: tuple[str, ...]) -> None:
    for name in users:
        await prod.add_user(name)
        await prod.login(name)


async def invitation(prod: Prod, code: str, max_uses: int = 1, days: float | None = 7) -> None:
    await prod.call(create_invitation, prod.services.adapter, code, max_uses, days)

"""Harness for the virtual-server scenarios (acceptance.md §1 and §3).

The app is built in-process by `create_app` with a `FixedClock(2026-01-01, tick 1 ms)`,
`SequentialIds` and the provider set whose live constructors raise; requests carry a Bearer
access token signed with a 32-byte test secret (`WFE_VIRTUAL_AUTH_REQUIRED` stays true).
`parse_sse` asserts SSE-1…SSE-3 on every stream it reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, AsyncIterator

import jwt
import pytest
from litestar.testing import AsyncTestClient

from db.blob import blob_json
from engine.clock import FixedClock
from engine.ids import SequentialIds
from tests.acceptance.script_a import ANSWERS, IMAGE_PARAMS, image_answer
from tests.conftest import T0, mock_only_providers
from virtual_server.app import create_app
from virtual_server.settings import VirtualSettings, load_settings

SECRET = "virtual-test-secret-0123456789ab"
assert len(SECRET.encode()) == 32
RUN_TERMINALS = {"complete", "error", "cancelled"}


def access_token(sub: str = "alice", *, secret: str = SECRET, token_type: str = "access",
                 expires_in: int = 3600, algorithm: str = "HS256", **extra: Any) -> str:
    now = int(time.time())
    claims = {"sub": sub, "type": token_type, "iat": now, "exp": now + expires_in, **extra}
    return jwt.encode(claims, secret, algorithm=algorithm)


#: In-process test servers keep their engine threads at the process's priority. The lower one
#: (WFE_ENGINE_NICE, for a server's own event loop) makes them lose to every other process too,
#: and the test process also runs the clients and the checks: on a loaded CI machine a 3,000-step
#: preview then took 17 s to load. The mechanism has its own test (tests/unit/test_pool.py).
TEST_ENGINE_NICE = "0"


def make_settings(**overrides: Any) -> VirtualSettings:
    return load_settings({"WFE_JWT_SECRET": SECRET, "WFE_ENGINE_NICE": TEST_ENGINE_NICE},
                         **overrides)


def make_app(settings: VirtualSettings | None = None, providers: Any = None, **kwargs: Any) -> Any:
    return create_app(settings or make_settings(),
                      clock=FixedClock(T0, tick=timedelta(milliseconds=1)), ids=SequentialIds(),
                      providers=providers if providers is not None else mock_only_providers(),
                      **kwargs)


def worker_objects() -> dict[str, Any]:
    """`make_app`'s clock, ids and providers, built afresh in each engine worker process."""
    return {"clock": FixedClock(T0, tick=timedelta(milliseconds=1)), "ids": SequentialIds(),
            "providers": mock_only_providers()}


def decode_blob(blob: str) -> dict[str, Any]:
    return json.loads(blob_json(blob))  # v1 or v2 (appended members)


@dataclass
class Frame:
    event: str
    data: dict[str, Any]
    id: int | None


def parse_sse(text: str, terminals: set[str] = RUN_TERMINALS) -> list[Frame]:
    """Frames of a stream; asserts SSE-1 (framing, ids), SSE-2 (run id) and SSE-3 (one terminal)."""
    frames: list[Frame] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        if all(line.startswith(":") for line in lines):
            continue  # heartbeat comments
        fields: dict[str, list[str]] = {}
        for line in lines:
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        assert set(fields) == {"id", "event", "data"}, block
        assert len(fields["data"]) == 1 and len(fields["event"]) == 1, block
        frames.append(Frame(fields["event"][0], json.loads(fields["data"][0]),
                            int(fields["id"][0])))
    assert [f.id for f in frames] == list(range(1, len(frames) + 1))
    assert all("workflow_run_id" in f.data for f in frames)
    assert [f.event in terminals for f in frames].count(True) == 1
    assert frames[-1].event in terminals
    return frames


REV3 = {"X-Virtual-Db-In": "result"}  # the blob in `result.virtual_db`, as Rev 3 documents


class VirtualClient:
    """Thin helpers over the ASGI client: every call returns (HTTP status, JSON body).

    These scenarios were written against wire-api.md Rev 3, so they ask for the blob in
    `result.virtual_db` with the `X-Virtual-Db-In: result` header (issue 9 item 1)."""

    def __init__(self, client: AsyncTestClient[Any], workflow: dict[str, Any],
                 token: str | None = None) -> None:
        self.http = client
        self.workflow = workflow
        self.headers = {"Authorization": "Bearer " + (token or access_token()), **REV3}

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = await self.http.post(path, json=body, headers=self.headers)
        return response.status_code, response.json()

    async def start(self, step: str, module: str, blob: str | None = None,
                    **fields: Any) -> tuple[int, dict[str, Any]]:
        body = {"workflow": fields.pop("workflow", self.workflow), "virtual_db": blob,
                "target_step_id": step, "target_module_name": module, **fields}
        return await self.post("/workflow/start", body)

    async def respond(self, step: str, module: str, blob: str, interaction_id: str,
                      response: dict[str, Any], **fields: Any) -> tuple[int, dict[str, Any]]:
        body = {"workflow": fields.pop("workflow", self.workflow), "virtual_db": blob,
                "target_step_id": step, "target_module_name": module,
                "interaction_id": interaction_id, "response": response, **fields}
        return await self.post("/workflow/respond", body)

    async def state(self, blob: str, **fields: Any) -> dict[str, Any]:
        status, body = await self.post("/workflow/state", {"virtual_db": blob, **fields})
        assert status == 200, body
        return body

    async def history(self, blob: str) -> dict[str, Any]:
        status, body = await self.post("/workflow/interaction-history", {"virtual_db": blob})
        assert status == 200, body
        return body

    async def sub_action(self, blob: str, interaction_id: str, sub_action_id: str,
                         params: dict[str, Any], **fields: Any) -> list[Frame]:
        body = {"virtual_db": blob, "interaction_id": interaction_id,
                "sub_action_id": sub_action_id, "params": params, **fields}
        response = await self.http.post("/workflow/sub-action", json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        return parse_sse(response.text)

    async def drive(self, step: str, module: str, answers: dict[str, dict[str, Any]],
                    blob: str | None = None, stop_at: str | None = None) -> dict[str, Any]:
        """Start toward a target and answer every pending interaction from `answers`
        (A4 runs its image sub-action first), until the target or `stop_at` is reached."""
        status, body = await self.start(step, module, blob)
        assert status == 200, body
        while body["status"] == "awaiting_input":
            request = body["interaction_request"]
            name = request["context"]["module_name"]
            if name == stop_at or (name == module and name not in answers):
                return body
            blob = body["result"]["virtual_db"]
            answer = answers.get(name)
            if name == "generate_and_select_images_v2":
                frames = await self.sub_action(blob, request["interaction_id"],
                                               "image_generation", IMAGE_PARAMS)
                blob = frames[-1].data["virtual_db"]
                answer = image_answer(frames[-1].data["sub_action_result"])
            assert answer is not None, name
            status, body = await self.respond(step, module, blob, request["interaction_id"], answer)
            assert status == 200, body
        return body


@pytest.fixture
async def vclient(cuddle_workflow: dict[str, Any]) -> AsyncIterator[VirtualClient]:
    async with AsyncTestClient(make_app()) as client:
        yield VirtualClient(client, cuddle_workflow)


__all__ = [
    "ANSWERS",
    "REV3",
    "SECRET",
    "Frame",
    "VirtualClient",
    "access_token",
    "decode_blob",
    "make_app",
    "make_settings",
    "parse_sse",
    "vclient",
]

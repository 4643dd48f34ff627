"""A live virtual server for the editor replays: uvicorn on a free loopback port, the editor's
origins allowed, and a browser-like client carrying the `access_token` cookie."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, AsyncIterator

import httpx

from engine.clock import FixedClock
from engine.ids import SequentialIds
from production_server.auth.tokens import TokenService
from tests.acceptance.production_client import SECRET
from tests.compat.editor_protocol import EDITOR_ORIGIN, EditorRuntime, VirtualApiClient, Wire
from tests.conftest import T0, mock_only_providers
from tests.e2e.virtual_live import LiveServer
from virtual_server.app import create_app
from virtual_server.settings import VirtualSettings, load_settings

EDITOR_ORIGINS = "http://localhost:5173,http://localhost:3000"  # what scripts/serve allows


def editor_settings(**env: str) -> VirtualSettings:
    """The virtual server as `scripts/serve` runs it: the production server's JWT secret (so its
    cookie works here) and the editor's development origins."""
    return load_settings({"WFE_JWT_SECRET": SECRET, "WFE_CORS_ORIGINS": EDITOR_ORIGINS, **env})


def production_access_token(user_id: str = "usr_editor") -> str:
    """An access token exactly as the production server issues it at login."""
    return TokenService(SECRET, 3600, 3600).issue_access(user_id)


@dataclass
class Editor:
    live: LiveServer
    wire: Wire
    runtime: EditorRuntime
    workflow: dict[str, Any]

    def api(self) -> VirtualApiClient:
        return VirtualApiClient(self.runtime, lambda: self.workflow)


@asynccontextmanager
async def live_editor(workflow: dict[str, Any], *, settings: VirtualSettings | None = None,
                      live_providers: bool = False, token: str | None = None,
                      origin: str = EDITOR_ORIGIN) -> AsyncIterator[Editor]:
    """`live_providers` builds the provider set from the settings as the server does (vendor
    clients at the settings' base URLs); otherwise any live provider call fails the test."""
    app = create_app(settings or editor_settings(),
                     clock=FixedClock(T0, tick=timedelta(milliseconds=1)), ids=SequentialIds(),
                     providers=None if live_providers else mock_only_providers())
    with LiveServer(app) as live:
        cookies = httpx.Cookies()
        cookies.set("access_token", token or production_access_token())
        async with httpx.AsyncClient(base_url=live.url, cookies=cookies, timeout=60) as http:
            wire = Wire(http, origin=origin)
            yield Editor(live, wire, EditorRuntime(wire), workflow)

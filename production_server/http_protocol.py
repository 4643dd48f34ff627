"""This server's HTTP protocol for uvicorn: httptools with refused bodies read at a bounded rate
(issue 15 item 5, engine/http_drain.py)."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from engine import DrainPacing, SharedSettings


class PacedHttpToolsProtocol(DrainPacing, HttpToolsProtocol):
    """uvicorn's httptools protocol, its drained bodies paced by `DrainPacing`."""


def uvicorn_options(settings: SharedSettings) -> dict[str, Any]:
    """The options this server passes to uvicorn."""
    return settings.server_options(f"{__name__}:{PacedHttpToolsProtocol.__name__}")

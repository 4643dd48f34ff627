"""The floor bench/throughput.py compares the virtual server with: a minimal Litestar app that
decodes a JSON body with msgspec and sends it back, nothing else. Run by uvicorn with the same
options as the servers (`uvicorn echo_app:app --app-dir bench`)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get, post


@post("/echo", status_code=200)
async def echo(data: dict[str, Any]) -> dict[str, Any]:
    return data


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[echo, health], openapi_config=None)

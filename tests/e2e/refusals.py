"""A refused request's connection, reused: shared by the admission and drain tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from storm_client import Connection, build_request


async def refused_then_health(port: int, request: bytes) -> tuple[int, int]:
    """Send `request` whole (even once its answer has come), then `/health` on the same
    connection: both statuses. The server must not have closed or reset the connection."""
    conn = Connection("127.0.0.1", port, timeout_s=30)
    try:
        first = await conn.send(request, finish_body=True)
        assert conn.sock is not None, "the server closed the connection"
        second = await conn.send(build_request("GET", "/health"))
        return first.status, second.status
    finally:
        conn.close()

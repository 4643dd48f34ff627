"""SSE framing shared by both servers, framework-free (wire-api.md SSE-1)."""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()

SSE_PING = b": ping\n\n"


def sse_frame(event: str, data: Any, frame_id: int | None = None) -> bytes:
    """Encode one SSE frame: `id`, `event` and a single-line JSON `data` (SSE-1)."""
    head = b"" if frame_id is None else b"id: %d\n" % frame_id
    return head + b"event: " + event.encode() + b"\ndata: " + _encoder.encode(data) + b"\n\n"


class FrameCounter:
    """`id:` numbering of one stream's frames, starting at 1 (SSE-1)."""

    def __init__(self) -> None:
        self._next = 1

    def frame(self, event: str, data: Any) -> bytes:
        frame_id, self._next = self._next, self._next + 1
        return sse_frame(event, data, frame_id)

"""A stateful fake of the OpenAI and ElevenLabs APIs for whole-workflow runs on loopback.

It is a `FakeHttpServer` whose every path is answered from the request: structured-output
calls get a value generated from the request's own JSON schema (so every `api.llm` step of a
real workflow gets an answer its schema accepts), image calls get distinct PNG-like bytes,
video jobs go queued → in_progress → completed over polls, and music calls return MP3-like
bytes. Every request is recorded with its raw body so tests can prove what was sent (for
example that the vision step sent the very image that was generated).
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from engine.mock_data import generate_mock
from tests.fakes_http.openai_shapes import chat_body, responses_body, responses_stream
from tests.fakes_http.server import FakeHttpServer, Recorded, Reply

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class VendorSimulator:
    """OpenAI (`/v1/responses`, `/v1/chat/completions`, `/v1/images/*`, `/v1/videos*`) and
    ElevenLabs (`/v1/music`) on one loopback `FakeHttpServer` whose every path is answered by
    `reply`."""

    def __init__(self, video_polls_before_done: int = 2) -> None:
        self.images: list[bytes] = []
        self.videos: dict[str, dict[str, Any]] = {}
        self.video_polls_before_done = video_polls_before_done
        self.counter = 0
        self._lock = threading.Lock()
        self.server = FakeHttpServer()
        self.server.fallback = Reply(handler=self.reply)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def start(self) -> "VendorSimulator":
        self.server.start()
        return self

    def close(self) -> None:
        self.server.close()

    def seen(self, path_prefix: str) -> list[Recorded]:
        return [r for r in list(self.requests) if r.path.startswith(path_prefix)]

    def next_number(self) -> int:
        with self._lock:
            self.counter += 1
            return self.counter

    # ------------------------------------------------------------------ replies

    def reply(self, seen: Recorded) -> Reply:
        path = seen.path
        if seen.headers.get("authorization") is None and seen.headers.get("xi-api-key") is None:
            return Reply(status=401, json={"error": {"message": "missing key", "type": "auth"}})
        if path == "/v1/responses":
            return self._responses(seen.body)
        if path == "/v1/chat/completions":
            return self._chat(seen.body)
        if path in ("/v1/images/generations", "/v1/images/edits"):
            return self._image(seen)
        if path == "/v1/videos" and seen.method == "POST":
            return self._video_create()
        if path.startswith("/v1/videos/") and seen.method == "DELETE":
            return Reply(status=200, json={"id": path.split("/")[3], "object": "video", "deleted": True})
        if path.startswith("/v1/videos/"):
            return self._video_get(path)
        if path == "/v1/music":
            return Reply(body=b"ID3\x04fake music " + str(self.next_number()).encode(),
                         content_type="audio/mpeg")
        return Reply(status=404, json={"error": {"message": f"no route {path}"}})

    def _structured(self, schema: dict[str, Any] | None) -> str:
        if schema is None:
            return f"Plain answer {self.next_number()}"
        return json.dumps(generate_mock(schema, self.next_number()))

    def _responses(self, body: dict[str, Any]) -> Reply:
        fmt = ((body.get("text") or {}).get("format") or {})
        text = self._structured(fmt.get("schema") if fmt.get("type") == "json_schema" else None)
        model = str(body.get("model") or "gpt-4.1")
        if body.get("stream"):
            events = responses_stream([text[: len(text) // 2], text[len(text) // 2:]], model=model)
            return Reply(sse=events)
        return Reply(status=200, json=responses_body(text, model=model))

    def _chat(self, body: dict[str, Any]) -> Reply:
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" \
            else None
        return Reply(status=200, json=chat_body(self._structured(schema), model=str(body.get("model"))))

    def _image(self, seen: Recorded) -> Reply:
        count = 1
        if seen.path == "/v1/images/generations":
            count = int((seen.body or {}).get("n") or 1)
        data = []
        for _ in range(count):
            image = PNG_MAGIC + f"fake image {self.next_number()}".encode()
            with self._lock:
                self.images.append(image)
            data.append({"b64_json": base64.b64encode(image).decode()})
        return Reply(status=200, json={"created": 1767225600, "data": data,
                           "usage": {"input_tokens": 50, "output_tokens": 4000,
                                     "total_tokens": 4050}})

    def _video_create(self) -> Reply:
        video_id = f"video_{self.next_number()}"
        with self._lock:
            self.videos[video_id] = {"polls": 0, "bytes": b"\x00\x00\x00\x18ftypmp42 " +
                                     video_id.encode()}
        return Reply(status=200, json={"id": video_id, "object": "video", "status": "queued", "progress": 0,
                           "model": "sora-2", "seconds": "4", "size": "720x1280"})

    def _video_get(self, path: str) -> Reply:
        parts = path.split("/")
        video = self.videos.get(parts[3])
        if video is None:
            return Reply(status=404, json={"error": {"message": "no such video"}})
        if len(parts) > 4 and parts[4] == "content":
            return Reply(body=video["bytes"], content_type="video/mp4")
        with self._lock:
            video["polls"] += 1
            done = video["polls"] > self.video_polls_before_done
        status = "completed" if done else "in_progress"
        return Reply(status=200, json={"id": parts[3], "object": "video", "status": status,
                           "progress": 100 if done else 50 * video["polls"],
                           "model": "sora-2", "seconds": "4", "size": "720x1280"})

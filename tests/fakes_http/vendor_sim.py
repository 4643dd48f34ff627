"""A stateful fake of the OpenAI and ElevenLabs APIs for whole-workflow runs on loopback.

Unlike the scripted `FakeHttpServer`, replies are computed from the request: structured-output
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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engine.mock_data import generate_mock
from tests.fakes_http.openai_shapes import chat_body, responses_body, responses_stream

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class VendorSimulator:
    """OpenAI (`/v1/responses`, `/v1/chat/completions`, `/v1/images/*`, `/v1/videos*`) and
    ElevenLabs (`/v1/music`) on one loopback port."""

    def __init__(self, video_polls_before_done: int = 2) -> None:
        self.requests: list[Seen] = []
        self.images: list[bytes] = []
        self.videos: dict[str, dict[str, Any]] = {}
        self.video_polls_before_done = video_polls_before_done
        self.counter = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "VendorSimulator":
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def seen(self, path_prefix: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def next_number(self) -> int:
        with self._lock:
            self.counter += 1
            return self.counter

    # ------------------------------------------------------------------ replies

    def reply(self, seen: Seen) -> tuple[int, str, bytes | list[bytes]]:
        path = seen.path.split("?", 1)[0]
        if seen.headers.get("authorization") is None and seen.headers.get("xi-api-key") is None:
            return _json(401, {"error": {"message": "missing key", "type": "auth"}})
        if path == "/v1/responses":
            return self._responses(seen.json())
        if path == "/v1/chat/completions":
            return self._chat(seen.json())
        if path in ("/v1/images/generations", "/v1/images/edits"):
            return self._image(seen)
        if path == "/v1/videos" and seen.method == "POST":
            return self._video_create()
        if path.startswith("/v1/videos/") and seen.method == "DELETE":
            return _json(200, {"id": path.split("/")[3], "object": "video", "deleted": True})
        if path.startswith("/v1/videos/"):
            return self._video_get(path)
        if path == "/v1/music":
            return 200, "audio/mpeg", b"ID3\x04fake music " + str(self.next_number()).encode()
        return _json(404, {"error": {"message": f"no route {path}"}})

    def _structured(self, schema: dict[str, Any] | None) -> str:
        if schema is None:
            return f"Plain answer {self.next_number()}"
        return json.dumps(generate_mock(schema, self.next_number()))

    def _responses(self, body: dict[str, Any]) -> tuple[int, str, bytes | list[bytes]]:
        fmt = ((body.get("text") or {}).get("format") or {})
        text = self._structured(fmt.get("schema") if fmt.get("type") == "json_schema" else None)
        model = str(body.get("model") or "gpt-4.1")
        if body.get("stream"):
            events = responses_stream([text[: len(text) // 2], text[len(text) // 2:]], model=model)
            return 200, "text/event-stream", [_sse(name, data) for name, data in events]
        return _json(200, responses_body(text, model=model))

    def _chat(self, body: dict[str, Any]) -> tuple[int, str, bytes | list[bytes]]:
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" \
            else None
        return _json(200, chat_body(self._structured(schema), model=str(body.get("model"))))

    def _image(self, seen: Seen) -> tuple[int, str, bytes | list[bytes]]:
        count = 1
        if seen.path.startswith("/v1/images/generations"):
            count = int((seen.json() or {}).get("n") or 1)
        data = []
        for _ in range(count):
            image = PNG_MAGIC + f"fake image {self.next_number()}".encode()
            with self._lock:
                self.images.append(image)
            data.append({"b64_json": base64.b64encode(image).decode()})
        return _json(200, {"created": 1767225600, "data": data,
                           "usage": {"input_tokens": 50, "output_tokens": 4000,
                                     "total_tokens": 4050}})

    def _video_create(self) -> tuple[int, str, bytes | list[bytes]]:
        video_id = f"video_{self.next_number()}"
        with self._lock:
            self.videos[video_id] = {"polls": 0, "bytes": b"\x00\x00\x00\x18ftypmp42 " +
                                     video_id.encode()}
        return _json(200, {"id": video_id, "object": "video", "status": "queued", "progress": 0,
                           "model": "sora-2", "seconds": "4", "size": "720x1280"})

    def _video_get(self, path: str) -> tuple[int, str, bytes | list[bytes]]:
        parts = path.split("/")
        video = self.videos.get(parts[3])
        if video is None:
            return _json(404, {"error": {"message": "no such video"}})
        if len(parts) > 4 and parts[4] == "content":
            return 200, "video/mp4", video["bytes"]
        with self._lock:
            video["polls"] += 1
            done = video["polls"] > self.video_polls_before_done
        status = "completed" if done else "in_progress"
        return _json(200, {"id": parts[3], "object": "video", "status": status,
                           "progress": 100 if done else 50 * video["polls"],
                           "model": "sora-2", "seconds": "4", "size": "720x1280"})


def _json(status: int, body: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()


def _sse(name: str | None, data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return ((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode()


def _handler(sim: VendorSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen = Seen(method, self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            with sim._lock:
                sim.requests.append(seen)
            status, content_type, payload = sim.reply(seen)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Connection", "close")
            if isinstance(payload, bytes):
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.end_headers()
            for frame in payload:
                self.wfile.write(frame)
                self.wfile.flush()
            self.close_connection = True

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler

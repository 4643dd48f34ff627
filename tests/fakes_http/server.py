"""A small threaded HTTP server on 127.0.0.1:<free port> with scripted replies per route.

Provider clients are tested against real sockets rather than mocks of httpx, so timeouts,
stream stalls, cancellation (closing the connection) and header parsing are exercised the way
they happen in production. Every reply waits on the server's `closing` event instead of
sleeping, so a stalled handler ends as soon as the test closes the server.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

import pytest


@dataclass
class Reply:
    """One scripted reply: a JSON body, raw bytes (`body` + `content_type`), an SSE stream
    (optionally stalling after N events), or a `handler` computing the reply from the request."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    content_type: str = "application/octet-stream"
    handler: Callable[["Recorded"], "Reply"] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0                      # before the status line
    sse: list[tuple[str | None, Any]] | None = None
    sse_gap_s: float = 0.0                    # between SSE events
    stall_after: int | None = None            # hold the stream open after this many events


@dataclass
class Recorded:
    """A received request. JSON bodies are decoded; multipart bodies become `{field: value or
    file name}` with the file parts (`filename`, `content_type`, `data`) in `files`."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: bytes = b""


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    files: dict[str, dict[str, Any]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            fields[name] = filename
            files[name] = {"filename": filename, "content_type": part.get_content_type(),
                           "data": data}
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


class FakeHttpServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self._last: dict[str, Reply] = {}
        self.requests: list[Recorded] = []
        #: the reply for a path nothing was scripted for (e.g. a `handler` serving every path)
        self.fallback: Reply | None = None
        self.closing = threading.Event()
        self.disconnects = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *replies: Reply) -> None:
        """Queue replies for `path`; once drained, the last reply served repeats."""
        with self._lock:
            self.routes.setdefault(path, []).extend(replies)

    def next_reply(self, path: str) -> Reply:
        with self._lock:
            queue = self.routes.get(path) or []
            if queue:
                self._last[path] = queue.pop(0)
            reply = self._last.get(path) or self.fallback
            if reply is None:
                return Reply(status=404, json={"error": {"message": f"no script for {path}"}})
            return reply

    def record(self, item: Recorded) -> None:
        with self._lock:
            self.requests.append(item)

    def start(self) -> "FakeHttpServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: FakeHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def do_POST(self) -> None:
            self._handle()

        def do_GET(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def _read(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or ""
            files: dict[str, dict[str, Any]] = {}
            body: Any
            if content_type.startswith("multipart/form-data"):
                body, files = _parse_multipart(content_type, raw)
            else:
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
            path, _, query = self.path.partition("?")
            return Recorded(self.command, path, {k.lower(): v for k, v in self.headers.items()},
                            body, dict(parse_qsl(query)), files, raw)

        def _handle(self) -> None:
            recorded = self._read()
            server.record(recorded)
            reply = server.next_reply(recorded.path)
            if reply.handler is not None:
                reply = reply.handler(recorded)
            if reply.delay_s and server.closing.wait(reply.delay_s):
                return
            try:
                if reply.sse is not None:
                    self._stream(reply)
                elif reply.body is not None:
                    self._bytes(reply)
                else:
                    self._json(reply)
            except (BrokenPipeError, ConnectionResetError):
                server.disconnects += 1

        def _bytes(self, reply: Reply, content_type: str | None = None,
                   data: bytes | None = None) -> None:
            if data is None:
                data = reply.body or b""
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type or reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _json(self, reply: Reply) -> None:
            data = json.dumps(reply.json if reply.json is not None else {}).encode()
            self._bytes(reply, "application/json", data)

        def _stream(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            for index, (event, data) in enumerate(reply.sse or []):
                if reply.stall_after is not None and index >= reply.stall_after:
                    break
                if index and reply.sse_gap_s and server.closing.wait(reply.sse_gap_s):
                    return
                text = data if isinstance(data, str) else json.dumps(data)
                frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
                self.wfile.write(frame.encode())
                self.wfile.flush()
            if reply.stall_after is not None:
                server.closing.wait()      # hold the connection open until the server closes
            self.close_connection = True

    return Handler


@pytest.fixture
def fake_server() -> Iterator[FakeHttpServer]:
    server = FakeHttpServer().start()
    try:
        yield server
    finally:
        server.close()

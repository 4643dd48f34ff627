"""A minimal HTTP/1.1 client over asyncio streams, for the storm bench (bench/storm_bench.py).

A storm of hundreds of concurrent 1 MB requests through a full-featured client would spend more
CPU in the client than in the server on a 2-core machine; this one writes prepared request bytes
and reads the status line, headers and a `Content-Length` body, nothing else. It tells a
response apart from a connection that was reset or closed before a complete response arrived
(what the bench counts as a reset). The request is written while the response is awaited, so an
early answer (a 503 before the body was read) is seen as soon as the server sends it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

RESET_ERRORS = (ConnectionError, asyncio.IncompleteReadError, EOFError, OSError)


@dataclass
class Outcome:
    status: int  # 0: no complete response (reset, refused, closed early)
    elapsed_ms: float
    error: str = ""


def build_request(method: str, path: str, body: bytes = b"", *, host: str = "127.0.0.1",
                  headers: dict[str, str] | None = None, keep_alive: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    if body or method in ("POST", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection; `send` reconnects when the previous one is gone."""

    def __init__(self, host: str, port: int, timeout_s: float = 60.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, request: bytes, *, chunk: int = 65536, pause_s: float = 0.0,
                   finish_body: bool = False) -> Outcome:
        """Send `request` and read one response, writing 64 KiB at a time as HTTP clients do
        (`chunk`/`pause_s` send it slowly); an answer that arrives first stops the sending. The time
        is from the established connection to the complete response (the server's answer
        time, the accept included; not the client's own connect scheduling)."""
        began = time.perf_counter()
        try:
            if self.writer is None:
                await self._open()
            began = time.perf_counter()
            assert self.reader is not None and self.writer is not None
            sender = asyncio.ensure_future(self._write(request, chunk, pause_s))
            sender.add_done_callback(_consume)
            try:
                status, keep = await asyncio.wait_for(self._read_response(), self.timeout_s)
            except BaseException:
                sender.cancel()
                raise
            if not sender.done() and finish_body:
                await sender  # send the rest: the server reads and drops it, and the
                # connection stays usable for the next request
            elif not sender.done():
                sender.cancel()  # answered before the body was sent: stop sending
                keep = False
            if not keep:
                self.close()
            return Outcome(status, (time.perf_counter() - began) * 1000)
        except asyncio.TimeoutError:
            self.close()
            return Outcome(0, (time.perf_counter() - began) * 1000, "timeout")
        except RESET_ERRORS as exc:
            self.close()
            return Outcome(0, (time.perf_counter() - began) * 1000, type(exc).__name__)

    async def _write(self, request: bytes, chunk: int, pause_s: float) -> None:
        assert self.writer is not None
        for start in range(0, len(request), chunk):
            self.writer.write(request[start:start + chunk])
            await self.writer.drain()
            await asyncio.sleep(pause_s)  # 0: let the reader see an early answer

    async def _read_response(self) -> tuple[int, bool]:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            await self.reader.readexactly(length)
        return status, headers.get("connection", "").lower() != "close"


def _consume(task: "asyncio.Future[None]") -> None:
    """A write that failed after the answer arrived is not an error of the exchange."""
    if not task.cancelled():
        task.exception()


async def one_shot(host: str, port: int, request: bytes, timeout_s: float = 60.0) -> Outcome:
    """A fresh connection for one request (a burst of new clients)."""
    conn = Connection(host, port, timeout_s)
    try:
        return await conn.send(request)
    finally:
        conn.close()

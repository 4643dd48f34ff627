"""A minimal HTTP/1.1 client over raw non-blocking sockets, for the storm bench (bench/storm_bench.py).

A storm of hundreds of concurrent 1 MB requests through a full-featured client would spend more
CPU in the client than in the server on a 2-core machine; this one writes prepared request bytes
and reads the status line, headers and a `Content-Length` body, nothing else. It tells a
response apart from a connection that was reset or closed before a complete response arrived
(what the bench counts as a reset). The request is written while the response is awaited, so an
early answer (a 503 before the body was read) is seen as soon as the server sends it.

Two times per exchange, because on a 2-core box the bench's own clients share the server's
cores: with 200 of them writing 1 MB bodies, the client's event loop reaches a connection's
first write, and later an answer that has already arrived, several milliseconds late.
- `elapsed_ms`, *as the client saw it*: from the established connection to the complete
  response read by the client's loop (what the bench always reported);
- `answer_ms`, *the server's answer time*: from the moment the request's first bytes went into
  the socket to the moment the kernel received the answer's first bytes (`SO_TIMESTAMPNS`, the
  receive timestamp Linux attaches to each segment). None where the kernel gives no timestamp.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass

RESET_ERRORS = (ConnectionError, asyncio.IncompleteReadError, EOFError, OSError)
#: Linux's option number (the `socket` module of Python 3.11 does not name it)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_ANCILLARY = socket.CMSG_SPACE(16)


@dataclass
class Outcome:
    status: int  # 0: no complete response (reset, refused, closed early)
    elapsed_ms: float
    error: str = ""
    answer_ms: float | None = None


def build_request(method: str, path: str, body: bytes = b"", *, host: str = "127.0.0.1",
                  headers: dict[str, str] | None = None, keep_alive: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    if body or method in ("POST", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Incoming:
    """What arrived on one socket: the bytes, the kernel timestamp of the first bytes since the
    last `take`, and whether the peer closed or reset."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.first_ts: float | None = None
        self.error: BaseException | None = None
        self.eof = False
        self.waiter: asyncio.Future[None] | None = None

    def readable(self) -> None:
        try:
            data, ancillary, _flags, _addr = self.sock.recvmsg(262144, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.error = exc
        else:
            for level, kind, raw in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS \
                        and self.first_ts is None and len(raw) >= 16:
                    seconds, nanos = struct.unpack("qq", raw[:16])
                    self.first_ts = seconds + nanos / 1e9
            if data:
                self.buffer += data
            else:
                self.eof = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def more(self) -> None:
        """Wait for more bytes; raises what ended the connection instead."""
        if self.error is not None:
            raise self.error
        if self.eof:
            raise asyncio.IncompleteReadError(bytes(self.buffer), None)
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter


class Connection:
    """One keep-alive connection; `send` reconnects when the previous one is gone."""

    def __init__(self, host: str, port: int, timeout_s: float = 60.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.sock: socket.socket | None = None
        self.incoming: _Incoming | None = None

    async def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass  # no kernel timestamps: `answer_ms` stays None
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, (self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock, self.incoming = sock, _Incoming(sock)
        loop.add_reader(sock.fileno(), self.incoming.readable)

    def close(self) -> None:
        if self.sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
            except RuntimeError:
                pass  # no running loop: nothing is registered any more
            self.sock.close()
        self.sock = self.incoming = None

    async def send(self, request: bytes, *, chunk: int = 65536, pause_s: float = 0.0,
                   finish_body: bool = False) -> Outcome:
        """Send `request` and read one response, writing 64 KiB at a time as HTTP clients do
        (`chunk`/`pause_s` send it slowly); an answer that arrives first stops the sending. The time
        is from the established connection to the complete response (the server's answer
        time, the accept included; not the client's own connect scheduling)."""
        began = time.perf_counter()
        try:
            if self.sock is None:
                await self._open()
            began = time.perf_counter()
            assert self.incoming is not None
            self.incoming.first_ts = None
            written: list[float] = []
            sender = asyncio.ensure_future(self._write(request, chunk, pause_s, written))
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
            answered = self.incoming.first_ts
            answer_ms = (answered - written[0]) * 1000 if answered and written else None
            if not keep:
                self.close()
            return Outcome(status, (time.perf_counter() - began) * 1000, answer_ms=answer_ms)
        except TimeoutError:
            self.close()
            return Outcome(0, (time.perf_counter() - began) * 1000, "timeout")
        except RESET_ERRORS as exc:
            self.close()
            return Outcome(0, (time.perf_counter() - began) * 1000, type(exc).__name__)

    async def _write(self, request: bytes, chunk: int, pause_s: float,
                     written: list[float]) -> None:
        """Write the request; `written` gets the wall-clock time of its first bytes (the
        clock of the kernel's receive timestamps)."""
        assert self.sock is not None
        loop = asyncio.get_running_loop()
        view = memoryview(request)
        for start in range(0, len(request), chunk):
            if not written:
                written.append(time.time())
            await loop.sock_sendall(self.sock, view[start:start + chunk])
            await asyncio.sleep(pause_s)  # 0: let the reader see an early answer

    async def _read_response(self) -> tuple[int, bool]:
        incoming = self.incoming
        assert incoming is not None
        while (end := incoming.buffer.find(b"\r\n\r\n")) < 0:
            await incoming.more()
        lines = bytes(incoming.buffer[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        total = end + 4 + int(headers.get("content-length", "0"))
        while len(incoming.buffer) < total:
            await incoming.more()
        del incoming.buffer[:total]
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

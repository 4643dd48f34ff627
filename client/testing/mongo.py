"""A real MongoDB wire-protocol server for tests: an ephemeral in-memory `secantusdb`.

`running_secantus()` starts `secantusd-py --storage-path :memory:` on a free loopback port,
waits until it answers a ping (bounded), yields its URI and stops the process at the end. The
project's own store tests (storage.md §6, ST-16, tests/contract/secantus_server.py) and the
pytest plugin's `wfe_mongodb_uri` fixture both start it from here. It needs the `secantusdb`
package (a test dependency) and pymongo.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 30.0


def secantus_command() -> list[str]:
    """The launcher of the interpreter running the tests (a venv's bin is often not on PATH)."""
    beside = Path(sys.executable).parent / "secantusd-py"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("secantusd-py")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from secantus.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(uri: str) -> bool:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=300,
                                                      connectTimeoutMS=300)
    try:
        return bool(client.admin.command("ping").get("ok"))
    except Exception:  # noqa: BLE001 - not up yet
        return False
    finally:
        client.close()


@contextmanager
def running_secantus(timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Start an ephemeral secantusd on 127.0.0.1 and yield `mongodb://127.0.0.1:<port>`."""
    log = tempfile.NamedTemporaryFile(prefix="secantusd-", suffix=".log", delete=False)  # noqa: SIM115 - closed in the finally below
    proc: subprocess.Popen[bytes] | None = None
    try:
        for _attempt in range(3):  # a port taken between probe and bind: try another one
            port = free_port()
            uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
            proc = subprocess.Popen(
                [*secantus_command(), "--host", "127.0.0.1", "--port", str(port),
                 "--storage-path", ":memory:", "--log-level", "WARNING"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=tempfile.gettempdir(), env={**os.environ, "PYTHONUNBUFFERED": "1"})
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and proc.poll() is None:
                if _answers_ping(uri):
                    break
                time.sleep(0.1)
            if proc.poll() is None and _answers_ping(uri):
                yield uri
                return
            _stop(proc)
            proc = None
        output = Path(log.name).read_text(errors="replace")[-4000:]
        raise RuntimeError(f"secantusd did not start within {timeout_s} s:\n{output}")
    finally:
        if proc is not None:
            _stop(proc)
        log.close()
        os.unlink(log.name)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


__all__ = ["START_TIMEOUT_S", "free_port", "running_secantus", "secantus_command"]

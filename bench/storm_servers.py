"""Live servers for the storm bench: secantusd, the production and the virtual server, each a
subprocess on a free loopback port started the way a deployment starts it (`python -m ...`)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "storm-bench-secret-0123456789abcdef"
PASSWORD = "storm-bench-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str | None = None,
            ) -> Iterator[subprocess.Popen[bytes]]:
    log = tempfile.NamedTemporaryFile(prefix="storm-", suffix=".log", delete=False)
    proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        if ready_url:
            try:
                wait_http(ready_url, proc)
            except RuntimeError:
                print(Path(log.name).read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()
        os.unlink(log.name)


@contextmanager
def secantus() -> Iterator[str]:
    port = free_port()
    launcher = Path(sys.executable).parent / "secantusd-py"
    args = [str(launcher)] if launcher.exists() else [
        sys.executable, "-c", "import sys; from secantus.cli import main; sys.exit(main())"]
    with process([*args, "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:",
                  "--log-level", "WARNING"], {}):
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        from pymongo import MongoClient

        deadline = time.monotonic() + 60
        while True:
            client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=500)  # type: ignore[type-arg]
            try:
                client.admin.command("ping")
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                client.close()
        yield uri


@contextmanager
def virtual_server(extra_env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    env = {"WFE_VIRTUAL_AUTH_REQUIRED": "false", "WFE_JWT_SECRET": SECRET, **extra_env}
    with process([sys.executable, "-m", "virtual_server", "--host", "127.0.0.1", "--port",
                  str(port)], env, f"http://127.0.0.1:{port}/health"):
        yield port


def _create_user(uri: str, database: str) -> None:
    from db.mongo_adapter import MongoAdapter
    from production_server.admin import create_user

    async def run() -> None:
        adapter = MongoAdapter.connect(uri, database)
        try:
            await create_user(adapter, "storm", PASSWORD)
        finally:
            await adapter.close()

    asyncio.run(run())


@contextmanager
def production_server(uri: str, extra_env: dict[str, str]) -> Iterator[tuple[int, str]]:
    """The production server on `uri`; yields its port and a user's access token."""
    port = free_port()
    database = f"storm_{os.getpid()}_{port}"
    env = {"WFE_MONGODB_URI": uri, "WFE_MONGODB_DATABASE": database, "WFE_JWT_SECRET": SECRET,
           "WFE_ALLOW_MOCK_RUNS": "true", **extra_env}
    with process([sys.executable, "-m", "production_server", "--host", "127.0.0.1", "--port",
                  str(port)], env, f"http://127.0.0.1:{port}/health"):
        _create_user(uri, database)
        login = httpx.post(f"http://127.0.0.1:{port}/auth/login",
                           json={"identifier": "storm", "password": PASSWORD}, timeout=30)
        login.raise_for_status()
        yield port, str(login.cookies["access_token"])

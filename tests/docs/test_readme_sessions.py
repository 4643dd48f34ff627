"""Issue 11: the README's worked sessions run as written against `scripts/serve`, so they cannot rot.

`scripts/serve` itself is started the way the README says (only its documented port and data
variables point it at free ports and a temporary folder). Each bash block preceded by
`<!-- docs-test: NAME -->` runs in a new `bash -euo pipefail` from the repository root with
`TMPDIR` set to a temporary folder (the sessions write their files under `mktemp -d`); the
`text` block after `<!-- docs-test-output -->` lists lines that must appear in its output, in
order (`…` stands for any text). Nothing may be written into the repository. No internet.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
SESSION = re.compile(
    r"<!-- docs-test: (?P<name>[\w-]+) -->\s*```bash\n(?P<code>.*?)```"
    r"(?:\s*<!-- docs-test-output -->\s*```text\n(?P<out>.*?)```)?", re.S)
START_TIMEOUT_S = 600  # a first start installs the project's "dev" extra into .venv


def sessions() -> list[tuple[str, str, str]]:
    return [(m["name"], m["code"], m["out"] or "") for m in SESSION.finditer(README.read_text())]


def _free_ports(count: int) -> list[int]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
    ports = [s.getsockname()[1] for s in socks]
    for sock in socks:
        sock.close()
    return ports


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Serve:
    """`scripts/serve` as a user runs it, on free ports with its data in a temporary folder."""

    def __init__(self, data: Path) -> None:
        prod, virt, mongo = _free_ports(3)
        self.ports = {"production": prod, "virtual": virt, "mongo": mongo}
        self.data = data
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("WFE_", "OPENAI_", "ANTHROPIC_"))}
        self.env = {**env, "WFE_PRODUCTION_PORT": str(prod), "WFE_VIRTUAL_PORT": str(virt),
                    "WFE_MONGO_PORT": str(mongo), "WFE_DATA_DIR": str(data)}
        self.proc: subprocess.Popen[str] | None = None
        self.block = ""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")], cwd=ROOT, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        assert self.proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT_S
        rules = 0
        while rules < 2:
            line = self.proc.stdout.readline()
            assert line and time.monotonic() < deadline, "scripts/serve ended:\n" + "".join(lines)
            lines.append(line)
            rules += line.startswith("-----")
        self.block = "".join(lines)
        # keep reading its (log) output so the pipe never fills
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for _line in self.proc.stdout:
            pass

    def stop(self) -> None:
        """What Ctrl-C does (SIGTERM here: a background job ignores SIGINT); all three stop."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        finally:
            self.proc = None

    def url(self, server: str) -> str:
        return f"http://localhost:{self.ports[server]}"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    server = Serve(tmp_path_factory.mktemp("wfe-data"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_readme_has_its_sessions() -> None:
    names = [name for name, _code, _out in sessions()]
    assert {"cli", "preview", "production", "admin"} <= set(names)
    assert len(names) == len(set(names))
    text = README.read_text()
    # commands shown to be pasted use the project's interpreter, never a bare `python`
    assert not re.search(r"(^|[\s(`$])python3? (-m|-c|bench/)", text, re.M)


def test_serve_prints_one_usable_block(serve: Serve) -> None:
    block = serve.block
    password = (serve.data / "dev-admin-password").read_text().strip()
    for server in ("production", "virtual"):
        assert f"{serve.url(server)}      docs: {serve.url(server)}/schema" in block
        assert httpx.get(serve.url(server) + "/schema/openapi.json", timeout=10).status_code == 200
    assert f"login       admin / {password}" in block
    token = re.search(r"token\s+(\S+)", block)
    assert token is not None
    me = httpx.get(serve.url("production") + "/auth/me", timeout=10,
                   headers={"Authorization": f"Bearer {token[1]}"})
    assert me.status_code == 200 and me.json()["role"] == "admin"
    claims = json.loads(base64.urlsafe_b64decode(token[1].split(".")[1] + "=="))
    assert claims["sub"] == me.json()["user_id"] and claims["type"] == "access"
    assert (serve.data / "mongo").is_dir() and any((serve.data / "mongo").iterdir())


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("name", "code", "expected"), sessions(), ids=[s[0] for s in sessions()])
def test_readme_session(serve: Serve, tmp_path: Path, name: str, code: str, expected: str) -> None:
    before = _git_status()
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=ROOT,
                          env={**serve.env, "TMPDIR": str(tmp_path)}, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"session {name} failed:\n{output}"
    _assert_lines_in_order(expected, done.stdout, name)
    assert _git_status() == before, "the session wrote into the repository"


def _assert_lines_in_order(expected: str, output: str, name: str) -> None:
    lines = output.splitlines()
    position = 0
    for want in (line for line in expected.splitlines() if line.strip()):
        pattern = re.compile("^" + ".*".join(re.escape(part) for part in want.split("…")) + "$")
        while position < len(lines) and not pattern.match(lines[position]):
            position += 1
        assert position < len(lines), f"session {name}: no line like {want!r} (in order) in:\n{output}"
        position += 1


def test_serve_restart_keeps_the_data_and_stops_everything(serve: Serve) -> None:
    """Stopping ends the database and both servers; starting again finds the runs and the
    login of before (the data folder is the database's)."""
    token = re.search(r"token\s+(\S+)", serve.block)
    assert token is not None
    headers = {"Authorization": f"Bearer {token[1]}"}
    before = httpx.get(serve.url("production") + "/workflows/active?include_mock=true",
                       headers=headers, timeout=10)
    assert before.status_code == 200 and before.json()["count"] >= 1  # the sessions' demo run
    serve.stop()
    assert not any(_port_open(port) for port in serve.ports.values())
    serve.start()
    assert "login       admin / " in serve.block
    after = httpx.get(serve.url("production") + "/workflows/active?include_mock=true",
                      headers=headers, timeout=10)
    assert after.status_code == 200 and after.json() == before.json()
    logs = (serve.data / "logs" / "production.log").read_text()
    assert "development admin user 'admin' kept" in logs

"""Issue 11 / spec 002: deploy/ — the compose file parses and is consistent, and nginx with the
same config template puts both live servers behind one origin with SSE passing unbuffered.

nginx is the Debian package (`.ci/run` installs it). Missing nginx fails this test: the deploy
config would otherwise go untested.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from production_server.admin import create_user
from tests.acceptance.production_client import PASSWORD, SECRET
from tests.conftest import ROOT
from tests.e2e.test_production_sse_live import Live
from tests.fakes import FakeLLMProvider, llm_result

DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "nginx" / "wfe.conf.template"
PLACEHOLDER = re.compile(r"\$\{(WFE_[A-Z_]+)\}")
HOLD_S = 2.0  # how long the fake LLM holds the run while progress frames flow
WORKFLOW = {"workflow_id": "nginx_sse", "steps": [{"step_id": "s", "modules": [
    {"module_id": "user.text_input", "name": "ask", "inputs": {"prompt": "Topic?"}},
    {"module_id": "api.llm", "name": "write", "inputs": {"input": "Write about it"}},
]}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst does: fill `${WFE_*}`; nginx's own `$vars` stay."""
    missing = set(PLACEHOLDER.findall(template)) - set(values)
    assert not missing, f"no value for {missing}"
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


# ---------------------------------------------------------------------- the compose file


def test_compose_file_is_consistent() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"mongo", "production", "virtual", "nginx"}
    dockerfile = DEPLOY / "Dockerfile"
    targets = set(re.findall(r"^FROM \S+ AS (\w+)$", dockerfile.read_text(), re.M))
    for name, port in (("production", "9000"), ("virtual", "9001")):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == dockerfile.resolve()
        assert build["target"] in targets
        env = services[name]["environment"]
        assert env["WFE_JWT_SECRET"].startswith("${WFE_JWT_SECRET:?")  # required, never baked in
        assert env["OPENAI_API_KEY"] == "${OPENAI_API_KEY:-}"  # the merged provider keys
        assert f"ENV WFE_PORT={port}" in dockerfile.read_text()
    for name in ("production", "virtual"):  # one user database for both servers
        assert services[name]["environment"]["WFE_MONGODB_URI"] == "mongodb://mongo:27017"
        assert services[name]["depends_on"]["mongo"]["condition"] == "service_healthy"
    nginx = services["nginx"]
    mount = nginx["volumes"][0].split(":")
    assert (DEPLOY / mount[0]).resolve() == TEMPLATE.resolve()
    assert mount[1] == "/etc/nginx/templates/default.conf.template"
    env = nginx["environment"]
    assert set(PLACEHOLDER.findall(TEMPLATE.read_text())) <= set(env)
    assert env["WFE_PRODUCTION_UPSTREAM"] == "production:9000"
    assert env["WFE_VIRTUAL_UPSTREAM"] == "virtual:9001"
    assert nginx["ports"] == ["${WFE_HTTP_PORT:-8080}:" + env["WFE_LISTEN_PORT"]]


# ---------------------------------------------------------------------- nginx in front


def _nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)
    if found is None:
        pytest.fail("nginx is not installed (Debian: apt-get install -y nginx; .ci/run does it)")
    return found


class Nginx:
    def __init__(self, workdir: Path, production: int, virtual: int) -> None:
        self.port = _free_port()
        self.dir = workdir
        conf = render(TEMPLATE.read_text(), {
            "WFE_LISTEN_PORT": f"127.0.0.1:{self.port}",
            "WFE_PRODUCTION_UPSTREAM": f"127.0.0.1:{production}",
            "WFE_VIRTUAL_UPSTREAM": f"127.0.0.1:{virtual}"})
        (workdir / "wfe.conf").write_text(conf)
        temp = " ".join(f"{kind}_temp_path {workdir}/{kind};"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;" if os.geteuid() == 0 else ""
        (workdir / "nginx.conf").write_text(
            f"{user} worker_processes 1; pid {workdir}/nginx.pid; error_log {workdir}/error.log;\n"
            f"events {{ worker_connections 64; }}\n"
            f"http {{ access_log {workdir}/access.log; {temp}\n"
            f"include {workdir}/wfe.conf; }}\n")
        binary = _nginx()
        check = subprocess.run([binary, "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf"),
                                "-e", str(workdir / "error.log")], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"),
                                      "-e", str(workdir / "error.log"), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            assert self.proc.poll() is None, self.proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)  # graceful
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


@pytest.fixture
def stack(secantus_uri: str, tmp_path: Path) -> Iterator[tuple[Nginx, threading.Event, Live]]:
    release = threading.Event()
    fake = FakeLLMProvider([llm_result("a finished text")], streaming=True, block=release,
                           block_timeout=30.0)
    production = Live(secantus_uri, fake, WFE_PROGRESS_INTERVAL_S="0.2")
    production.start()
    virtual_port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WFE_")},
           "WFE_JWT_SECRET": SECRET, "WFE_MEDIA_BASE_PATH": str(tmp_path / "media")}
    virtual = subprocess.Popen([sys.executable, "-m", "virtual_server", "--host", "127.0.0.1",
                                "--port", str(virtual_port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx: Nginx | None = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{virtual_port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert virtual.poll() is None and time.monotonic() < deadline, "virtual server down"
            time.sleep(0.2)
        nginx = Nginx(tmp_path, production.port, virtual_port)
        yield nginx, release, production
    finally:
        release.set()
        if nginx is not None:
            nginx.stop()
        virtual.terminate()
        virtual.wait(timeout=30)
        production.stop()


def _frames(response: httpx.Response) -> Iterator[tuple[float, str, str]]:
    """(arrival time, event, data) of each SSE frame as it is read off the socket."""
    event, data = "", ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and event:
            yield time.monotonic(), event, data
            event, data = "", ""


def test_nginx_passes_sse_frames_one_by_one_and_serves_both_apis(
        stack: tuple[Nginx, threading.Event, Live]) -> None:
    nginx, release, production = stack
    base = nginx.base
    production.on_loop(create_user(production.services.adapter, "nginx_user", PASSWORD,
                                   ids=production.services.ids))
    login = httpx.post(base + "/auth/login", timeout=10,
                       json={"identifier": "nginx_user", "password": PASSWORD})
    assert login.status_code == 200, login.text  # the production API through nginx
    headers = {"Authorization": f"Bearer {login.cookies['access_token']}"}
    start = httpx.post(base + "/workflow/start", headers=headers, timeout=30, json={
        "project_name": "p", "workflow_content": WORKFLOW, "mock": False})
    assert start.status_code == 200, start.text
    run_id = start.json()["workflow_run_id"]
    iid = start.json()["interaction_request"]["interaction_id"]

    threading.Timer(HOLD_S, release.set).start()
    frames: list[tuple[float, str, str]] = []
    opened = time.monotonic()
    with httpx.stream("POST", f"{base}/workflow/{run_id}/stream/respond", headers=headers,
                      timeout=30, json={"interaction_id": iid, "response": {"value": "otters"}}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        frames.extend(_frames(r))
    events = [event for _at, event, _data in frames]
    terminal = [e for e in events if e in ("complete", "error", "cancelled", "interaction")]
    assert terminal == ["complete"] and events[-1] == "complete", events
    progress_times = [at - opened for at, event, _data in frames if event == "progress"]
    # frames arrived while the LLM was still held, spread over time — not in one burst at the end
    early = [t for t in progress_times if t < HOLD_S - 0.3]
    assert len(early) >= 3, progress_times
    assert max(early) - min(early) >= 0.5, progress_times
    assert frames[-1][0] - opened >= HOLD_S - 0.1

    # the virtual API on the same origin, under /virtual/, with the same token
    assert httpx.get(base + "/virtual/health", timeout=10).json()["status"] == "healthy"
    preview = httpx.post(base + "/virtual/workflow/start", headers=headers, timeout=30, json={
        "workflow": WORKFLOW, "virtual_db": None, "target_step_id": "s",
        "target_module_name": "write"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["status"] == "awaiting_input"
    assert httpx.get(base + "/health", timeout=10).json()["service"] == "production-server"

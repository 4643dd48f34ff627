"""Issue 11 on the real entry point (`python -m production_server`): a database that is not
there at startup is one log line and immediate 503s, not a hang or a traceback; the server
finishes starting when it appears; development mode creates the admin and allows mock runs;
`WFE_LOG_FORMAT=json` gives one JSON line per engine operation, execution errors at WARNING."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from client.testing.mongo import secantus_command
from tests.conftest import ROOT

SECRET = "devmode-secret-0123456789abcdef0123"
PASSWORD = "dev-admin-pw-123"
WORKFLOW = {"workflow_id": "devmode", "steps": [{"step_id": "s", "modules": [
    {"module_id": "user.text_input", "name": "ask", "inputs": {"prompt": "?"}},
    {"module_id": "no.such_module", "name": "broken", "inputs": {}}]}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_database_late_dev_admin_mock_and_json_logs(tmp_path: Path) -> None:
    mongo_port, port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WFE_")},
           "WFE_ENV": "development", "WFE_JWT_SECRET": SECRET, "WFE_DEV_ADMIN_PASSWORD": PASSWORD,
           "WFE_MONGODB_URI": f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
           "WFE_MONGODB_DATABASE": "devmode", "WFE_LOG_FORMAT": "json",
           "WFE_MEDIA_BASE_PATH": str(tmp_path / "media")}
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "production_server", "--host", "127.0.0.1",
                                   "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    mongo: subprocess.Popen[bytes] | None = None
    try:
        _wait(lambda: httpx.get(base + "/health", timeout=5).status_code == 503, 60,
              "the server did not come up without its database")
        started = time.monotonic()
        refused = httpx.post(base + "/auth/login", json={"identifier": "admin", "password": "x"},
                             timeout=10)
        assert time.monotonic() - started < 2.0  # at once, not after a driver timeout
        assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
        assert refused.json()["error_type"] == "database_unavailable"
        assert f"127.0.0.1:{mongo_port}" in refused.json()["error"]
        assert httpx.get(base + "/schema/openapi.json", timeout=10).status_code == 200
        text = log_path.read_text()
        assert text.count("cannot reach the database") == 1 and "Traceback" not in text

        mongo = subprocess.Popen([*secantus_command(), "--host", "127.0.0.1", "--port",
                                  str(mongo_port), "--storage-path", ":memory:", "--log-level",
                                  "WARNING"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        login = _wait(lambda: (r := httpx.post(base + "/auth/login", timeout=10, json={
            "identifier": "admin", "password": PASSWORD})).status_code != 503 and r, 60,
            "the server did not pick up the database")
        assert login.status_code == 200 and login.json()["role"] == "admin"
        assert "Secure" not in login.headers["set-cookie"]  # plain http://localhost in development
        headers = {"Authorization": f"Bearer {login.cookies['access_token']}"}

        start = httpx.post(base + "/workflow/start", headers=headers, timeout=30, json={
            "project_name": "p", "workflow_content": WORKFLOW, "mock": True})
        assert start.status_code == 200, start.text  # mock runs are allowed in development
        run_id = start.json()["workflow_run_id"]
        failed = httpx.post(base + "/workflow/respond", headers=headers, timeout=30, json={
            "workflow_run_id": run_id, "response": {"value": "x"},
            "interaction_id": start.json()["interaction_request"]["interaction_id"]})
        assert failed.status_code == 200 and failed.json()["status"] == "error"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if mongo is not None:
            mongo.terminate()
            mongo.wait(timeout=30)
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert records and len(records) == len(log_path.read_text().splitlines())  # all JSON
    ops = [r for r in records if r.get("logger") == "wfe.engine"]
    start_line = next(r for r in ops if r["operation"] == "start")
    assert (start_line["run_id"], start_line["outcome"], start_line["level"]) == (
        run_id, "awaiting_input", "INFO")
    error_line = next(r for r in ops if r["operation"] == "respond")
    assert (error_line["outcome"], error_line["error_type"], error_line["level"]) == (
        "error", "module_not_registered", "WARNING")
    assert isinstance(error_line["duration_ms"], float)
    assert any(r["logger"] == "uvicorn.access" and "/workflow/respond" in r["message"]
               for r in records)
    assert any("development admin user 'admin' created" in r["message"] for r in records)


def test_a_refused_mock_run_names_the_setting() -> None:
    """Outside development a mock start is refused with the variable that allows it."""
    from litestar.testing import TestClient

    from production_server.admin import create_user
    from production_server.app import create_app
    from production_server.settings import load_settings

    app = create_app(load_settings({"WFE_JWT_SECRET": SECRET, "WFE_COOKIE_SECURE": "false",
                                    "WFE_DEFAULT_MOCK": "false"}))
    with TestClient(app) as client:
        adapter = app.state.services.adapter
        client.blocking_portal.call(lambda: create_user(adapter, "molly", PASSWORD))
        login = client.post("/auth/login", json={"identifier": "molly", "password": PASSWORD})
        assert login.status_code == 200
        refused = client.post("/workflow/start", json={"project_name": "p",
                                                       "workflow_content": WORKFLOW, "mock": True})
    assert refused.status_code == 400
    body = refused.json()
    assert body["error_type"] == "mock_not_allowed" and "WFE_ALLOW_MOCK_RUNS=true" in body["error"]
    assert body["details"] == {"setting": "WFE_ALLOW_MOCK_RUNS"}

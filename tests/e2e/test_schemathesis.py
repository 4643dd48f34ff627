"""The API descriptions are honest (issue 15 item 7, issue 11 item 5): schemathesis against both
live servers' `/schema/openapi.json`, every check on, must find nothing.

Both servers run on free loopback ports (production on the secantusdb wire-protocol server),
authenticated with a real access key and a real login's access token. The checks cover what
the issue counted: responses conform to their declared schemas, schema-valid requests are
accepted, every status is declared, a 405 carries `Allow`, and more (content types, headers,
ignored auth, negative data rejected). Schema-valid production requests name a real mock run
of the user's and its pending interaction (schemathesis_hooks.py), so the run routes answer
from a run, not 404. Examples per operation are bounded and the seed fixed so both runs take
about two minutes on a loaded 2-core machine (about 4,200 production cases in 50–100 s and
2,200 virtual ones in 20–30 s); `WFE_SCHEMATHESIS_EXAMPLES` raises the bound for a deeper
local run (40: 5,440 production cases in 13 minutes, clean).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.upload import load_workflow_folder
from production_server.admin import create_invitation
from tests.conftest import CUDDLE_DIR
from tests.e2e.api_live import LiveApis, live_apis

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("WFE_SCHEMATHESIS_EXAMPLES", "10"))
TIMEOUT_S = 60 * EXAMPLES  # about ten times what a loaded 2-core machine takes


@pytest.fixture(scope="module")
def apis(secantus_uri: str) -> Iterator[LiveApis]:
    with live_apis(secantus_uri) as live:
        yield live


def _data_file(apis: LiveApis, server: str, token: str, folder: Path) -> Path:
    """What the hooks put into schema-valid requests: an invitation with uses to spare (every
    register and guest access consumes one), the real workflow, and for the virtual server a
    real blob with its run, pending interaction and target."""
    workflow = load_workflow_folder(CUDDLE_DIR, "workflow_v3.json")
    real: dict[str, object] = {"server": server, "workflow": workflow}
    if server == "production":
        services = apis.services
        real["invitation_code"] = "schemathesis-" + folder.name
        asyncio.run_coroutine_threadsafe(
            create_invitation(services.adapter, str(real["invitation_code"]), 100_000, None,
                              ids=services.ids), services.loop).result(timeout=30)
        started = httpx.post(apis.production + "/workflow/start", timeout=60,
                             headers={"X-Access-Key": apis.access_key},
                             json={"project_name": "schemathesis", "workflow_content": workflow,
                                   "mock": True})
        assert started.status_code == 200, started.text
        real["run_id"] = started.json()["workflow_run_id"]
        real["run_interaction_id"] = started.json()["interaction_request"]["interaction_id"]
    else:
        target = ["user_input", "select_pet_type"]
        started = httpx.post(apis.virtual + "/workflow/start", timeout=60,
                             headers={"Authorization": "Bearer " + token},
                             json={"workflow": workflow, "target_step_id": target[0],
                                   "target_module_name": target[1], "mock": True})
        assert started.status_code == 200, started.text
        body = started.json()
        real.update(virtual_db=body["virtual_db"], virtual_run_id=body["virtual_run_id"],
                    interaction_id=body["interaction_request"]["interaction_id"], target=target)
    path = folder / "schemathesis-data.json"
    path.write_text(json.dumps(real))
    return path


def _schemathesis(url: str, header: str, data: Path,
                  report: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
               url + "/schema/openapi.json", "--checks", "all",
               "--phases", "examples,coverage,fuzzing", "--max-examples", str(EXAMPLES),
               "--seed", "15", "--no-color", "--report", "junit",
               "--report-junit-path", str(report), "-H", header]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
           "WFE_SCHEMATHESIS_DATA": str(data), "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                          cwd=report.parent, env=env, stdin=subprocess.DEVNULL)  # its files there


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    text = result.stdout + result.stderr
    return text[-12000:]


@pytest.mark.parametrize("server", ["production", "virtual"])
def test_schemathesis_finds_nothing(apis: LiveApis, server: str, tmp_path: Path) -> None:
    """[issue 15 item 7] every check of schemathesis passes on both servers."""
    token = apis.access_token
    data = _data_file(apis, server, token, tmp_path)
    if server == "production":
        url, header = apis.production, "X-Access-Key: " + apis.access_key
    else:
        url, header = apis.virtual, "Authorization: Bearer " + token
    began = time.monotonic()
    result = _schemathesis(url, header, data, tmp_path / "junit.xml")
    elapsed = time.monotonic() - began
    (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
    print(f"schemathesis {server}: exit {result.returncode} in {elapsed:.1f} s "
          f"(output: {tmp_path / 'schemathesis.txt'})")
    assert result.returncode == 0, _summary(result)
    # it really ran: every operation of the schema tested, and hundreds of cases passed
    operations = sum(1 for item in httpx.get(url + "/schema/openapi.json").json()["paths"].values()
                     for op in item.values() if isinstance(op, dict) and "responses" in op)
    assert f"Tested: {operations}\n" in result.stdout, _summary(result)
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts is not None and counts[1] == counts[2], _summary(result)
    assert int(counts[1]) >= 100 * EXAMPLES // 10, _summary(result)

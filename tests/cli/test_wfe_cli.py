"""Issue 11: `wfe validate`, `wfe run` (example and cuddle_crew, mock, answers file) and
`wfe blob inspect`; a saved blob is a virtual_db the virtual server continues."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from rich.console import Console
from typer.testing import CliRunner

from client.cli.answers import Answers
from client.cli.app import app
from client.cli.local_run import LocalRun, RunOptions
from client.cli.run_loop import RunLoop
from engine.upload import load_workflow_folder
from tests.acceptance.script_a import EVENT_SEQUENCE_A
from tests.acceptance.virtual_support import access_token, make_app
from tests.conftest import CUDDLE_DIR, ROOT

EXAMPLE = ROOT / "examples" / "postcard"
EXAMPLE_ANSWERS = EXAMPLE / "answers.json"
CUDDLE_ANSWERS = Path(__file__).with_name("cuddle_crew_answers.json")
FAMILIES = ["api", "db", "io", "media", "prompt", "transform", "user"]
runner = CliRunner()


def wfe(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def test_validate_lists_every_family_and_writes_the_resolved_workflow(tmp_path: Path) -> None:
    out = tmp_path / "resolved.json"
    done = wfe("validate", str(EXAMPLE), "--resolved", str(out))
    assert done.exit_code == 0, done.output
    assert f"(families: {', '.join(FAMILIES)})" in done.output
    assert json.loads(out.read_text()) == load_workflow_folder(EXAMPLE, "workflow.json")


def test_validate_reports_the_broken_ref(tmp_path: Path) -> None:
    (tmp_path / "w.json").write_text(json.dumps({
        "workflow_id": "broken", "steps": [{"$ref": "steps/missing.json", "type": "json"}]}))
    done = wfe("validate", str(tmp_path))
    assert done.exit_code == 1
    assert "file not found" in done.output and "steps/missing.json" in done.output


def test_validate_needs_an_entry_when_ambiguous(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps({"workflow_id": "x", "steps": []}))
    done = wfe("validate", str(tmp_path))
    assert done.exit_code == 2 and "--entry" in done.output


def _state_of(output: str) -> dict[str, Any]:
    return json.loads(output[output.index("\n{") + 1:output.rindex("}") + 1])


def test_run_example_in_mock_mode_with_answers(tmp_path: Path) -> None:
    blob_path, files = tmp_path / "run.blob", tmp_path / "files"
    done = wfe("run", str(EXAMPLE), "--mock", "--answers", str(EXAMPLE_ANSWERS),
               "--save-blob", str(blob_path), "--files-dir", str(files), "--state")
    assert done.exit_code == 0, done.output
    assert "✓ completed: Workflow completed" in done.output
    for module in ("brief/ask_place", "draft/write_haiku", "illustrate/illustrate",
                   "deliver/all_done"):
        assert f"▸ {module}" in done.output  # the progress display names each module
    state = _state_of(done.output)
    assert state["place"] == "Porto" and state["mood"]["id"] == "playful"
    assert [r["rating"] for r in state["kept_lines"]] == [5, 4]  # the line rated 1 is left out
    assert state["picture"]["content_id"].startswith("mock-gc_")
    assert state["stamps"][0]["id"] == "mock-001" and state["weather"]["mock"] is True
    postcard = (files / "postcard.txt").read_text()
    assert postcard == state["card_text"] and "Greetings from Porto (playful)" in postcard

    # the saved blob is a virtual_db the virtual server reads
    blob = blob_path.read_text()
    client = TestClient(make_app())
    with client:
        answer = client.post("/workflow/state", json={"virtual_db": blob},
                             headers={"Authorization": f"Bearer {access_token()}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"
    assert answer.json()["state"]["place"] == "Porto"

    inspected = wfe("blob", "inspect", str(blob_path), "--json")
    assert inspected.exit_code == 0, inspected.output
    info = json.loads(inspected.output)
    (run,) = info["runs"]
    assert run["status"] == "completed" and run["mock"] is True and run["workflow"] == "postcard"
    assert run["event_types"]["module_completed"] == 16 and "kept_lines" in run["state_keys"]
    assert info["encoded_chars"] == len(blob) and info["decompressed_bytes"] > len(blob)


def test_run_cuddle_crew_in_mock_mode_with_answers(tmp_path: Path) -> None:
    """The real workflow end to end: its main run has exactly script A's 92 events."""
    blob_path = tmp_path / "cuddle.blob"
    done = wfe("run", str(CUDDLE_DIR), "--mock", "--answers", str(CUDDLE_ANSWERS),
               "--save-blob", str(blob_path))
    assert done.exit_code == 0, done.output
    assert "✓ completed: Workflow completed" in done.output
    assert "▸ sub-action image_generation" in done.output
    # a response JSON carrying the blob works as input too, from stdin
    response = json.dumps({"result": {"virtual_db": blob_path.read_text()}})
    inspected = wfe("blob", "inspect", "-", "--json", stdin=response)
    assert inspected.exit_code == 0, inspected.output
    (run,) = json.loads(inspected.output)["runs"]
    assert run["workflow"] == "cuddle_crew" and run["status"] == "completed"
    assert run["event_types"] == dict(Counter(EVENT_SEQUENCE_A))
    assert {"selected_image_id", "workflow_summary_text", "summary_file_path"} <= set(run["state_keys"])


def test_run_to_a_target_stops_there(tmp_path: Path) -> None:
    done = wfe("run", str(EXAMPLE), "--mock", "--answers", str(EXAMPLE_ANSWERS),
               "--to", "draft/write_haiku", "--state")
    assert done.exit_code == 0, done.output
    assert "Target module executed" in done.output
    state = _state_of(done.output)
    assert "draft" in state and "card" not in state
    assert "▸ draft/fetch_weather" not in done.output


def test_run_without_answers_or_terminal_names_the_module() -> None:
    done = wfe("run", str(EXAMPLE), "--mock")
    assert done.exit_code == 1
    assert "brief/ask_place asks for input" in done.output and "--answers" in done.output


def test_a_rejected_scripted_answer_stops_the_run(tmp_path: Path) -> None:
    answers = json.loads(EXAMPLE_ANSWERS.read_text())
    answers["pick_mood"] = {"selected_indices": [7]}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    done = wfe("run", str(EXAMPLE), "--mock", "--answers", str(path))
    assert done.exit_code == 1
    assert "Selection [7] does not exist" in done.output and "was rejected" in done.output


def test_bad_answers_file_and_bad_target_are_input_errors(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"ask_place": {"selected_indices": "nope"}}))
    assert wfe("run", str(EXAMPLE), "--mock", "--answers", str(path)).exit_code == 2
    assert wfe("run", str(EXAMPLE), "--mock", "--to", "draft").exit_code == 2
    unknown = wfe("run", str(EXAMPLE), "--mock", "--to", "draft/nope")
    assert unknown.exit_code == 1 and "nope" in unknown.output


def test_blob_inspect_refuses_what_is_not_a_blob(tmp_path: Path) -> None:
    path = tmp_path / "x.blob"
    path.write_text("bm90IGd6aXA=")
    done = wfe("blob", "inspect", str(path))
    assert done.exit_code == 1 and "not a valid blob" in done.output
    assert wfe("blob", "inspect", "-", stdin='{"result": {}}').exit_code == 2


def test_terminal_answers_drive_the_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interactive path: text, select, form, media (sub-action + pick), download, pause."""
    typed = "Lisbon\n3\n2\n2\n2\ny\n1\n\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    console = Console(file=io.StringIO(), force_terminal=False, width=120)
    loop = RunLoop(console, None, interactive=True, files_dir=tmp_path)
    run = LocalRun(load_workflow_folder(EXAMPLE, "workflow.json"), RunOptions(mock=True),
                   env={}, progress=loop.on_progress)
    response = loop.drive(run)
    assert response.status == "completed", console.file.getvalue()  # type: ignore[attr-defined]
    state = run.state()
    assert state["place"] == "Lisbon" and state["mood"]["id"] == "nostalgic"
    assert [r["rating"] for r in state["ratings"]] == [2, 2, 2]
    assert state["picture"]["content_id"].startswith("mock-gc_")
    assert (tmp_path / "postcard.txt").read_text() == state["card_text"]


def test_answers_by_step_and_module_and_in_order() -> None:
    answers = Answers({"s/m": [{"value": "a"}, {"value": "b"}], "m": {"value": "c"}})
    assert [answers.next_for("s", "m").fields["value"] for _ in range(3)] == ["a", "b", "c"]


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "wfe"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "validate" in done.stdout and "blob" in done.stdout

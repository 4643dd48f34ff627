"""A whole cuddle_crew run through the virtual server's HTTP API (VS-9, ACC-PARITY-1)."""

from __future__ import annotations

from typing import Any

from tests.acceptance.script_a import ANSWERS, EVENT_SEQUENCE_A
from tests.acceptance.virtual_parity import normalise, production_script_a, without_generated_line
from tests.acceptance.virtual_support import VirtualClient, decode_blob, vclient  # noqa: F401

SUMMARY = ("workflow_summary", "write_summary_file")


def lineage(blob: str, run_id: str) -> list[dict[str, Any]]:
    """The run's events by sequence (these flows never fork, so every event is in the lineage)."""
    events = decode_blob(blob)["collections"]["events"]
    return sorted((e for e in events if e["workflow_run_id"] == run_id), key=lambda e: e["sequence"])


async def test_full_run_with_auto_respond_only(vclient: VirtualClient) -> None:
    """[VS-9][ACC-V6-3][ENG-41] auto_respond to write_summary_file, then answer it: completed."""
    status, body = await vclient.start(*SUMMARY, auto_respond=True)
    assert status == 200 and body["status"] == "awaiting_input", body
    assert body["interaction_request"]["interaction_type"] == "file_download"
    assert len(body["result"]["auto_responses"]) == 10
    assert all(a["accepted"] for a in body["result"]["auto_responses"])
    status, done = await vclient.respond(*SUMMARY, body["result"]["virtual_db"],
                                         body["interaction_request"]["interaction_id"],
                                         ANSWERS["write_summary_file"])
    assert status == 200 and done["status"] == "completed", done
    assert done["result"]["workflow_completed"] is True
    assert done["result"]["target"] == {"step_id": SUMMARY[0], "module_name": SUMMARY[1]}
    view = await vclient.state(done["result"]["virtual_db"])
    assert view["status"] == "completed" and view["mock_tainted"] is True
    assert all(m["status"] == "completed" for step in view["step_summaries"] for m in step["modules"])
    state = view["state"]
    assert state["selected_image_id"].startswith("mock-gc_")
    assert state["workflow_summary_text"]
    events = lineage(done["result"]["virtual_db"], done["workflow_run_id"])
    assert events[0]["event_type"] == "workflow_created"
    assert events[-1]["event_type"] == "workflow_completed"
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))


async def test_acc_parity_1_script_a_matches_production(vclient: VirtualClient) -> None:
    """[ACC-PARITY-1][VS-9] Script A through /start, /respond and /sub-action equals production."""
    production = production_script_a(vclient.workflow)
    done = await vclient.drive(*SUMMARY, ANSWERS)
    assert done["status"] == "completed" and done["result"]["workflow_completed"] is True
    blob = done["result"]["virtual_db"]
    events = lineage(blob, done["workflow_run_id"])
    types = [e["event_type"] for e in events]
    assert types == EVENT_SEQUENCE_A == production["types"]
    outputs = [(e["module_name"], e["data"].get("outputs")) for e in events
               if e["event_type"] == "module_completed"]
    assert [name for name, _ in outputs] == [name for name, _ in production["outputs"]]
    for (name, mine), (_, theirs) in zip(outputs, production["outputs"]):
        assert comparable(mine) == comparable(theirs), name
    assert comparable(done["result"]["module_outputs"]) == comparable(production["outputs"][-1][1])
    state = (await vclient.state(blob))["state"]
    assert comparable(state) == comparable(production["state"])
    assert "Generated:" in state["workflow_summary_text"]


def comparable(value: Any) -> Any:
    """Normalised (§4) with the summary's `Generated:` line removed from every string."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, str) and "Generated:" in value:
        return without_generated_line(value)
    return normalise(value)

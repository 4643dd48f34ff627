"""A newcomer starts cuddle_crew from the web UI, which has no mock switch (issue 10).

On the development default (embedded database, no provider keys) the run is a clearly marked
mock run and gets past the first LLM step. In a deployment (a database URI) the same start is
a live run and the first LLM call fails with an error that names the missing setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.acceptance.script_a import ANSWERS
from tests.compat.webui_protocol import ExecutionHook, GatedVendors, LiveServer, WebUIClient, vendors

__all__ = ["vendors"]


async def _answer_two(hook: ExecutionHook, workflow: dict[str, Any]) -> list[tuple[str, Any]]:
    await hook.start({"project_name": "first-try", "workflow_content": workflow,
                      "force_new": False})
    await hook.respond(ANSWERS["select_pet_type"])
    return await hook.respond(ANSWERS["select_aesthetic"])  # runs the generate_scenes LLM call


async def test_development_default_is_a_marked_mock_run(vendors: GatedVendors, tmp_path: Path,
                                                        cuddle_workflow: dict[str, Any]) -> None:
    """WorkflowStartPage `handleStart` → `startWorkflow` (no `mock` in the body) on
    `scripts/serve`'s default: the run is mock, passes the LLM step without any vendor call, and
    the runs list / status display mark it (`mock: true`, a `Mode: mock` field)."""
    live = LiveServer(None, vendors, tmp_path / "media", keys=False).start()
    try:
        live.add_user("newcomer")
        ui = WebUIClient(live.base)
        await ui.login("newcomer")
        hook = ExecutionHook(ui)
        frames = await _answer_two(hook, cuddle_workflow)
        assert frames[-1][0] == "interaction", frames[-1]
        assert (hook.interaction or {})["context"]["module_name"] == "select_scene"
        assert vendors.requests == []  # nothing left the process
        status = await ui.get(f"/workflow/{hook.run_id}/status")
        assert status["mock"] is True
        row = (await ui.get("/workflows/all?limit=10&offset=0"))["workflows"][0]
        assert row["mock"] is True and row["display_fields"][0]["label"] == "Mode"
        assert row["display_fields"][0]["value"].startswith("mock")
        events = await ui.get(f"/workflow/{hook.run_id}/events")
        assert {e["provenance"] for e in events["events"]} == {"mock"}
        await ui.http.aclose()
    finally:
        live.stop()


async def test_deployment_missing_key_names_the_setting(secantus_uri: str, vendors: GatedVendors,
                                                        tmp_path: Path,
                                                        cuddle_workflow: dict[str, Any]) -> None:
    """The same UI flow against a deployment without keys: a live run whose `stream/respond`
    ends with `error`; the hook shows `message`, which names OPENAI_API_KEY."""
    live = LiveServer(secantus_uri, vendors, tmp_path / "media", keys=False).start()
    try:
        live.add_user("operator")
        ui = WebUIClient(live.base)
        await ui.login("operator")
        hook = ExecutionHook(ui)
        frames = await _answer_two(hook, cuddle_workflow)
        assert frames[-1][0] == "error" and hook.status == "error"
        assert "OPENAI_API_KEY" in (hook.error or ""), hook.error
        assert (await ui.get(f"/workflow/{hook.run_id}/status"))["mock"] is False
        await ui.http.aclose()
    finally:
        live.stop()

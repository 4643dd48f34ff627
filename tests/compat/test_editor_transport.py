"""The reference editor in a browser: CORS with credentials, the production server's cookie, and
the mock/real toggle, against live servers (issue 9 item 7)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.acceptance.production_client import production
from tests.compat.editor_protocol import BlockedByBrowser, EditorRuntime, Wire
from tests.compat.editor_server import EDITOR_ORIGINS, editor_settings, live_editor
from tests.fakes_http.vendor_sim import VendorSimulator

PET = ("user_input", "select_pet_type")
GENERATE = ("scene_generation", "generate_scenes")
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type"}


async def _login_cookie() -> str:
    """The `access_token` cookie our production server sets at `POST /auth/login` (the editor's
    user logs in there; the browser then sends that cookie to the virtual server too)."""
    async with production(None, users=("editor",)) as prod:
        return prod.tokens["editor"]


async def test_preflight_and_the_production_cookie(cuddle_workflow: dict[str, Any]) -> None:
    """virtual-api.ts `postJson` from http://localhost:5173 with `credentials: "include"`: the
    browser's preflight (OPTIONS, no cookie) is answered without auth, allowing the origin with
    credentials and the `content-type` header; the POST then carries only the cookie our
    production server set, and its response allows the origin."""
    token = await _login_cookie()
    async with live_editor(cuddle_workflow, token=token) as ed:
        async with httpx.AsyncClient(base_url=ed.live.url) as bare:  # a preflight has no cookie
            for origin in EDITOR_ORIGINS.split(","):
                response = await bare.options("/workflow/start",
                                              headers={"Origin": origin, **PREFLIGHT})
                assert response.status_code in (200, 204), response.text
                assert response.headers["access-control-allow-origin"] == origin
                assert response.headers["access-control-allow-credentials"] == "true"
                assert "content-type" in response.headers["access-control-allow-headers"].lower()
                assert "POST" in response.headers["access-control-allow-methods"]
            plain = await bare.post("/workflow/state", json={"virtual_db": "x"},
                                    headers={"Origin": ed.wire.origin})
            assert plain.status_code == 401  # no cookie, no entry
        result = await ed.runtime.run_to_module(cuddle_workflow, PET)
        assert result.status == "awaiting_input", result  # every call passed the CORS check
        assert all(c.status == 200 for c in ed.wire.calls)
        assert "authorization" not in {k.lower() for k in ed.wire.http.headers}


async def test_production_cookie_with_the_shared_user_database(
        cuddle_workflow: dict[str, Any], secantus_uri: str) -> None:
    """The deployment mode: the virtual server reads the production user database
    (`WFE_MONGODB_URI`), so the editor's cookie works while the user's tokens are valid and the
    editor's next call (virtual-api.ts `postJson`) throws 401 after `POST /auth/logout-all`."""
    async with production(secantus_uri, users=("editor",)) as prod:
        settings = editor_settings(WFE_MONGODB_URI=secantus_uri, WFE_AUTH_CACHE_S="0",
                                   WFE_MONGODB_DATABASE=prod.services.adapter.database_name)
        async with live_editor(cuddle_workflow, settings=settings,
                               token=prod.tokens["editor"]) as ed:
            result = await ed.runtime.run_to_module(cuddle_workflow, PET)
            assert result.status == "awaiting_input", result
            assert (await prod.post("/auth/logout-all", user="editor")).status_code == 200
            answer = {"selected_indices": [0], "cancelled": False}
            refused = await ed.runtime.submit_response(cuddle_workflow, PET, answer)
            assert refused.status == "error" and "Virtual API error 401" in (refused.error or "")


async def test_other_origins_and_the_closed_default(cuddle_workflow: dict[str, Any]) -> None:
    """The browser blocks what the server does not allow: another origin gets no CORS grant,
    and a server started without `WFE_CORS_ORIGINS` (its own default) grants none, while the
    preflight still never answers 401."""
    async with live_editor(cuddle_workflow, origin="http://evil.example") as ed:
        result = await ed.runtime.run_to_module(cuddle_workflow, PET)
        assert result.status == "error" and "CORS blocked" in (result.error or "")
        assert [c.status for c in ed.wire.calls] == [200]  # answered, but hidden by the browser
    closed = editor_settings(WFE_CORS_ORIGINS="")
    assert closed.cors_origins == ()
    async with live_editor(cuddle_workflow, settings=closed) as ed:
        async with httpx.AsyncClient(base_url=ed.live.url) as bare:
            response = await bare.options("/workflow/start",
                                          headers={"Origin": ed.wire.origin, **PREFLIGHT})
            assert response.status_code != 401
            assert "access-control-allow-origin" not in response.headers
        wire = Wire(ed.wire.http)
        try:
            await wire.post_json("/workflow/start", {"workflow": cuddle_workflow,
                                                     "virtual_db": None,
                                                     "target_step_id": PET[0],
                                                     "target_module_name": PET[1]})
        except BlockedByBrowser:
            pass
        else:
            raise AssertionError("a closed server must not grant the editor's origin")
        assert wire.calls[0].status == 200  # the server answered; the browser would not show it
        assert EditorRuntime(wire).status == "idle"


async def test_mock_toggle(cuddle_workflow: dict[str, Any]) -> None:
    """VirtualRuntimePanel.tsx "Use Real Data" → VirtualRuntime.ts `reloadWithMockMode(false)`:
    the runtime forgets its blob and starts again (POST /workflow/start, `mock: false`) to the
    same target, here against a loopback OpenAI fake; toggling back starts a mock run."""
    sim = VendorSimulator().start()
    try:
        settings = editor_settings(OPENAI_API_KEY="sk-editor-0123456789",
                                   OPENAI_BASE_URL=sim.base_url + "/v1")
        async with live_editor(cuddle_workflow, settings=settings, live_providers=True) as ed:
            ed_rt = ed.runtime
            mocked = await ed_rt.run_to_module(cuddle_workflow, GENERATE)
            assert mocked.status == "completed" and ed_rt.state is not None
            assert ed_rt.state["mock_tainted"] is True and not sim.requests
            mock_run = ed_rt.virtual_run_id
            before = len(ed.wire.calls)
            real = await ed_rt.reload_with_mock_mode(cuddle_workflow, False)
            assert real.status == "completed", real
            start = ed.wire.calls[before]
            assert start.path == "/workflow/start" and start.body["virtual_db"] is None
            assert start.body["mock"] is False and ed_rt.virtual_run_id != mock_run
            assert all(c.body.get("mock") is False for c in ed.wire.calls[before:]
                       if c.path in ("/workflow/start", "/workflow/respond"))
            assert any(r.path.endswith("/responses") or r.path.endswith("/chat/completions")
                       for r in sim.requests)
            assert ed_rt.state is not None and ed_rt.state["mock_tainted"] is False
            assert ed_rt.state["steps"]["scene_generation"][
                "generate_scenes"]["module_completed"]["_state_mapped"]["scene_concepts"]
            back = await ed_rt.reload_with_mock_mode(cuddle_workflow, True)
            assert back.status == "completed" and ed_rt.mock_mode is True
            assert ed.wire.calls[-3].body["mock"] is True
    finally:
        sim.close()

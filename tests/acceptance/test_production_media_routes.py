"""The media routes of wire-api.md §6.7 on the production server: one stored file, zips of a
run's media (all, per provider, per generation) and the generation preview.

Stored files are written with the engine's own content-addressed store and their rows inserted
as a live generation would leave them; the whole live path is covered by
tests/e2e/test_production_live_cuddle_crew.py.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from engine.media_files import store_media
from tests.acceptance.production_client import T0, Prod, production

PNG = b"\x89PNG\r\n\x1a\n" + b"one picture"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"one video"


def _add_generation(prod: Prod, root: Path, run_id: str, metadata_id: str, provider: str,
                    files: list[tuple[str, bytes, str]]) -> list[str]:
    prod.db.content_generation_metadata.insert_one({
        "content_generation_metadata_id": metadata_id, "workflow_run_id": run_id,
        "interaction_id": "media_x", "provider": provider, "action_type": "txt2img",
        "status": "completed", "provenance": "live", "created_at": T0})
    ids = []
    for index, (content_id, data, ext) in enumerate(files):
        stored = store_media(str(root), [data], ext, 1 << 20)
        prod.db.generated_content.insert_one({
            "generated_content_id": content_id, "content_generation_metadata_id": metadata_id,
            "workflow_run_id": run_id, "interaction_id": "media_x", "index": index,
            "content_type": "video" if ext == "mp4" else "image", "extension": ext,
            "local_path": stored.relative_path, "url": f"/workflow/{run_id}/media/{content_id}.{ext}",
            "provenance": "live", "created_at": T0})
        ids.append(content_id)
    return ids


def _names(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def _setup(prod: Prod, root: Path, workflow: dict[str, Any]) -> tuple[str, str]:
    run = (await prod.start(workflow))["workflow_run_id"]
    other = (await prod.start(workflow, user="bob"))["workflow_run_id"]
    _add_generation(prod, root, run, "cgm_a", "openai", [("gc_1", PNG, "png")])
    _add_generation(prod, root, run, "cgm_b", "openai", [("gc_2", MP4, "mp4")])
    _add_generation(prod, root, run, "cgm_c", "leonardo", [("gc_3", PNG + b"2", "png")])
    _add_generation(prod, root, other, "cgm_d", "openai", [("gc_4", PNG + b"bob", "png")])
    return run, other


async def test_a_stored_file_is_served_to_its_owner_only(secantus_uri: str, tmp_path: Path,
                                                         cuddle_workflow: dict[str, Any]) -> None:
    async with production(secantus_uri, WFE_MEDIA_BASE_PATH=str(tmp_path)) as prod:
        run, other = await _setup(prod, tmp_path, cuddle_workflow)
        served = await prod.get(f"/workflow/{run}/media/gc_1.png")
        assert served.status_code == 200 and served.content == PNG
        assert served.headers["content-type"] == "image/png"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["content-disposition"].startswith("inline")
        video = await prod.get(f"/workflow/{run}/media/gc_2.mp4?download=true")
        assert video.content == MP4 and video.headers["content-type"] == "video/mp4"
        assert video.headers["content-disposition"].startswith("attachment")
        missing = await prod.get(f"/workflow/{run}/media/gc_nope.png")
        for path, user in ((f"/workflow/{run}/media/gc_1.jpg", "alice"),      # wrong extension
                           (f"/workflow/{run}/media/gc_4.png", "alice"),      # bob's file
                           (f"/workflow/{other}/media/gc_4.png", "alice"),    # bob's run
                           (f"/workflow/{run}/media/gc_1.png", "bob"),
                           (f"/workflow/{run}/media/gc_1", "alice")):
            refused = await prod.get(path, user=user)
            assert refused.status_code == 404 and refused.content == missing.content, path
        assert (await prod.get(f"/workflow/{other}/media/gc_4.png", user="bob")).status_code == 200


async def test_zips_of_a_run_a_provider_and_a_generation(secantus_uri: str, tmp_path: Path,
                                                         cuddle_workflow: dict[str, Any]) -> None:
    async with production(secantus_uri, WFE_MEDIA_BASE_PATH=str(tmp_path)) as prod:
        run, _ = await _setup(prod, tmp_path, cuddle_workflow)
        everything = await prod.get(f"/workflow/{run}/media/download")
        assert everything.status_code == 200
        assert everything.headers["content-type"] == "application/zip"
        assert _names(everything.content) == {"openai/cgm_a/0_gc_1.png": PNG,
                                              "openai/cgm_b/0_gc_2.mp4": MP4,
                                              "leonardo/cgm_c/0_gc_3.png": PNG + b"2"}
        leonardo = await prod.get(f"/workflow/{run}/media/leonardo/download")
        assert list(_names(leonardo.content)) == ["leonardo/cgm_c/0_gc_3.png"]
        one = await prod.get(f"/workflow/{run}/media/openai/cgm_b/download")
        assert list(_names(one.content)) == ["openai/cgm_b/0_gc_2.mp4"]
        for path in (f"/workflow/{run}/media/midjourney/download",
                     f"/workflow/{run}/media/openai/cgm_c/download",
                     f"/workflow/{run}/media/openai/cgm_d/download"):
            assert (await prod.get(path)).status_code == 404, path
        assert (await prod.get(f"/workflow/{run}/media/download", user="bob")).status_code == 404
        assert list(tmp_path.glob("*.zip")) == []


async def test_preview_of_a_mock_run_and_refusals(secantus_uri: str, tmp_path: Path,
                                                  cuddle_workflow: dict[str, Any]) -> None:
    async with production(secantus_uri) as prod:
        run = (await prod.start(cuddle_workflow))["workflow_run_id"]
        preview = await prod.ok("POST", f"/workflow/{run}/media/preview",
                                {"provider": "leonardo", "action_type": "txt2img",
                                 "params": {"num_images": "3"}})
        assert preview["resolution"] == {"width": 1024, "height": 1024, "megapixels": 1.05}
        assert preview["credits"]["num_images"] == 3
        unknown = await prod.post(f"/workflow/{run}/media/preview",
                                  {"provider": "acme", "action_type": "txt2img"})
        assert unknown.status_code == 400 and unknown.json()["error_type"] == "bad_request"
        unsupported = await prod.post(f"/workflow/{run}/media/preview",
                                      {"provider": "elevenlabs", "action_type": "txt2img"})
        # both names are in the schema's enums; the pair is not a preview there is (issue 15)
        assert unsupported.status_code == 404


async def test_preview_of_a_live_run_needs_the_provider(secantus_uri: str,
                                                        cuddle_workflow: dict[str, Any]) -> None:
    async with production(secantus_uri, live=True) as prod:
        live = await prod.ok("POST", "/workflow/start", {
            "project_name": "live", "workflow_content": cuddle_workflow, "mock": False})
        unavailable = await prod.post(f"/workflow/{live['workflow_run_id']}/media/preview",
                                      {"provider": "stable_diffusion", "action_type": "txt2img",
                                       "ai_config": {"openai_api_key": "sk-secret-preview"}})
        assert unavailable.status_code == 409, unavailable.text  # the request was fine
        assert unavailable.json()["error_type"] == "provider_unavailable"
        assert "sd_forge_api_url" in unavailable.json()["error"]
        assert "sk-secret-preview" not in unavailable.text

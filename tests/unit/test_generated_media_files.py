"""Live generations are kept under the media root by content hash (engine/media_files.py) and
their rows point at the stored copy; sources that are our own files are read from disk."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from engine.errors import Cancelled, ModuleExecutionError
from engine.media_files import extension_for, resolve_media_path, store_media
from engine.modules.media.generate import MediaGenerateModule
from engine.ports import CancelToken
from engine.provider_types import ContentItem, GenerationResult
from tests.fakes import (
    FakeMediaProvider,
    FakeProviderSet,
    FakeStore,
    make_module_context,
    make_sub_action_context,
)

TEMPLATE = "/workflow/{run_id}/media/{content_id}.{ext}"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def _request(action_type: str = "txt2img") -> Any:
    return MediaGenerateModule().get_interaction_request(
        {"prompts": {"openai": {}}, "schema": {}, "action_type": action_type},
        make_module_context()).request


def _live(media: FakeMediaProvider, tmp_path: Path, *, action: str = "txt2img",
          resolved: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
          store: FakeStore | None = None, **overrides: Any) -> tuple[dict[str, Any], FakeStore]:
    store = store or FakeStore()
    ctx = make_sub_action_context(
        _request(action), resolved or {"action_type": action},
        {"provider": media.provider_id, "action_type": action,
         "params": params or {"prompt": "a cat"}, "source_data": {}},
        mock=False, store=store, providers=FakeProviderSet(media={media.provider_id: media}),
        media_base_path=str(tmp_path), **overrides)
    return MediaGenerateModule().sub_action(ctx), store


# ------------------------------------------------------------------ the file store


def test_same_bytes_are_stored_once_under_their_hash(tmp_path: Path) -> None:
    first = store_media(str(tmp_path), [PNG[:10], PNG[10:]], "png", 10_000)
    second = store_media(str(tmp_path), [PNG], "png", 10_000)
    digest = hashlib.sha256(PNG).hexdigest()
    assert first == second
    assert first.relative_path == f"generated/{digest[:2]}/{digest}.png"
    assert first.size == len(PNG) and first.sha256 == digest
    assert (tmp_path / first.relative_path).read_bytes() == PNG
    assert sorted(p.name for p in (tmp_path / "generated").rglob("*") if p.is_file()) == \
        [f"{digest}.png"]


def test_other_bytes_get_another_name(tmp_path: Path) -> None:
    a = store_media(str(tmp_path), [b"one"], "mp3", 100)
    b = store_media(str(tmp_path), [b"two"], "mp3", 100)
    assert a.relative_path != b.relative_path


def test_too_large_or_empty_files_leave_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ModuleExecutionError, match="larger than the limit"):
        store_media(str(tmp_path), [b"x" * 60, b"x" * 60], "png", 100)
    with pytest.raises(ModuleExecutionError, match="empty"):
        store_media(str(tmp_path), [], "png", 100)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_unsafe_extensions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModuleExecutionError):
        store_media(str(tmp_path), [b"x"], "../x", 100)


@pytest.mark.parametrize("url, declared, kind, expected", [
    ("https://cdn.example/a/b.webp?sig=1", None, "image", "webp"),
    ("data:image/jpeg;base64,AAAA", None, "image", "jpg"),
    ("data:audio/mpeg;base64,AAAA", None, "audio", "mp3"),
    ("https://cdn.example/video", None, "video", "mp4"),
    ("https://cdn.example/x.png", "JPEG", "image", "jpg"),
    ("https://cdn.example/x.p/ng", "../../etc", "image", "png"),
])
def test_extension_choice(url: str, declared: str | None, kind: str, expected: str) -> None:
    assert extension_for(url, declared, kind) == expected


def test_resolve_refuses_paths_outside_the_root(tmp_path: Path) -> None:
    assert resolve_media_path(str(tmp_path), "../secret") is None
    assert resolve_media_path(str(tmp_path), "generated/ab/c.png") == \
        os.path.join(os.path.realpath(tmp_path), "generated", "ab", "c.png")


# ------------------------------------------------------------------ live generations


def test_live_item_is_downloaded_and_served_from_our_route(tmp_path: Path) -> None:
    media = FakeMediaProvider("openai", GenerationResult(content=[
        ContentItem(url="https://vendor.example/img/1", content_type="image", seed=3)]))
    media.files["https://vendor.example/img/1"] = PNG
    result, store = _live(media, tmp_path, media_url_template=TEMPLATE)
    content_id = result["content_ids"][0]
    row = store.content[content_id]
    digest = hashlib.sha256(PNG).hexdigest()
    assert media.fetched == ["https://vendor.example/img/1"]
    assert row["local_path"] == f"generated/{digest[:2]}/{digest}.png"
    assert (tmp_path / row["local_path"]).read_bytes() == PNG
    assert row["size_bytes"] == len(PNG) and row["sha256"] == digest
    assert row["provider_url"] == "https://vendor.example/img/1"
    assert row["url"] == f"/workflow/wf_test/media/{content_id}.png"
    assert result["urls"] == [row["url"]]


def test_data_urls_never_reach_documents_or_results(tmp_path: Path) -> None:
    data_url = "data:image/webp;base64," + base64.b64encode(PNG).decode()
    media = FakeMediaProvider("openai", GenerationResult(content=[
        ContentItem(url=data_url, content_type="image")]))
    media.files[data_url] = PNG
    result, store = _live(media, tmp_path, media_url_template=TEMPLATE)
    row = store.content[result["content_ids"][0]]
    assert row["provider_url"] is None and row["extension"] == "webp"
    assert "base64" not in repr(row) and "base64" not in repr(result)


def test_without_a_route_the_provider_url_is_kept(tmp_path: Path) -> None:
    media = FakeMediaProvider("openai", GenerationResult(content=[
        ContentItem(url="https://vendor.example/v.mp4", content_type="video")]))
    result, store = _live(media, tmp_path)
    row = store.content[result["content_ids"][0]]
    assert row["url"] == "https://vendor.example/v.mp4" and row["local_path"].endswith(".mp4")


def test_a_too_large_download_fails_the_generation(tmp_path: Path) -> None:
    media = FakeMediaProvider("openai", GenerationResult(content=[
        ContentItem(url="https://vendor.example/big.png", content_type="image")]))
    media.files["https://vendor.example/big.png"] = b"x" * 500
    store = FakeStore()
    with pytest.raises(ModuleExecutionError, match="larger than the limit"):
        _live(media, tmp_path, store=store, media_max_bytes=100)
    (meta,) = store.metadata.values()
    assert meta["status"] == "failed" and store.content == {}


def test_mock_generations_touch_no_disk(tmp_path: Path) -> None:
    store = FakeStore()
    ctx = make_sub_action_context(
        _request(), {"action_type": "txt2img"},
        {"provider": "openai", "params": {"prompt": "p"}, "source_data": {}},
        mock=True, store=store, media_base_path=str(tmp_path), media_url_template=TEMPLATE)
    result = MediaGenerateModule().sub_action(ctx)
    row = store.content[result["content_ids"][0]]
    assert "local_path" not in row and row["url"].startswith("data:image/svg+xml")
    assert list(tmp_path.iterdir()) == []


class CancelledAfterStart(CancelToken):
    """Not cancelled at the start check, cancelled by the time the vendor reports progress."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def is_cancelled(self) -> bool:
        self.checks += 1
        return self.checks > 1


def test_a_cancel_seen_in_a_progress_report_stops_the_generation(tmp_path: Path) -> None:
    token = CancelledAfterStart()
    media = FakeMediaProvider("openai", GenerationResult(content=[]))
    store = FakeStore()
    with pytest.raises(Cancelled):
        _live(media, tmp_path, store=store, cancel=token)
    (meta,) = store.metadata.values()
    assert meta["status"] == "failed" and meta["error_message"] == "Cancelled"


def test_source_selection_is_read_from_the_stored_file(tmp_path: Path) -> None:
    stored = store_media(str(tmp_path), [PNG], "png", 10_000)
    media = FakeMediaProvider("openai", GenerationResult(content=[]))
    selection = {"url": "/workflow/wf_test/media/gc_1.png", "local_path":
                 str(tmp_path / stored.relative_path)}
    _live(media, tmp_path, action="img2vid",
          resolved={"action_type": "img2vid", "source_image": selection})
    assert media.calls[0][1] == os.path.realpath(tmp_path / stored.relative_path)


def test_our_media_url_as_source_maps_to_the_file_of_this_run_only(tmp_path: Path) -> None:
    stored = store_media(str(tmp_path), [PNG], "png", 10_000)
    store = FakeStore()
    store.insert_generated_content({"generated_content_id": "gc_a", "workflow_run_id": "wf_test",
                                    "local_path": stored.relative_path})
    store.insert_generated_content({"generated_content_id": "gc_b", "workflow_run_id": "wf_other",
                                    "local_path": stored.relative_path})
    media = FakeMediaProvider("openai", GenerationResult(content=[]))
    _live(media, tmp_path, action="img2img", store=store,
          params={"prompt": "p", "source_image": "/workflow/wf_test/media/gc_a.png"})
    with pytest.raises(ModuleExecutionError, match="must be a URL, a data URL or a stored"):
        _live(media, tmp_path, action="img2img", store=store,
              params={"prompt": "p", "source_image": "/workflow/wf_other/media/gc_b.png"})
    assert [call[1] for call in media.calls] == \
        [os.path.realpath(tmp_path / stored.relative_path)]


def test_a_source_path_outside_the_media_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    outside.write_bytes(PNG)
    root = tmp_path / "media"
    root.mkdir()
    media = FakeMediaProvider("openai", GenerationResult(content=[]))
    for source in (str(outside), "../outside.png", "/etc/hostname"):
        with pytest.raises(ModuleExecutionError, match="must be a URL"):
            _live(media, root, action="img2img", params={"prompt": "p", "source_image": source})
    inside = store_media(str(root), [PNG], "png", 10_000)
    _live(media, root, action="img2img",
          params={"prompt": "p", "source_image": inside.relative_path})
    assert [call[1] for call in media.calls] == [
        os.path.realpath(root / inside.relative_path)]

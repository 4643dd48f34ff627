"""Upload resolution: folder/zip loading and `$ref` rules (workflow-format.md §2–§3)."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from engine import upload
from engine.errors import WorkflowInvalid
from engine.jsonutil import canonical_json
from engine.upload import (
    files_from_zip_base64,
    load_workflow_files,
    load_workflow_folder,
    load_workflow_zip,
    read_folder,
)

CUDDLE = Path(__file__).resolve().parents[2].parent / "shared" / "workflows" / "cuddle_crew"

FLAT_ORDER = [
    ("user_input", "select_pet_type", "user.select"),
    ("user_input", "select_aesthetic", "user.select"),
    ("scene_generation", "load_selected_keywords", "io.weighted_keywords"),
    ("scene_generation", "load_keywords", "io.weighted_keywords"),
    ("scene_generation", "generate_scenes", "api.llm"),
    ("scene_generation", "flatten_keywords", "transform.query"),
    ("scene_generation", "save_keywords", "io.weighted_keywords"),
    ("scene_generation", "select_scene", "user.select"),
    ("scene_generation", "store_selected_scene", "transform.extract"),
    ("scene_generation", "extract_selected_keywords", "transform.query"),
    ("scene_generation", "update_selected_keywords", "io.weighted_keywords"),
    ("image_prompts", "generate_and_select_images_v2", "media.generateV2"),
    ("image_analysis", "analyze_image", "api.llm"),
    ("video_generation", "select_motion_elements", "user.select"),
    ("video_generation", "generate_and_select_videos_v2", "media.generateV2"),
    ("duration_selection", "select_duration", "user.select"),
    ("music", "generate_and_select_music_v2", "media.generateV2"),
    ("text_overlays", "generate_text_overlays", "api.llm"),
    ("text_overlays", "select_text_overlay", "user.select"),
    ("titles_social", "generate_titles_social", "api.llm"),
    ("titles_social", "select_title_description", "user.select"),
    ("workflow_summary", "format_summary", "io.render_template"),
    ("workflow_summary", "write_summary_file", "io.client_write"),
]


def _keys_anywhere(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys_anywhere(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys_anywhere(item)


def _zip(entries: dict[str, bytes | str], *, compression=zipfile.ZIP_DEFLATED) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return base64.b64encode(buf.getvalue()).decode()


def _reason(exc: pytest.ExceptionInfo[WorkflowInvalid]) -> str:
    assert exc.value.error_type == "workflow_invalid"
    return exc.value.details["reason"]


# ---------------------------------------------------------------- WF-17 real workflow

@pytest.fixture(scope="module")
def cuddle() -> dict:
    return load_workflow_folder(CUDDLE, "workflow_v3.json")


def test_wf17_cuddle_crew_folder_resolves(cuddle):
    """[WF-17] 10 steps, 23 modules in table order, no $ref, no cache_ttl."""
    assert cuddle["workflow_id"] == "cuddle_crew"
    assert len(cuddle["steps"]) == 10
    flat = [(s["step_id"], m["name"], m["module_id"]) for s in cuddle["steps"] for m in s["modules"]]
    assert flat == FLAT_ORDER
    keys = set(_keys_anywhere(cuddle))
    assert "$ref" not in keys and "cache_ttl" not in keys


def test_wf17_zip_of_folder_gives_same_result(cuddle):
    """[WF-17][WF-1] A zip of the folder resolves to byte-identical canonical JSON."""
    entries = {p.relative_to(CUDDLE).as_posix(): p.read_bytes()
               for p in sorted(CUDDLE.rglob("*")) if p.is_file()}
    zipped = load_workflow_zip(_zip(entries), "workflow_v3.json")
    assert canonical_json(zipped) == canonical_json(cuddle)


def test_wf1_line_endings_preserved(cuddle):
    """[WF-1][WF-7] Text refs keep CRLF exactly (no newline translation)."""
    raw = (CUDDLE / "steps/2_scene_generation/prompts/role_pet_storyteller.txt").read_bytes()
    text = raw.decode("utf-8-sig")
    generate = cuddle["steps"][1]["modules"][2]
    assert generate["inputs"]["system"][0] == text
    assert "\r\n" in text


def test_wf1_read_folder_bom_and_binary(tmp_path):
    """[WF-1] BOM removed; non-UTF-8 bytes become base64 text."""
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfhello\r\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"\xff\xfe\x00")
    files = read_folder(tmp_path)
    assert files == {"a.txt": "hello\r\n", "sub/b.bin": base64.b64encode(b"\xff\xfe\x00").decode()}


# ---------------------------------------------------------------- $ref rules

def test_wf6_sibling_keys_dropped_and_types():
    """[WF-6][WF-7] Node replaced by content; only `type` matters; json recursion."""
    files = {
        "wf.json": '{"a": {"$ref": "p.txt", "type": "text", "cache_ttl": 5},'
                   ' "b": {"$ref": "p.txt"}, "c": {"$ref": "d/x.json", "type": "json"},'
                   ' "t": {"$ref": "p.txt", "type": "jinja2"}, "r": {"$ref": "p.txt", "type": "raw"},'
                   ' "m": {"$ref": "p.txt", "type": "template"}}',
        "p.txt": "hi {{ x }}",
        "d/x.json": '{"inner": {"$ref": "y.txt"}}',
        "d/y.txt": "Y",
    }
    out = load_workflow_files(files, "wf.json")
    assert out == {"a": "hi {{ x }}", "b": "hi {{ x }}", "c": {"inner": "Y"},
                   "t": "hi {{ x }}", "r": "hi {{ x }}", "m": "hi {{ x }}"}


def test_wf8_paths_relative_to_containing_file_and_root_slash():
    """[WF-8][WF-9] Relative to the containing file's dir; `/` is the archive root; `..` pops."""
    files = {
        "wf.json": '{"s": {"$ref": "steps\\\\one/step.json", "type": "json"}}',
        "steps/one/step.json": '{"a": {"$ref": "p/a.txt"}, "b": {"$ref": "/top.txt"},'
                               ' "c": {"$ref": "./p/../../shared.txt"}}',
        "steps/one/p/a.txt": "A",
        "top.txt": "T",
        "steps/shared.txt": "S",
    }
    assert load_workflow_files(files, "wf.json") == {"s": {"a": "A", "b": "T", "c": "S"}}


@pytest.mark.parametrize("ref", ["../outside.json", "../wf/p.txt", "a/../../p.txt"])
def test_wf9_escape_rejected_even_if_descending_back(ref):
    """[WF-9][ACC-P10-1] Climbing above the root is rejected even when it comes back down."""
    files = {"wf/entry.json": '{"x": {"$ref": "../' + ref + '"}}', "wf/p.txt": "p",
             "p.txt": "p", "outside.json": "{}"}
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files(files, "wf/entry.json")
    assert _reason(exc) == "path escapes the workflow root"
    assert exc.value.details["file"] == "wf/entry.json"
    assert exc.value.details["ref"] == "../" + ref


def test_wf10_missing_file_and_invalid_json():
    """[WF-10] file not found; invalid JSON carries the parser message."""
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files({"wf.json": '{"x": {"$ref": "nope.txt"}}'}, "wf.json")
    assert _reason(exc) == "file not found" and exc.value.details["ref"] == "nope.txt"
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files({"wf.json": '{"x": {"$ref": "b.json", "type": "json"}}',
                             "b.json": "{nope"}, "wf.json")
    assert _reason(exc) == "invalid JSON"
    assert exc.value.details["file"] == "b.json" and exc.value.details["message"]


def test_wf11_cycle_reports_chain():
    """[WF-11][ACC-P10-1] a.json → b.json → a.json."""
    files = {"a.json": '{"b": {"$ref": "b.json", "type": "json"}}',
             "b.json": '{"a": {"$ref": "a.json", "type": "json"}}'}
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files(files, "a.json")
    assert _reason(exc) == "circular reference"
    assert exc.value.details["chain"] == ["a.json", "b.json", "a.json"]


def test_wf11_same_file_twice_is_not_a_cycle():
    """[WF-11] Independent references to one file are resolved independently."""
    files = {"wf.json": '{"x": {"$ref": "s.json", "type": "json"}, "y": [{"$ref": "s.json", "type": "json"}]}',
             "s.json": '{"v": 1}'}
    out = load_workflow_files(files, "wf.json")
    assert out == {"x": {"v": 1}, "y": [{"v": 1}]}
    out["x"]["v"] = 2
    assert out["y"][0]["v"] == 1


def test_wf7_bad_type_and_bad_ref_value():
    """[WF-7][WF-8] Unknown type and non-string / empty `$ref` are errors."""
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files({"wf.json": '{"x": {"$ref": "p.txt", "type": "yaml"}}', "p.txt": ""}, "wf.json")
    assert _reason(exc) == "invalid $ref type"
    for bad in ('""', "5", "null"):
        with pytest.raises(WorkflowInvalid) as exc:
            load_workflow_files({"wf.json": '{"x": {"$ref": ' + bad + '}}'}, "wf.json")
        assert _reason(exc) == "$ref must be a non-empty string"


def _chain(n: int) -> dict[str, str]:
    files = {"f" + str(i) + ".json": '{"n": {"$ref": "f' + str(i + 1) + '.json", "type": "json"}}'
             for i in range(n)}
    files["f" + str(n) + ".json"] = '"end"'
    return files


def test_wf12_ref_depth_limit():
    """[WF-12] 32 nested json refs are fine, 33 are refused."""
    out = load_workflow_files(_chain(32), "f0.json")
    assert isinstance(out, dict)
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files(_chain(33), "f0.json")
    assert _reason(exc) == "$ref nesting too deep"


def test_wf12_size_limit_and_fanout_bomb():
    """[WF-12] Resolved size bounded, also for exponential DAG fan-out."""
    files = {"wf.json": '{"x": {"$ref": "big.txt"}}', "big.txt": "x" * 2000}
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files(files, "wf.json", max_bytes=1000)
    assert _reason(exc) == "workflow exceeds the maximum size"
    bomb = {"l" + str(i) + ".json": "[" + ",".join(['{"$ref": "l' + str(i + 1) + '.json", "type": "json"}'] * 10) + "]"
            for i in range(9)}
    bomb["l9.json"] = '"' + "y" * 100 + '"'
    bomb["wf.json"] = '{"x": {"$ref": "l0.json", "type": "json"}}'
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_files(bomb, "wf.json")
    assert _reason(exc) == "workflow exceeds the maximum size"


def test_wf3_entry_point_rules():
    """[WF-3] Entry required, must exist and be a JSON object."""
    data = _zip({"wf.json": "[1]", "ok.json": '{"a": 1}'})
    for entry in (None, ""):
        with pytest.raises(WorkflowInvalid) as exc:
            load_workflow_zip(data, entry)
        assert _reason(exc) == "workflow_entry_point is required"
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_zip(data, "missing.json")
    assert _reason(exc) == "entry point not found"
    with pytest.raises(WorkflowInvalid) as exc:
        load_workflow_zip(data, "wf.json")
    assert _reason(exc) == "entry file is not a JSON object"
    assert load_workflow_zip(data, "./ok.json") == {"a": 1}


# ---------------------------------------------------------------- zip handling (WF-1, WF-2)

def test_wf1_zip_name_normalisation_and_dirs():
    """[WF-1] Backslashes, `./` prefix, directory entries skipped, BOM stripped."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("dir/", b"")
        archive.writestr("./a\\b.txt", b"\xef\xbb\xbfB\r\n")
        archive.writestr("bin.dat", b"\xff\x00")
    files = files_from_zip_base64(base64.b64encode(buf.getvalue()).decode())
    assert files == {"a/b.txt": "B\r\n", "bin.dat": base64.b64encode(b"\xff\x00").decode()}


@pytest.mark.parametrize("name,reason", [
    ("/etc/passwd", "absolute path in archive"),
    ("C:/x.json", "absolute path in archive"),
    ("a/../../x.json", "parent directory segment in archive path"),
    ("..\\x.json", "parent directory segment in archive path"),
])
def test_wf1_bad_names_rejected(name, reason):
    """[WF-1] Absolute names and `..` segments are rejected."""
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(_zip({name: "{}"}))
    assert _reason(exc) == reason


def test_wf1_symlink_entry_rejected():
    """[WF-1] Symbolic-link entries are rejected."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(base64.b64encode(buf.getvalue()).decode())
    assert _reason(exc) == "symbolic link in archive"


@pytest.mark.parametrize("text", ["not base64!!", "QUJD\x00", "@@@@"])
def test_wf1_bad_base64(text):
    """[WF-1] Strict base64 decoding."""
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(text)
    assert _reason(exc) == "invalid base64"


def test_wf1_not_a_zip():
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(base64.b64encode(b"hello world").decode())
    assert _reason(exc) == "invalid zip archive"


def test_wf2_too_many_entries():
    """[WF-2] At most 2,000 entries."""
    data = _zip({"f" + str(i): "" for i in range(2001)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(data)
    assert _reason(exc) == "too many zip entries"


def test_wf2_zip_bomb_ratio():
    """[WF-2] > 100× its compressed size and > 1 MiB is rejected while inflating."""
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(_zip({"bomb.txt": b"0" * (3 * 1024 * 1024)}))
    assert _reason(exc) == "zip entry compression ratio too high"
    # Highly compressible but under 1 MiB is fine.
    assert len(files_from_zip_base64(_zip({"ok.txt": b"0" * 900_000}))["ok.txt"]) == 900_000


def test_wf2_entry_and_total_limits(monkeypatch):
    """[WF-2] Per-entry and total uncompressed limits (limits shrunk to keep the test fast)."""
    monkeypatch.setattr(upload, "ZIP_MAX_ENTRY_BYTES", 1000)
    monkeypatch.setattr(upload, "ZIP_MAX_TOTAL_BYTES", 2500)
    stored = zipfile.ZIP_STORED
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(_zip({"a": b"x" * 1001}, compression=stored))
    assert _reason(exc) == "zip entry too large"
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(_zip({"a": b"x" * 900, "b": b"x" * 900, "c": b"x" * 900}, compression=stored))
    assert _reason(exc) == "zip archive too large"
    assert len(files_from_zip_base64(_zip({"a": b"x" * 900, "b": b"x" * 900}, compression=stored))) == 2


def test_wf2_limits_enforced_while_inflating_not_from_header(monkeypatch):
    """[WF-2] A header that under-reports file_size does not bypass the limit."""
    monkeypatch.setattr(upload, "ZIP_MAX_ENTRY_BYTES", 1000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a", b"abc" * 2000)
    raw = bytearray(buf.getvalue())
    # Patch the central-directory uncompressed size (offset 24 in the CD header) to 10.
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    with pytest.raises(WorkflowInvalid) as exc:
        files_from_zip_base64(base64.b64encode(bytes(raw)).decode())
    assert _reason(exc) in ("zip entry too large", "invalid zip archive")

"""Turning an authored workflow folder or zip into one resolved JSON document (workflow-format.md §2–§3).

Upload time only replaces `$ref` nodes by file contents; nothing is rendered here. Every failure
is a `WorkflowInvalid` whose `details.reason` is a fixed text so clients can branch on it (WF-4).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Any

import msgspec

from engine.errors import WorkflowInvalid

REF_TYPES = ("text", "json", "jinja2", "raw", "template")
MAX_REF_DEPTH = 32
DEFAULT_MAX_BYTES = 8388608

ZIP_MAX_ENTRIES = 2000
ZIP_MAX_ENTRY_BYTES = 8 * 1024 * 1024
ZIP_MAX_TOTAL_BYTES = 32 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_RATIO_FLOOR = 1024 * 1024
_CHUNK = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_DRIVE = re.compile(r"^[A-Za-z]:")


def _fail(reason: str, **details: Any) -> WorkflowInvalid:
    """Build the WF-4 error; the message repeats the reason so logs stay readable."""
    info: dict[str, Any] = {"reason": reason}
    info.update({k: v for k, v in details.items() if v is not None})
    return WorkflowInvalid("Workflow upload invalid: " + reason, details=info)


def decode_file_bytes(data: bytes) -> str:
    """UTF-8 text without newline translation (BOM removed); other bytes become base64 (WF-1)."""
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def _normalize_entry_name(name: str) -> str:
    """Zip/folder name normalisation of WF-1; raises for absolute names and `..` segments."""
    text = name.replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if text.startswith("/") or _DRIVE.match(text):
        raise _fail("absolute path in archive", file=name)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _fail("parent directory segment in archive path", file=name)
    return "/".join(parts)


def _join_ref(base_dir: list[str], ref: str, file: str) -> str:
    """Resolve `ref` against the containing file's directory (WF-8, WF-9)."""
    text = ref.replace("\\", "/")
    stack: list[str] = [] if text.startswith("/") else list(base_dir)
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise _fail("path escapes the workflow root", file=file, ref=ref)
            stack.pop()
        else:
            stack.append(part)
    return "/".join(stack)


class _Resolver:
    """One resolution pass; counts produced nodes so DAG fan-out cannot exhaust memory."""

    def __init__(self, files: dict[str, str], max_bytes: int) -> None:
        self.files = files
        self.max_bytes = max_bytes
        self.cost = 0

    def _charge(self, amount: int) -> None:
        # Every produced node costs at least one byte of canonical JSON, so `cost` is a lower
        # bound of the final size and exceeding the limit early is always a real violation.
        self.cost += amount
        if self.cost > self.max_bytes:
            raise _fail("workflow exceeds the maximum size")

    def parse_json(self, path: str, ref: str | None, file: str | None) -> Any:
        text = self.files[path]
        try:
            return msgspec.json.decode(text.encode("utf-8"))
        except (msgspec.DecodeError, ValueError) as exc:
            raise _fail("invalid JSON", file=path, ref=ref, referenced_from=file,
                        message=str(exc)) from None

    def resolve(self, value: Any, file: str, chain: list[str]) -> Any:
        if isinstance(value, dict):
            if "$ref" in value:
                return self.resolve_ref(value, file, chain)
            self._charge(2)
            out: dict[str, Any] = {}
            for key, item in value.items():
                self._charge(len(key) + 3)
                out[key] = self.resolve(item, file, chain)
            return out
        if isinstance(value, list):
            self._charge(2)
            return [self.resolve(item, file, chain) for item in value]
        self._charge(len(value) + 2 if isinstance(value, str) else 1)
        return value

    def resolve_ref(self, node: dict[str, Any], file: str, chain: list[str]) -> Any:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref:
            raise _fail("$ref must be a non-empty string", file=file)
        ref_type = node.get("type", "text")
        if ref_type not in REF_TYPES:
            raise _fail("invalid $ref type", file=file, ref=ref,
                        type=ref_type if isinstance(ref_type, str) else None)
        base_dir = file.split("/")[:-1]
        path = _join_ref(base_dir, ref, file)
        if path not in self.files:
            raise _fail("file not found", file=file, ref=ref, path=path)
        if ref_type != "json":
            text = self.files[path]
            self._charge(len(text) + 2)
            return text
        if path in chain:
            raise _fail("circular reference", file=file, ref=ref, chain=[*chain, path])
        if len(chain) > MAX_REF_DEPTH:
            raise _fail("$ref nesting too deep", file=file, ref=ref, max_depth=MAX_REF_DEPTH)
        parsed = self.parse_json(path, ref, file)
        return self.resolve(parsed, path, [*chain, path])


def load_workflow_files(files: dict[str, str], entry_point: str,
                        max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Resolve every `$ref` starting at `entry_point` (WF-6…WF-13)."""
    if not isinstance(entry_point, str) or not entry_point.strip():
        raise _fail("workflow_entry_point is required")
    entry = _normalize_entry_name(entry_point)
    if entry not in files:
        raise _fail("entry point not found", file=entry_point)
    resolver = _Resolver(files, max_bytes)
    parsed = resolver.parse_json(entry, None, None)
    if not isinstance(parsed, dict):
        raise _fail("entry file is not a JSON object", file=entry)
    try:
        result = resolver.resolve(parsed, entry, [entry])
    except RecursionError:
        raise _fail("workflow nesting too deep", file=entry) from None
    if len(msgspec.json.encode(result, order="sorted")) > max_bytes:
        raise _fail("workflow exceeds the maximum size")
    workflow: dict[str, Any] = result
    return workflow


def read_folder(path: str | Path) -> dict[str, str]:
    """Map every regular file under `path` to its text (symbolic links are skipped)."""
    root = Path(path)
    files: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(root).as_posix()
            files[rel] = decode_file_bytes(full.read_bytes())
    return files


def load_workflow_folder(path: str | Path, entry_point: str,
                         max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    return load_workflow_files(read_folder(path), entry_point, max_bytes)


def _decode_base64(text: str) -> bytes:
    if not isinstance(text, str):
        raise _fail("workflow_content must be a base64 string")
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _fail("invalid base64") from None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int) -> bytes:
    """Read one entry in bounded chunks so lying headers cannot bypass the WF-2 limits."""
    chunks: list[bytes] = []
    size = 0
    compressed = max(info.compress_size, 1)
    with archive.open(info) as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > ZIP_MAX_ENTRY_BYTES:
                raise _fail("zip entry too large", file=info.filename)
            if total + size > ZIP_MAX_TOTAL_BYTES:
                raise _fail("zip archive too large", file=info.filename)
            if size > ZIP_RATIO_FLOOR and size > ZIP_MAX_RATIO * compressed:
                raise _fail("zip entry compression ratio too high", file=info.filename)
            chunks.append(chunk)
    return b"".join(chunks)


def files_from_zip_base64(text: str) -> dict[str, str]:
    """Decode a base64 zip into `path -> text` with the WF-1 rules and WF-2 limits."""
    raw = _decode_base64(text)
    files: dict[str, str] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            infos = archive.infolist()
            if len(infos) > ZIP_MAX_ENTRIES:
                raise _fail("too many zip entries", count=len(infos))
            total = 0
            for info in infos:
                if _is_symlink(info):
                    raise _fail("symbolic link in archive", file=info.filename)
                if info.is_dir():
                    continue
                name = _normalize_entry_name(info.filename)
                if not name:
                    continue
                if name in files:
                    raise _fail("duplicate archive entry", file=info.filename)
                data = _inflate(archive, info, total)
                total += len(data)
                files[name] = decode_file_bytes(data)
    except WorkflowInvalid:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError,
            OSError, ValueError) as exc:
        raise _fail("invalid zip archive", message=str(exc)) from None
    return files


def load_workflow_zip(text: str, entry_point: str | None,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Zip upload (WF-3): the entry point is required and must name a file in the archive."""
    if not entry_point:
        raise _fail("workflow_entry_point is required")
    return load_workflow_files(files_from_zip_base64(text), entry_point, max_bytes)

"""Decoding untrusted blob text, step by step (storage.md §4, BLOB-3…BLOB-6).

The length is checked before base64 decoding, the gzip stream is inflated incrementally under a
hard output limit (never `gzip.decompress`), JSON depth is bounded and the documents are
validated structurally before anything reaches a database. db/blob.py is the public face of
the codec; these steps are shared with its splicing decoder (db/blob_splice.py).
"""

from __future__ import annotations

import binascii
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import msgspec

from db.blob_checks import validate_collections
from db.indexes import VIRTUAL_COLLECTIONS, unique_indexes
from engine.errors import InvalidVirtualDb, VirtualDbTooLarge

Doc = dict[str, Any]
FORMAT = "workflow-engine-virtual-db"
VERSION = 1
MAX_DOCUMENTS = 100_000
#: blob v2 (README "Blob v2"): most gzip members a blob may hold (exports compact far earlier)
MAX_MEMBERS = 64
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_INPUT_STEP = 64 * 1024  # base64 characters per slice (a multiple of 4)
_OUTPUT_STEP = 256 * 1024
_UTC = timezone.utc
_TAGS = ("$date", "$esc")
_ANY_DECODER = msgspec.json.Decoder()
_RAW_MAP = msgspec.json.Decoder(dict[str, msgspec.Raw])
DOC_DECODER = msgspec.json.Decoder(dict[str, Any])
RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def primary_fields(collection: str) -> tuple[str, ...] | None:
    """The key that identifies a document of the collection: BLOB-1's sort key (events by
    (run, sequence), else the first unique key), None when the collection has none."""
    if collection == "events":
        return ("workflow_run_id", "sequence")
    uniques = unique_indexes(collection)
    return uniques[0].fields if uniques else None


class BlobLimits(msgspec.Struct, frozen=True, kw_only=True):
    """README §5 `WFE_VIRTUAL_DB_*` limits; the servers build this from their settings."""

    max_encoded_bytes: int = 16_777_216
    max_decompressed_bytes: int = 67_108_864
    max_depth: int = 100


def invalid(reason: str, message: str | None = None) -> InvalidVirtualDb:
    return InvalidVirtualDb(message or f"invalid virtual_db: {reason}", details={"reason": reason})


def iso_millis(value: datetime) -> str:
    """The `$date` text of a datetime: UTC, milliseconds, `Z` (BLOB-2)."""
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"




def b64_chunks(text: str | bytes) -> Iterator[bytes]:
    """Strict base64 (BLOB-4), decoded in slices so the whole binary is never held at once."""
    try:
        for start in range(0, len(text), _INPUT_STEP):
            yield binascii.a2b_base64(text[start:start + _INPUT_STEP], strict_mode=True)
    except (binascii.Error, ValueError):
        raise invalid("invalid_base64", "virtual_db is not valid base64") from None


def inflate(chunks: Iterable[bytes], max_bytes: int, max_members: int = 1) -> list[bytes]:
    """Bounded gzip inflate (BLOB-5) of up to `max_members` concatenated members (blob v2).

    Aborts as soon as the output of all members together exceeds `max_bytes`: input is fed in
    slices and output drawn in steps of at most `_OUTPUT_STEP`, so memory stays near `max_bytes`
    however large the stream claims to be. Bytes after a member that do not start another gzip
    member are `trailing_data`; a member past `max_members` is `too_many_members`.
    """
    members: list[bytes] = []
    parts: list[bytes] = []
    total = 0
    d: Any = None
    head = b""  # the start of the next member, until its magic bytes are known
    try:
        for chunk in chunks:
            pending = chunk
            while pending:
                if d is None:
                    head, pending = head + pending, b""
                    if len(head) < 2:
                        break
                    if head[:2] != GZIP_MAGIC:
                        raise invalid("trailing_data", "virtual_db has data after a gzip member")
                    if len(members) >= max_members:
                        raise invalid("too_many_members" if max_members > 1 else "trailing_data",
                                      f"virtual_db has more than {max_members} gzip members")
                    d, pending, head = zlib.decompressobj(wbits=31), head, b""
                out = d.decompress(pending, min(_OUTPUT_STEP, max_bytes - total + 1))
                total += len(out)
                if total > max_bytes:
                    raise VirtualDbTooLarge("virtual_db exceeds the decompressed size limit",
                                            details={"limit": max_bytes})
                parts.append(out)
                pending = d.unconsumed_tail
                if d.eof:  # what follows the member is all in unused_data (unconsumed_tail
                    # may hold a stale copy of it when the output limit was hit at the end)
                    members.append(b"".join(parts))
                    parts = []
                    pending = d.unused_data
                    d = None
    except zlib.error as exc:
        raise invalid("corrupt_gzip", f"virtual_db gzip stream is corrupt: {exc}") from None
    if d is not None or head or not members:
        raise invalid("truncated_gzip", "virtual_db gzip stream is truncated")
    return members


class TagDecoder:
    """One pass over the parsed tree: depth bound, NUL keys, `$date`/`$esc` reversal, in place."""

    def __init__(self, max_depth: int, aware: bool) -> None:
        self.max_depth = max_depth
        self.aware = aware

    def date(self, text: Any) -> datetime:
        if type(text) is not str or len(text) != 24 or text[-1] != "Z" or text[19] != "." \
                or text[10] != "T":
            raise invalid("bad_date", "virtual_db contains a malformed $date")
        try:
            value = datetime.fromisoformat(text[:-1])
        except ValueError:
            value = None
        if value is None or value.tzinfo is not None or iso_millis(value) != text:
            raise invalid("bad_date", "virtual_db contains a malformed $date")
        return value.replace(tzinfo=_UTC) if self.aware else value

    def value(self, v: Any, depth: int) -> Any:
        t = type(v)
        if t is dict:
            return self.dict_(v, depth)
        if t is list:
            return self.list_(v, depth)
        return v

    def document(self, doc: Doc) -> Doc:
        """A top-level document (depth 4 of the blob) walked in place."""
        walked: Doc = self.dict_(doc, 4)
        return walked

    def dict_(self, d: Doc, depth: int) -> Any:
        if depth > self.max_depth:
            raise invalid("too_deep", "virtual_db JSON is nested too deeply")
        if len(d) == 1:
            if "$date" in d:
                return self.date(d["$date"])
            if "$esc" in d:
                inner = d["$esc"]
                if type(inner) is not dict or len(inner) != 1 or next(iter(inner)) not in _TAGS:
                    raise invalid("bad_escape", "virtual_db contains a malformed $esc")
                if depth + 1 > self.max_depth:
                    raise invalid("too_deep", "virtual_db JSON is nested too deeply")
                key = next(iter(inner))
                return {key: self.value(inner[key], depth + 2)}
        for k, v in d.items():
            if "\x00" in k:
                raise invalid("nul_in_key", "virtual_db contains a field name with NUL")
            t = type(v)
            if t is dict:
                d[k] = self.dict_(v, depth + 1)
            elif t is list:
                d[k] = self.list_(v, depth + 1)
        return d

    def list_(self, items: list[Any], depth: int) -> list[Any]:
        if depth > self.max_depth:
            raise invalid("too_deep", "virtual_db JSON is nested too deeply")
        for i, v in enumerate(items):
            t = type(v)
            if t is dict:
                items[i] = self.dict_(v, depth + 1)
            elif t is list:
                items[i] = self.list_(v, depth + 1)
        return items


def parse_json(decoder: msgspec.json.Decoder[Any], raw: Any, reason: str, message: str) -> Any:
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        raise invalid(reason, message) from None
    except (msgspec.DecodeError, RecursionError):
        raise invalid("invalid_json", "virtual_db is not valid JSON") from None


def top_level(data: bytes) -> dict[str, Any]:
    top = parse_json(_RAW_MAP, data, "bad_top_level", "virtual_db must be a JSON object")
    if set(top) != {"format", "version", "collections"}:
        raise invalid("bad_top_level", "virtual_db must have exactly format, version, collections")
    fmt = parse_json(_ANY_DECODER, top["format"], "bad_format_version", "bad format")
    version = parse_json(_ANY_DECODER, top["version"], "bad_format_version", "bad version")
    if fmt != FORMAT or type(version) is not int or version != VERSION:
        raise invalid("bad_format_version", "virtual_db format or version is not supported")
    collections: dict[str, Any] = parse_json(_RAW_MAP, top["collections"], "bad_collections",
                                             "virtual_db collections must be an object")
    for name in collections:
        if name not in VIRTUAL_COLLECTIONS:
            raise invalid("unknown_collection", f"virtual_db collection '{name}' is not allowed")
    return collections


def decode_document(raw: Any, decoder: TagDecoder) -> Doc:
    """One document: msgspec decoding plus, when provably enough, only top-level `$date`s.

    The exact walk runs whenever the bytes hold more `"$` than top-level tags, any `\\u`
    escape (a `$` or NUL could hide there), or more brackets than the depth budget.
    """
    data = memoryview(raw).tobytes()
    doc: Doc = parse_json(DOC_DECODER, data, "bad_document", "virtual_db documents must be objects")
    tags = 0
    for key, value in doc.items():
        if key[:1] == "$":
            raise invalid("dollar_top_level_key",
                          "virtual_db document field names may not start with $")
        if type(value) is dict and len(value) == 1 and ("$date" in value or "$esc" in value):
            tags += 1
    if (data.count(b'"$') != tags or b"\\u" in data
            or data.count(b"{") + data.count(b"[") > decoder.max_depth - 3):
        return decoder.document(doc)
    for key, value in doc.items():
        if type(value) is dict and len(value) == 1 and "$date" in value:
            doc[key] = decoder.date(value["$date"])
    return doc


def decode_json(data: bytes, *, max_depth: int = 100, aware: bool = True) -> dict[str, list[Doc]]:
    """Parse and validate `J` (BLOB-6); datetimes are aware UTC unless `aware` is False."""
    if max_depth < 4:
        raise invalid("too_deep", "virtual_db JSON is nested too deeply")
    decoder = TagDecoder(max_depth, aware)
    out: dict[str, list[Doc]] = {}
    for name, raw_docs in top_level(data).items():
        docs = parse_json(RAW_LIST, raw_docs, "bad_collection",
                      f"virtual_db collection '{name}' must be an array")
        if len(docs) > MAX_DOCUMENTS:
            raise invalid("too_many_documents", f"virtual_db collection '{name}' is too large")
        out[name] = [decode_document(raw, decoder) for raw in docs]
    validate_collections(out)
    return out

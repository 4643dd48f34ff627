"""Blob v2, append-only (issue 13): later gzip members carry what a request changed.

A v2 blob is a v1 blob (one gzip member holding the snapshot `J` of BLOB-1, version 1) followed
by up to `MAX_MEMBERS - 1` *delta* members, each a gzip member of

    {"format": "workflow-engine-virtual-db", "version": 2,
     "collections": {<name>: [<document>, ...]}, "deleted": {<name>: [[<key value>, ...], ...]}}

applied in order: first `deleted` removes the documents with those primary keys (BLOB-1's sort
key: events by `(workflow_run_id, sequence)`, else the collection's first unique key), then each
document of `collections` replaces the document with its key in place or, new, is appended. The
merged collections then pass every BLOB-3…6 check of a v1 blob, and every limit holds for the
blob as a whole (inflated bytes over all members, documents per collection, depth). gzip
members concatenate, so a response's blob is the request's blob plus one member: O(change).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import zlib
from typing import Any

import msgspec

from db.blob_decode import (
    DOC_DECODER,
    FORMAT,
    GZIP_MAGIC,
    MAX_DOCUMENTS,
    MAX_MEMBERS,
    RAW_LIST,
    VERSION,
    ZSTD_MAGIC,
    b64_chunks,
    decode_json,
    inflate,
    invalid,
    parse_json,
    primary_fields,
    top_level,
)
from db.indexes import VIRTUAL_COLLECTIONS
from engine.errors import VirtualDbTooLarge

Doc = dict[str, Any]
DELTA_VERSION = 2
HEAD = (b'{"format":' + msgspec.json.encode(FORMAT) + b',"version":' + str(VERSION).encode()
        + b',"collections":{')


class _Delta(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    collections: dict[str, msgspec.Raw] = {}
    deleted: dict[str, list[list[Any]]] = {}


_DELTA = msgspec.json.Decoder(_Delta)


def key_part(value: Any) -> Any:
    """A hashable stand-in for one key field's value (objects and arrays by their JSON)."""
    if isinstance(value, (dict, list)):
        return ("json", msgspec.json.encode(value, order="sorted"))
    return value


class Collection:
    """One collection being merged: each document's exact JSON and its parsed form, in order."""

    def __init__(self, name: str, exact: list[bytes], parsed: list[Doc]) -> None:
        self.name = name
        self.exact: list[bytes | None] = list(exact)
        self.parsed: list[Doc | None] = list(parsed)
        self.fields = primary_fields(name)
        self._index: dict[Any, int] | None = None

    def index(self) -> dict[Any, int]:
        if self._index is None:
            fields = self.fields or ()
            self._index = {tuple(key_part(doc.get(f)) for f in fields): i
                           for i, doc in enumerate(self.parsed) if doc is not None}
        return self._index

    def delete(self, key: tuple[Any, ...]) -> int:
        at = self.index().pop(key, None)
        old = None if at is None else self.exact[at]
        if at is None or old is None:
            raise invalid("bad_delta", f"virtual_db deletes a missing {self.name} document")
        self.exact[at] = self.parsed[at] = None
        return len(old)

    def upsert(self, raw: bytes, doc: Doc) -> int:
        """Replace the document with the same key (its size is returned: now dead) or append."""
        if self.fields is not None:
            key = tuple(key_part(doc.get(f)) for f in self.fields)
            index = self.index()
            at = index.get(key)
            if at is not None:
                old = self.exact[at]
                self.exact[at], self.parsed[at] = raw, doc
                return len(old or b"")
            index[key] = len(self.exact)
        self.exact.append(raw)
        self.parsed.append(doc)
        return 0

    def documents(self) -> tuple[list[bytes], list[Doc]]:
        exact = [raw for raw in self.exact if raw is not None]
        if len(exact) > MAX_DOCUMENTS:
            raise invalid("too_many_documents", f"virtual_db collection '{self.name}' is too large")
        return exact, [doc for doc in self.parsed if doc is not None]


def parse_documents(name: str, array: Any) -> tuple[list[bytes], list[Doc]]:
    items = parse_json(RAW_LIST, array, "bad_collection",
                       f"virtual_db collection '{name}' must be an array")
    if len(items) > MAX_DOCUMENTS:
        raise invalid("too_many_documents", f"virtual_db collection '{name}' is too large")
    exact = [bytes(item) for item in items]
    return exact, [parse_json(DOC_DECODER, item, "bad_document",
                              "virtual_db documents must be objects") for item in exact]


def apply_delta(collections: dict[str, Collection], data: bytes) -> int:
    """Apply one delta member in place; returns the bytes of documents it made dead."""
    try:
        delta = _DELTA.decode(data)
    except msgspec.ValidationError:
        raise invalid("bad_delta", "a later virtual_db member must be a version 2 delta") from None
    except (msgspec.DecodeError, RecursionError):
        raise invalid("invalid_json", "virtual_db is not valid JSON") from None
    if delta.format != FORMAT or delta.version != DELTA_VERSION:
        raise invalid("bad_delta", "a later virtual_db member must be a version 2 delta")
    for name in (*delta.deleted, *delta.collections):
        if name not in VIRTUAL_COLLECTIONS:
            raise invalid("unknown_collection", f"virtual_db collection '{name}' is not allowed")
    dead = 0
    for name, keys in delta.deleted.items():
        coll = collections.get(name)
        fields = primary_fields(name)
        if fields is None or len(keys) > MAX_DOCUMENTS:
            raise invalid("bad_delta", f"virtual_db cannot delete from '{name}'")
        for key in keys:
            if coll is None or len(key) != len(fields):
                raise invalid("bad_delta", f"virtual_db deletes a missing {name} document")
            dead += coll.delete(tuple(key_part(v) for v in key))
    for name, array in delta.collections.items():
        exact, parsed = parse_documents(name, array)
        coll = collections.get(name)
        if coll is None:
            coll = collections[name] = Collection(name, [], [])
        for raw, doc in zip(exact, parsed):
            dead += coll.upsert(raw, doc)
    return dead


def merge(members: list[bytes],
          base: dict[str, tuple[list[bytes], list[Doc]]]) -> tuple[dict[str, Collection], int]:
    """The base member's parsed collections with every later member applied; dead bytes."""
    collections = {name: Collection(name, exact, parsed) for name, (exact, parsed) in base.items()}
    dead = 0
    for data in members[1:]:
        dead += apply_delta(collections, data)
    return collections, dead


def merged_json(members: list[bytes]) -> bytes:
    """The v1 `J` a multi-member blob stands for (the document-by-document decoder reads it)."""
    base = {name: parse_documents(name, array) for name, array in top_level(members[0]).items()}
    collections, _ = merge(members, base)
    parts = []
    for name in sorted(collections):
        exact, _docs = collections[name].documents()
        if exact:
            parts.append(b'"' + name.encode() + b'":[' + b",".join(exact) + b"]")
    return HEAD + b",".join(parts) + b"}}"


def delta_json(collections: dict[str, list[bytes]], deleted: dict[str, list[list[Any]]]) -> bytes:
    """One delta member's JSON from documents' exact blob JSON and deleted primary keys."""
    parts = [b'"' + name.encode() + b'":[' + b",".join(raws) + b"]"
             for name, raws in collections.items() if raws]
    return (b'{"format":' + msgspec.json.encode(FORMAT) + b',"version":'
            + str(DELTA_VERSION).encode() + b',"collections":{' + b",".join(parts) + b'},'
            + b'"deleted":' + msgspec.json.encode(deleted) + b"}")


def decode_blob(text: str | bytes, *, max_encoded_bytes: int, max_decompressed_bytes: int,
                max_depth: int = 100, aware: bool = True) -> dict[str, list[Doc]]:
    """Untrusted blob text → validated collections, or InvalidVirtualDb / VirtualDbTooLarge."""
    if len(text) > max_encoded_bytes:
        raise VirtualDbTooLarge("virtual_db exceeds the encoded size limit",
                                details={"encoded_bytes": len(text), "limit": max_encoded_bytes})
    chunks = b64_chunks(text)
    head = next(chunks, b"")
    if head[:2] == GZIP_MAGIC:
        members = inflate(itertools.chain((head,), chunks), max_decompressed_bytes, MAX_MEMBERS)
    elif head[:4] == ZSTD_MAGIC:
        raise invalid("unsupported_format", "unsupported blob format (zstd is reserved)")
    else:
        raise invalid("unrecognised_format", "unrecognised blob format")
    if len(members) == 1:
        return decode_json(members[0], max_depth=max_depth, aware=aware)
    return decode_json(merged_json(members), max_depth=max_depth, aware=aware)


def blob_json(text: str | bytes, max_decompressed_bytes: int = 67_108_864) -> bytes:
    """The v1 `J` of any accepted blob, v1 or v2, undecoded (tests, tools, bounded as BLOB-5)."""
    members = inflate(b64_chunks(text), max_decompressed_bytes, MAX_MEMBERS)
    return members[0] if len(members) == 1 else merged_json(members)


def gzip_member(data: bytes, level: int) -> bytes:
    """One gzip member (mtime 0, so the same bytes make the same member)."""
    z = zlib.compressobj(level, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def append_member(text: str, member: bytes) -> str:
    """The blob text `text` with one more gzip member: base64 of the concatenation, computed by
    re-encoding only the last (padded) group of `text`."""
    if text.endswith("="):
        tail = binascii.a2b_base64(text[-4:])
        return text[:-4] + base64.b64encode(tail + member).decode("ascii")
    return text + base64.b64encode(member).decode("ascii")

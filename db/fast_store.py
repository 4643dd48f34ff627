"""`FastVirtualStore`: the virtual store on `MemoryExecutor`, with a splicing blob codec.

Same contract as `VirtualStore` (storage.md §5, BLOB-1…BLOB-8, the store contract suite) and
the same bytes out for the same content, but built for the per-keystroke cost of the editor:

- import decodes each blob document once (BLOB-3…6 checks of db/blob.py, reused) and keeps
  its exact JSON next to it; the first reader of a document gets the decoded object itself;
- export sorts lightweight skeletons and splices each document's JSON into `J` — documents
  the request did not touch are never re-encoded;
- `writes` counts changing writes after loading, so a call that wrote nothing can answer with
  its input blob byte for byte (VS-3, VS-5, VS-10).
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import datetime, timezone
from typing import Any

import msgspec

from db.blob import (
    blob_within_limits,
    FORMAT,
    GZIP_MAGIC,
    MAX_DOCUMENTS,
    VERSION,
    ZSTD_MAGIC,
    BlobLimits,
    _b64_chunks,
    _DOC_DECODER,
    _decode_document,
    _parse,
    _RAW_LIST,
    _rank,
    _sort_fields,
    _TagDecoder,
    _top_level,
    inflate,
    invalid,
)
from db.blob_checks import validate_collections
from db.indexes import VIRTUAL_COLLECTIONS, create_indexes
from db.memory_executor import MemoryExecutor
from db.store_impl import QueryStore
from db.virtual_store import VIRTUAL_USER_ID, virtual_user
from engine.errors import ConcurrentModification, InvalidVirtualDb, VirtualDbTooLarge
from engine.jsonutil import canonical_json

Doc = dict[str, Any]
_ORDER = tuple(sorted(VIRTUAL_COLLECTIONS))
_PLAIN = msgspec.json.Decoder()
_HEAD = b'{"format":' + msgspec.json.encode(FORMAT) + b',"version":' + str(VERSION).encode() \
    + b',"collections":{'


_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')


def depth_at_most(data: bytes, limit: int) -> bool:
    """True when JSON text nests at most `limit` levels, in C-speed passes.

    Escaped backslashes and quotes are removed, everything but quotes and brackets dropped,
    string contents (every other run between quotes) deleted, and then innermost `{}`/`[]`
    pairs peeled off one level per pass: text of depth d is empty after exactly d passes.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(data.translate(None, _QUOTE_OR_BRACKET).split(b'"')[0::2])
    for _ in range(limit):
        if not brackets:
            return True
        brackets = brackets.replace(b"{}", b"\x00").replace(b"[]", b"\x00").replace(b"\x00", b"")
    return not brackets


class _Top(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    collections: dict[str, msgspec.Raw]


_TOP = msgspec.json.Decoder(_Top)


def _split(data: bytes) -> dict[str, Any]:
    """Collections as raw arrays: one typed pass for a well-formed blob, else db.blob's
    step-by-step parse, which raises the precise `invalid_virtual_db` reason."""
    try:
        top = _TOP.decode(data)
    except (msgspec.DecodeError, RecursionError):
        top = None
    if top is not None and top.format == FORMAT and top.version == VERSION \
            and all(name in VIRTUAL_COLLECTIONS for name in top.collections):
        return top.collections
    return _top_level(data)


def _top_tags(doc: Doc) -> int:
    tags = 0
    for key, value in doc.items():
        if key[:1] == "$":
            raise invalid("dollar_top_level_key",
                          "virtual_db document field names may not start with $")
        if type(value) is dict and len(value) == 1 and ("$date" in value or "$esc" in value):
            tags += 1
    return tags


def _finish(doc: Doc, data: bytes, decoder: _TagDecoder, tags: int) -> Doc:
    """db.blob's per-document rule on an already parsed document (the careful path)."""
    if (data.count(b'"$') != tags or b"\\u" in data
            or data.count(b"{") + data.count(b"[") > decoder.max_depth - 3):
        return decoder.dict_(doc, 4)
    return _dates(doc, decoder)


def _tag_keys(data: bytes) -> int:
    """Occurrences of the two tag keys: when they are all top-level tags, nothing nested needs
    the tag walk (other `$` names, e.g. in stored pipelines, are plain data, ST-4)."""
    return data.count(b'"$date"') + data.count(b'"$esc"')


def _finish_simple(doc: Doc, data: bytes, decoder: _TagDecoder) -> Doc:
    """The whole text has no nested tags and no escapes: only depth and top-level `$date`s."""
    budget = decoder.max_depth - 3
    if data.count(b"{") + data.count(b"[") > budget and not depth_at_most(data, budget):
        return decoder.dict_(doc, 4)  # raises too_deep exactly as db.blob does
    return _dates(doc, decoder)


_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_UTC = timezone.utc


def _date(text: Any, decoder: _TagDecoder) -> datetime:
    """`decoder.date` for the canonical text form, without its round-trip check: with ASCII
    digits in exactly these places, a successful parse is the round trip. Anything else (and
    any parse failure) goes through db.blob's own check, which raises where it raises."""
    if type(text) is str and _DATE_TEXT.fullmatch(text):
        try:
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=_UTC)
        except ValueError:
            pass
    return decoder.date(text)


def _dates(doc: Doc, decoder: _TagDecoder) -> Doc:
    for key, value in doc.items():
        if type(value) is dict and len(value) == 1 and "$date" in value:
            doc[key] = _date(value["$date"], decoder)
    return doc


def decode_with_raw(text: str | bytes, limits: BlobLimits) -> tuple[dict[str, list[Doc]],
                                                                     dict[str, list[bytes]]]:
    """`db.blob.decode_blob` (same acceptance, same errors) that also keeps each document's JSON.

    The nested-tag and escape checks db.blob makes per document are made once per collection;
    only the documents of a collection that fails one take db.blob's per-document route. Depth is measured exactly (not estimated from a bracket count) for large documents,
    and a document over the limit goes through db.blob's walk, which raises where it raises.
    """
    if len(text) > limits.max_encoded_bytes:
        raise VirtualDbTooLarge("virtual_db exceeds the encoded size limit",
                                details={"encoded_bytes": len(text),
                                         "limit": limits.max_encoded_bytes})
    chunks = _b64_chunks(text)
    head = next(chunks, b"")
    if head[:2] == GZIP_MAGIC:
        data = inflate(itertools.chain((head,), chunks), limits.max_decompressed_bytes)
    elif head[:4] == ZSTD_MAGIC:
        raise invalid("unsupported_format", "unsupported blob format (zstd is reserved)")
    else:
        raise invalid("unrecognised_format", "unrecognised blob format")
    if limits.max_depth < 4:
        raise invalid("too_deep", "virtual_db JSON is nested too deeply")
    decoder = _TagDecoder(limits.max_depth, True)
    docs: dict[str, list[Doc]] = {}
    raws: dict[str, list[bytes]] = {}
    for name, array in _split(data).items():
        items = _parse(_RAW_LIST, array, "bad_collection",
                       f"virtual_db collection '{name}' must be an array")
        if len(items) > MAX_DOCUMENTS:
            raise invalid("too_many_documents", f"virtual_db collection '{name}' is too large")
        exact = raws[name] = [bytes(item) for item in items]
        parsed = [_parse(_DOC_DECODER, item, "bad_document",
                         "virtual_db documents must be objects") for item in exact]
        tags = [_top_tags(doc) for doc in parsed]
        whole = memoryview(array).tobytes()
        total = sum(tags)
        if (whole.count(b'"$') == total or _tag_keys(whole) == total) and b"\\u" not in whole:
            docs[name] = [_finish_simple(doc, item, decoder) for doc, item in zip(parsed, exact)]
        else:
            docs[name] = [_finish(doc, item, decoder, t) for doc, item, t in zip(parsed, exact, tags)]
    validate_collections(docs)
    return docs, raws


def _sort_key(name: str) -> Any:
    """BLOB-1 order on skeletons: the same keys `db.blob.sort_documents` uses."""
    fields = _sort_fields(name)
    if fields is None:
        return None
    if len(fields) == 1:
        field = fields[0]
        return lambda item: _rank(item[0].get(field))
    return lambda item: tuple(_rank(item[0].get(f)) for f in fields)


class FastVirtualStore(QueryStore):
    def __init__(self) -> None:
        self._mem = MemoryExecutor()
        self._writes_at_load = 0
        super().__init__(self._mem)

    @property
    def writes(self) -> int:
        """Changing writes since loading finished (0: the input blob is still exact)."""
        return self._mem.writes - self._writes_at_load

    # ---- loading (ST-14)

    def _finish_load(self, now: datetime, validated: bool = False) -> None:
        self._mem.loading_validated(validated)
        try:
            create_indexes(self._mem, VIRTUAL_COLLECTIONS)
        except ConcurrentModification:
            raise InvalidVirtualDb("invalid virtual_db: a unique key is duplicated",
                                   details={"reason": "duplicate_key"}) from None
        finally:
            self._mem.loading_validated(False)
        if self._mem.find_one("users", {"user_id": VIRTUAL_USER_ID},
                              projection={"user_id": 1, "_id": 0}) is None:
            self._mem.insert_one("users", virtual_user(now))
        self._writes_at_load = self._mem.writes

    @classmethod
    def fresh(cls, now: datetime) -> "FastVirtualStore":
        store = cls()
        store._finish_load(now)
        return store

    @classmethod
    def from_blob(cls, text: str, limits: BlobLimits, now: datetime,
                  timings: dict[str, float] | None = None) -> "FastVirtualStore":
        """Decode and validate (BLOB-3…6), then load; `timings` gets both phases (bench)."""
        started = time.perf_counter()
        docs, raws = decode_with_raw(text, limits)
        decoded = time.perf_counter()
        store = cls()
        for name in _ORDER:
            if docs.get(name):
                store._mem.load_decoded(name, docs[name], raws[name])
        store._finish_load(now, validated=True)
        if timings is not None:
            timings["decode"] = timings.get("decode", 0.0) + decoded - started
            timings["load"] = timings.get("load", 0.0) + time.perf_counter() - decoded
        return store

    # ---- export (BLOB-1)

    def _ordered_raws(self, name: str) -> list[bytes]:
        items = list(self._mem.records(name))
        key = _sort_key(name)
        if key is None:
            items.sort(key=lambda item: canonical_json(_PLAIN.decode(item[1])))
        else:
            items.sort(key=key)
        return [raw for _skel, raw in items]

    def to_json(self) -> bytes:
        parts: list[bytes] = []
        for name in _ORDER:
            raws = self._ordered_raws(name)
            if raws:
                parts.append(b'"' + name.encode() + b'":[' + b",".join(raws) + b"]")
        return _HEAD + b",".join(parts) + b"}}"

    def export(self) -> dict[str, list[Doc]]:
        """Non-empty collections as documents, in the blob's order (tests and tools)."""
        out: dict[str, list[Doc]] = {}
        for name in _ORDER:
            raws = self._ordered_raws(name)
            if raws:
                out[name] = [_decode_document(raw, _TagDecoder(100, True)) for raw in raws]
        return out

    def to_blob(self, gzip_level: int = 4, limits: BlobLimits | None = None) -> str:
        return blob_within_limits(self.to_json(), gzip_level, limits)

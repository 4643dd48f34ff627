"""The records of the in-memory virtual database (db/memory_executor.py): each stored document
kept as its exact blob JSON plus a skeleton of its top-level scalars, so the hot queries match,
sort and project without decoding, and export splices bytes instead of re-encoding."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec

from db import memory_query as mq
from db.blob import encode_document
from db.blob_splice import decode_trusted

Doc = dict[str, Any]
_ENCODER = msgspec.json.Encoder()
_UTC = timezone.utc
# Nested paths copied into the skeleton so the hot queries never decode (ST-9 / §18.1 lookups).
EXTRACTED: dict[str, tuple[str, ...]] = {"events": ("data.interaction_id",)}


def encode_raw(doc: Doc) -> bytes:
    """The blob JSON of one document (same bytes as db.blob's encoder)."""
    return _ENCODER.encode(encode_document(doc, True))


def decode_raw(raw: bytes) -> Doc:
    """A record's document: its JSON was checked when loaded or written by our encoder."""
    return decode_trusted(raw)


class Rec:
    """Never changed once made except `cached` (a write makes a new record). `fresh`: written
    since the blob was loaded. `shared`: held by a cached store (db/fast_store.py) and read by
    any number of requests, so it never keeps a decoded copy: every reader decodes its own."""

    __slots__ = ("cached", "fresh", "nested", "raw", "shared", "skel")

    def __init__(self, coll: str, doc: Doc, raw: bytes, cached: Doc | None,
                 fresh: bool = True) -> None:
        self.raw = raw
        self.cached = cached
        self.fresh = fresh
        self.shared = False
        self.skel, self.nested = skeleton(coll, doc)

    @classmethod
    def loaded(cls, coll: str, doc: Doc, raw: bytes) -> "Rec":
        """A record of a document decoded from a blob (`loaded_skeleton`), keeping it as the
        first reader's copy."""
        rec = cls.__new__(cls)
        rec.raw = raw
        rec.cached = doc
        rec.fresh = False
        rec.shared = False
        rec.skel, rec.nested = loaded_skeleton(coll, doc)
        return rec

    @classmethod
    def stood_in(cls, coll: str, doc: Doc, raw: bytes) -> "Rec":
        """A record of a blob document checked through a stand-in (db/blob_shallow.py): its
        skeleton is the stand-in's (which differs only inside a kept object), and its first
        reader decodes `raw` like any later one."""
        rec = cls.loaded(coll, doc, raw)
        rec.cached = None
        return rec

    def shared_copy(self) -> "Rec":
        """The same document as a loaded, shared record (itself when it is one already)."""
        if self.shared:
            return self
        rec = Rec.__new__(Rec)
        rec.raw, rec.skel, rec.nested = self.raw, self.skel, self.nested
        rec.cached = None
        rec.fresh = False
        rec.shared = True
        return rec

    def full(self) -> Doc:
        """The document for internal use (matching); kept as the private cached copy."""
        if self.cached is None:
            if self.shared:
                return decode_raw(self.raw)
            self.cached = decode_raw(self.raw)
        return self.cached

    def take(self) -> Doc:
        """A document the caller may keep and mutate."""
        doc = self.cached
        if doc is not None:
            self.cached = None
            return doc
        return decode_raw(self.raw)


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


_EXTRACTED_PARTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    coll: tuple((path, tuple(path.split("."))) for path in paths)
    for coll, paths in EXTRACTED.items()}
#: one frozenset per distinct set of nested field names (records of one collection mostly share
#: theirs), so a loaded blob does not hold thousands of equal sets; bounded against odd blobs
_NESTED: dict[tuple[str, ...], frozenset[str]] = {}
_NESTED_MAX = 4096


def nested_set(names: list[str]) -> frozenset[str]:
    key = tuple(names)
    found = _NESTED.get(key)
    if found is None:
        found = frozenset(names)
        if len(_NESTED) < _NESTED_MAX:
            _NESTED[key] = found
    return found


def _extract(coll: str, doc: Doc, skel: Doc) -> None:
    """Put the collection's indexed nested paths (e.g. `data.interaction_id`) in the skeleton:
    a scalar found there, or MISSING."""
    for path, parts in _EXTRACTED_PARTS.get(coll, ()):
        found: Any = doc
        for part in parts:
            found = found.get(part, mq.MISSING) if isinstance(found, dict) else mq.MISSING
        if found is mq.MISSING or mq.is_scalar(found):
            skel[path] = found


def skeleton(coll: str, doc: Doc) -> tuple[Doc, frozenset[str]]:
    skel: Doc = {}
    nested: list[str] = []
    for key, value in doc.items():
        t = type(value)
        if t in _SCALAR_TYPES:
            skel[key] = value
        elif t is datetime:
            if value.tzinfo is not _UTC or value.microsecond % 1000:
                value = mq.utc(value)
            skel[key] = value
        elif key != "_id":
            if mq.is_scalar(value):  # subclasses of the scalar types
                skel[key] = mq.utc(value) if isinstance(value, datetime) else value
            else:
                nested.append(key)
    _extract(coll, doc, skel)
    skel.pop("_id", None)
    return skel, nested_set(nested)


_CONTAINERS = (dict, list)


def loaded_skeleton(coll: str, doc: Doc) -> tuple[Doc, frozenset[str]]:
    """`skeleton` of a document the blob decoder made: its values are JSON values and aware UTC
    datetimes of whole milliseconds (BLOB-2) only, so a copy without the objects and arrays is
    the skeleton (no value needs normalising)."""
    skel = doc.copy()
    nested = [key for key, value in doc.items() if type(value) in _CONTAINERS]
    for key in nested:
        del skel[key]
    if "_id" in skel:
        del skel["_id"]
    elif "_id" in nested:
        nested.remove("_id")
    _extract(coll, doc, skel)
    return skel, nested_set(nested)

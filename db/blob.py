"""Virtual blob codec v1 (storage.md §4, BLOB-1…BLOB-8): the codec's public face.

The blob is untrusted client input; decoding (db/blob_decode.py) bounds every step of it.
Encoding is deterministic (gzip mtime 0, stable document order) so an unchanged database
always exports to the same bytes (BLOB-7). Key order inside documents is preserved, not sorted:
it is meaningful in stored pipelines (`$sort` specs) and mongomock keeps it.
"""

from __future__ import annotations

import base64
import gzip
import io
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import msgspec

from db.blob_decode import (
    FORMAT,
    MAX_DOCUMENTS,
    MAX_MEMBERS,
    VERSION,
    BlobLimits,
    TagDecoder,
    decode_json,
    inflate,
    invalid,
    iso_millis,
    primary_fields,
)
from db.blob_decode import decode_document as _decode_with
from db.blob_members import blob_json, decode_blob
from db.blob_splice import decode_with_raw
from db.indexes import VIRTUAL_COLLECTIONS
from engine.errors import VirtualDbTooLarge
from engine.jsonutil import canonical_json

__all__ = ["FORMAT", "MAX_DOCUMENTS", "MAX_MEMBERS", "VERSION", "BlobLimits", "blob_json",
           "blob_within_limits",
           "compress",
           "decode_blob", "decode_document", "decode_json", "decode_with_raw", "encode_blob",
           "encode_document", "encode_json", "export_sort_key", "inflate", "invalid",
           "sort_documents"]

Doc = dict[str, Any]
_UTC = timezone.utc
_SCALARS = frozenset({str, int, float, bool, type(None)})
_JSON_ENCODER = msgspec.json.Encoder()
# Outside strings JSON never has a digit next to ":", so "digit:digit" marks possible time text.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_DEFAULT_DECODER = TagDecoder(max_depth=100, aware=True)


def decode_document(raw: Any, max_depth: int = 100, aware: bool = True) -> Doc:
    """One document's blob JSON back to a store document (BLOB-3…6 checks included)."""
    decoder = _DEFAULT_DECODER if max_depth == 100 and aware else TagDecoder(max_depth, aware)
    return _decode_with(raw, decoder)


# ---- encoding (BLOB-1, BLOB-2)

def _needs_walk(data: bytes) -> bool:
    """True when encoded JSON may hold a datetime (msgspec writes `"…HH:MM:SS…"`) or a tag."""
    return (b'{"$date"' in data or b'{"$esc"' in data
            or b"0:0" in data.translate(_DIGITS_TO_ZERO))


def _enc_value(value: Any) -> Any:
    t = type(value)
    if t in _SCALARS:
        return value
    if t is dict:
        return _enc_dict(value)
    if t is list:
        return [v if type(v) in _SCALARS else _enc_value(v) for v in value]
    if isinstance(value, datetime):
        return {"$date": iso_millis(value)}
    if isinstance(value, dict):
        return _enc_dict(dict(value))
    if isinstance(value, (list, tuple)):
        return [_enc_value(v) for v in value]
    if isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"value of type {type(value).__name__} cannot be exported to a blob")


def _enc_dict(doc: Doc) -> Doc:
    if len(doc) == 1:
        key = next(iter(doc))
        if key == "$date" or key == "$esc":
            return {"$esc": {key: _enc_value(doc[key])}}
    return {k: v if type(v) in _SCALARS else _enc_value(v) for k, v in doc.items()}


def encode_document(doc: Doc, fast: bool = True) -> Doc:
    """One top-level document in blob form, without `_id` (ST-2).

    With `fast`, a sub-document that provably holds no datetime and no tag-like object is
    embedded as msgspec-encoded `Raw` JSON instead of being walked in Python; anything that
    merely looks like a datetime or a tag takes the exact walk. Same bytes either way.
    """
    out: Doc = {}
    for key, value in doc.items():
        if key == "_id":
            continue
        t = type(value)
        if t in _SCALARS:
            out[key] = value
        elif fast and (t is dict or t is list):
            try:
                data: bytes | None = _JSON_ENCODER.encode(value)
            except (TypeError, ValueError, msgspec.EncodeError, OverflowError):
                data = None
            if data is not None and not _needs_walk(data):
                out[key] = msgspec.Raw(data)
            else:
                out[key] = _enc_value(value)
        else:
            out[key] = _enc_value(value)
    return out


def _rank(value: Any) -> tuple[int, Any]:
    """Total order over key components that may be null or of mixed types."""
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, canonical_json(value))


def _sort_fields(collection: str) -> tuple[str, ...] | None:
    """BLOB-1: events by (run, sequence); else the id field, else the first unique key."""
    return primary_fields(collection)


def sort_documents(collection: str, docs: list[Doc]) -> list[Doc]:
    fields = _sort_fields(collection)
    if fields is None:
        return sorted(docs, key=canonical_json)
    if len(fields) == 1:
        f = fields[0]
        if all(type(d.get(f)) is str for d in docs):
            return sorted(docs, key=lambda d: d[f])
    # The fields form a unique key, so there are no ties to break.
    return sorted(docs, key=lambda d: tuple(_rank(d.get(f)) for f in fields))


def encode_json(collections: dict[str, Iterable[Doc]]) -> bytes:
    """The JSON text `J` of BLOB-1 from raw store documents (datetimes aware or naive UTC)."""
    out: dict[str, list[Doc]] = {}
    for name in sorted(collections):
        if name not in VIRTUAL_COLLECTIONS:
            continue
        fast = _sort_fields(name) is not None  # canonical-JSON sorting needs plain values
        docs = [encode_document(d, fast) for d in collections[name]]
        if docs:
            out[name] = sort_documents(name, docs)
    return msgspec.json.encode({"format": FORMAT, "version": VERSION, "collections": out})


def compress(data: bytes, gzip_level: int = 4) -> str:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=gzip_level, mtime=0) as gz:
        gz.write(data)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def encode_blob(collections: dict[str, Iterable[Doc]], gzip_level: int = 4) -> str:
    return compress(encode_json(collections), gzip_level)


def export_sort_key(name: str) -> Any:
    """The BLOB-1 order of `sort_documents` as a key on `(skeleton, raw)` pairs (the splicing
    export sorts lightweight skeletons); None: sort by canonical JSON."""
    fields = _sort_fields(name)
    if fields is None:
        return None
    if len(fields) == 1:
        field = fields[0]
        return lambda item: _rank(item[0].get(field))
    return lambda item: tuple(_rank(item[0].get(f)) for f in fields)


def blob_within_limits(data: bytes, gzip_level: int, limits: BlobLimits | None) -> str:
    """Compress exported JSON; over a limit raises VirtualDbTooLarge with the sizes (VS-7)."""
    if limits is not None and len(data) > limits.max_decompressed_bytes:
        raise VirtualDbTooLarge("virtual_db would exceed the decompressed size limit",
                                details={"decompressed_bytes": len(data),
                                         "limit": limits.max_decompressed_bytes})
    text = compress(data, gzip_level)
    if limits is not None and len(text) > limits.max_encoded_bytes:
        raise VirtualDbTooLarge("virtual_db would exceed the encoded size limit",
                                details={"encoded_bytes": len(text),
                                         "limit": limits.max_encoded_bytes})
    return text
